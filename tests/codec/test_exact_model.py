"""The exact-arithmetic model on tiny random Llama-family models: a window in one pass, in query chunks, and
step by step (alone or batched with other sequences) gives bit-identical distributions; they stay close to
the float model's own (plain PyTorch); its tables match independent float64 computations."""

import math

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config

from lm_eval_compression.codec import exact_model, exact_ops
from lm_eval_compression.codec.exact_model import ExactLM

SHAPE = dict(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4)


def tiny(config_class, seed=0, **extra):
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config_class(**SHAPE, num_key_value_heads=2, **extra)).eval()
    exact = ExactLM.from_hf(model)
    exact.prepare(80)
    return model, exact


def rows_in_one_pass(exact, ids):
    hidden = exact.forward(ids, exact.new_cache(1, 80), [0], [0])
    return exact.probabilities(hidden)


@pytest.mark.parametrize(
    "config_class, extra",
    [(LlamaConfig, {}), (Qwen2Config, {}), (MistralConfig, {"sliding_window": None}), (LlamaConfig, {"seed": 3})],
    ids=["llama", "qwen2 (q, k, v biases)", "mistral", "llama, other weights"],
)
def test_one_pass_chunks_and_steps_give_the_same_bits(config_class, extra, monkeypatch):
    model, exact = tiny(config_class, **extra)
    ids = torch.randint(0, 300, (1, 70), generator=torch.Generator().manual_seed(1))
    whole = rows_in_one_pass(exact, ids)
    for chunk in (8, 1000):  # the same window in nine query blocks, and in one (as on a GPU)
        monkeypatch.setattr(exact_model, "QUERY_CHUNK", chunk)
        assert torch.equal(rows_in_one_pass(exact, ids), whole)
    cache = exact.new_cache(3, 80)
    rows = [exact.probabilities(exact.forward(ids[:, :20], cache, [2], [0]))]
    for p in range(20, 70):
        rows.append(exact.probabilities(exact.forward(ids[:, p : p + 1], cache, [2], [p])))
    assert torch.equal(torch.cat(rows), whole)
    # the float model, plain PyTorch: the quantised arithmetic is close to it
    with torch.no_grad():
        reference = torch.softmax(model(ids).logits[0].double(), dim=-1)
    assert (whole.double() - reference).abs().max() < 1e-3
    bits = -(reference * torch.log2(whole.double())).sum(-1) + (reference * torch.log2(reference)).sum(-1)
    assert bits.max() < 1e-3  # KL divergence in bits per token


def test_steps_batched_with_other_sequences_give_the_same_bits():
    _, exact = tiny(LlamaConfig)
    ids = torch.randint(0, 300, (3, 40), generator=torch.Generator().manual_seed(2))
    lengths = [12, 5, 9]
    alone, together = exact.new_cache(3, 80), exact.new_cache(3, 80)
    for slot, n in enumerate(lengths):
        exact.forward(ids[slot : slot + 1, :n], alone, [slot], [0])
        exact.forward(ids[slot : slot + 1, :n], together, [slot], [0])
    for t in range(25):
        step = torch.stack([ids[slot, n + t] for slot, n in enumerate(lengths)]).view(3, 1)
        batched = exact.probabilities(exact.forward(step, together, [0, 1, 2], [n + t for n in lengths]))
        for slot, n in enumerate(lengths):
            one = exact.probabilities(exact.forward(step[slot : slot + 1], alone, [slot], [n + t]))
            assert torch.equal(batched[slot : slot + 1], one), (t, slot)


def test_the_fixed_shape_step_gives_the_bits_of_forward():
    """``step`` (every slot, attention over the whole cache: what a CUDA graph replays) against ``forward``'s
    step; a slot with nothing to step takes a dummy token at position 0 without touching the others' rows."""
    _, exact = tiny(LlamaConfig)
    ids = torch.randint(0, 300, (3, 40), generator=torch.Generator().manual_seed(4))
    lengths = [12, 5, 9]
    ref, fixed = exact.new_cache(3, 80), exact.new_cache(3, 80)
    for slot, n in enumerate(lengths):
        for cache in (ref, fixed):
            exact.forward(ids[slot : slot + 1, :n], cache, [slot], [0])
    for t in range(20):
        step = torch.stack([ids[slot, n + t] for slot, n in enumerate(lengths)]).view(3, 1)
        positions = torch.tensor([n + t for n in lengths])
        stepping = 3 if t < 10 else 2  # from t = 10 on, slot 2 is idle
        expected = exact.probabilities(
            exact.forward(step[:stepping], ref, [0, 1, 2][:stepping], positions.tolist()[:stepping])
        )
        if stepping == 2:
            step[2], positions[2] = 0, 0
        got = exact.probabilities(exact.step(step, positions, fixed))
        assert torch.equal(got[:stepping], expected), t


def test_the_float64_products_give_the_bits_of_the_int8_products(monkeypatch):
    """Off the CPU a few rows take one float64 product instead of the int8 byte products: the same integers, so
    the same bits for a one-pass window, its steps and the probabilities."""
    _, exact = tiny(LlamaConfig)
    ids = torch.randint(0, 300, (1, 40), generator=torch.Generator().manual_seed(5))

    def window_and_steps():
        cache = exact.new_cache(1, 80)
        rows = [exact.probabilities(exact.forward(ids[:, :30], cache, [0], [0]))]
        rows += [exact.probabilities(exact.forward(ids[:, p : p + 1], cache, [0], [p])) for p in range(30, 40)]
        return torch.cat(rows)

    int8 = window_and_steps()
    monkeypatch.setattr(exact_ops.IntWeight, "_use_int8", lambda self, rows, device: False)
    assert torch.equal(window_and_steps(), int8)


def test_tables_match_independent_float64_values():
    table = exact_ops.integer_table(exact_ops.ATT_BITS, exact_ops.ATT_STEP_BITS, "cpu")
    for k in (0, 1, 1023, 1024, 5000, len(table) - 2):
        assert table[k].item() == math.floor(2 ** (exact_ops.ATT_BITS - k / 1024) + 1e-9)
    assert table[-1].item() == 0
    x = torch.tensor([0.0, 0.25, 1.0, 3.7, 30.0, 63.9, 64.0, math.inf], dtype=torch.float64)
    expected = torch.where(x < 64, torch.pow(2.0, -x), torch.zeros_like(x))
    assert torch.allclose(exact_ops.exp2_neg(x.clone()), expected, rtol=1e-6, atol=0)
    cos, sin = exact_ops.rope_tables(10000.0, 8, 300, "cpu")
    positions = torch.arange(300, dtype=torch.float64).view(-1, 1)
    angles = positions * torch.pow(10000.0, -torch.arange(0, 8, 2, dtype=torch.float64) / 8)
    assert torch.allclose(cos, torch.cos(angles), atol=1e-12) and torch.allclose(sin, torch.sin(angles), atol=1e-12)
    g = torch.linspace(-20, 20, 101, dtype=torch.float64)
    assert torch.allclose(exact_ops.silu(g), torch.nn.functional.silu(g), atol=1e-6)


def test_an_integer_product_is_exact_at_the_extremes():
    weight = torch.tensor([[127.0, -127.0, 127.0], [-127.0, -127.0, -127.0]], dtype=torch.float64)
    w = exact_ops.IntWeight.quantise(weight)
    q = torch.tensor([[32639.0, -32639.0, 32639.0], [-1.0, 0.0, 255.0]], dtype=torch.float64)
    assert torch.equal(w.integer_product(q), q @ weight.T)  # both below 2**53: float64 is exact here
