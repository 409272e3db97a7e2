"""The codec's arithmetic is the same everywhere: a real model's one-pass window and its step-by-step decoding
give bit-identical distributions at every position, and a file written with two threads, AVX-512 kernels and
three streams stepped together decodes with one thread, AVX2 kernels, and the streams one at a time, while the
float model's own logits change under the same settings (the control)."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from lm_eval_compression.codec import commands as compress
from lm_eval_compression.engine.windows import Window
from tests.codec.test_compress import DOCS
from tests.support.cli import REPO, offline_env

pytestmark = [pytest.mark.real_model, pytest.mark.slow]


def one_pass(coder, inputs: list[int], n_scored: int) -> np.ndarray:
    """The encoder's rows: the whole window in one forward pass, the scored rows' distributions."""
    cache = coder.model.new_cache(1, coder.max_len)
    hidden = coder.model.forward(torch.tensor([inputs]), cache, [0], [0])
    return coder.model.probabilities(hidden[len(inputs) - n_scored :]).numpy()


def stepped(coder, inputs: list[int], n_scored: int, slot: int, slots: int) -> np.ndarray:
    """The decoder's rows: the context in one pass into cache slot ``slot``, then one token per step."""
    cache = coder.model.new_cache(slots, coder.max_len)
    context = len(inputs) - n_scored + 1
    rows = [coder.model.probabilities(coder.model.forward(torch.tensor([inputs[:context]]), cache, [slot], [0]))[-1:]]
    for p in range(context, len(inputs)):
        rows.append(coder.model.probabilities(coder.model.forward(torch.tensor([[inputs[p]]]), cache, [slot], [p])))
    return torch.cat(rows).numpy()


def test_one_pass_and_step_by_step_distributions_are_bit_identical_on_a_real_window(smollm2):
    _, lm = smollm2
    settings = compress.resolve_windows(lm, 160, 48, "auto")
    coder = compress.window_coder(lm, settings)
    text = " ".join(DOCS[5:9]) * 3
    seq = [coder.prefix] + lm.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(seq) > 210
    first, later = Window(0, 160, 160), Window(210 - 160, 210, 48)  # the first window and a later one
    for window, slot in ((first, 0), (later, 2)):
        inputs = coder._inputs(window, seq)
        encoder_rows = one_pass(coder, inputs, window.n_scored)
        decoder_rows = stepped(coder, inputs, window.n_scored, slot, slots=3)
        assert encoder_rows.shape == (window.n_scored, coder.vocab_size)
        # every bit of every position's distribution, not a tolerance
        assert np.array_equal(encoder_rows.view(np.uint32), decoder_rows.view(np.uint32)), window
        assert np.allclose(encoder_rows.sum(axis=1), 1.0, atol=1e-4)


def other_instruction_set() -> str:
    """An ``ATEN_CPU_CAPABILITY`` other than the one torch picks here."""
    return "avx2" if torch.backends.cpu.get_cpu_capability().startswith("AVX512") else "default"


def decode_elsewhere(path, model_args, threads: int, batch: int, capability: str | None, cache) -> dict:
    env = offline_env({"LM_EVAL_COMPRESSION_CACHE": str(cache)})
    env.pop("ATEN_CPU_CAPABILITY", None)
    if capability is not None:
        env["ATEN_CPU_CAPABILITY"] = capability
    proc = subprocess.run(
        [sys.executable, "-m", "tests.codec.decode_elsewhere", str(path), model_args, str(threads), str(batch)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_file_decodes_under_other_threads_instruction_set_and_batch(smollm2, model_cache_dir, tmp_path):
    model_args, lm = smollm2
    texts = [DOCS[0], DOCS[4][:240], DOCS[10], DOCS[6][:90]]
    corpus = compress.Corpus("jsonl", texts, [f"document {i}" for i in range(len(texts))], "content")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        settings = compress.resolve_windows(lm, 48, 16, "auto")
        data, header, _ = compress.compress_corpus(lm, model_args, corpus, settings, lanes=3)
    finally:
        torch.set_num_threads(before)
    assert header.machine.threads == 2 and header.lanes == 3 and len(header.stream_bytes) == 3
    path = tmp_path / "written-with-2-threads.lmz"
    path.write_bytes(data)
    here = torch.backends.cpu.get_cpu_capability()
    other = other_instruction_set()
    same_isa = decode_elsewhere(path, model_args, threads=1, batch=1, capability=None, cache=model_cache_dir)
    other_isa = decode_elsewhere(path, model_args, threads=2, batch=3, capability=other, cache=model_cache_dir)
    assert header.machine.cpu == here == same_isa["cpu"] and other_isa["cpu"] != here
    assert same_isa["threads"] == 1 and other_isa["threads"] == 2
    for run in (same_isa, other_isa):
        assert run["texts"] == texts
    assert same_isa["steps"] > other_isa["steps"]  # one stream at a time takes more, smaller steps
    # the control: under the other instruction set the float model's logits are not the same bits
    assert same_isa["float_logits"] != other_isa["float_logits"], (here, other)
