"""``SlotStepper``: every slot stepped at once in fixed shapes gives, for each slot that steps, the rows of the
eager ``forward`` step bit for bit; on a CUDA device the first call captures a CUDA graph and later calls
replay it, with the same rows."""

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig

from lm_eval_compression.codec.exact_model import ExactLM
from lm_eval_compression.codec.step_graph import SlotStepper

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="the CUDA graph needs a CUDA device")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
def test_stepped_slots_get_the_rows_of_forward(device):
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4
    )
    exact = ExactLM.from_hf(AutoModelForCausalLM.from_config(config).eval(), device)
    exact.prepare(64)
    ids = torch.randint(0, 300, (3, 40), generator=torch.Generator().manual_seed(5)).to(device)
    lengths = [10, 4, 7]
    eager, fixed = exact.new_cache(3, 64), exact.new_cache(3, 64)
    for slot, n in enumerate(lengths):
        for cache in (eager, fixed):
            exact.forward(ids[slot : slot + 1, :n], cache, [slot], [0])
    stepper = SlotStepper(exact, fixed)
    assert stepper.use_graph is (device == "cuda")
    for t in range(12):
        stepping = [0, 1, 2] if t < 8 else [0, 2]  # slot 1 idles from t = 8 on: a dummy token at position 0
        tokens = [int(ids[slot, n + t]) for slot, n in enumerate(lengths)]
        positions = [n + t for n in lengths]
        step = torch.tensor([[tokens[s]] for s in stepping], device=device)
        expected = exact.probabilities(exact.forward(step, eager, stepping, [positions[s] for s in stepping]))
        if 1 not in stepping:
            tokens[1], positions[1] = 0, 0
        rows = stepper(tokens, positions)
        assert np.array_equal(rows[stepping], expected.cpu().numpy()), t
    assert (stepper.graph is not None) is (device == "cuda")
