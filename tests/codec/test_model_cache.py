"""A GGUF model's de-quantised copy: written once, then loaded by the harness's wrapper with the same weights
and tokenizer as the GGUF file itself, so that a second run skips the de-quantisation."""

import time

import pytest
import torch

from lm_eval_compression.codec import commands, model_cache
from tests.codec.test_compress import DOCS

pytestmark = [pytest.mark.real_model, pytest.mark.slow]


def test_the_copy_is_written_once_and_loads_the_same_model(smollm2, model_cache_dir, monkeypatch):
    model_args, gguf_lm = smollm2
    monkeypatch.setenv(model_cache.CACHE_ENV, str(model_cache_dir))
    args = commands.parse_model_args(model_args)
    cached = model_cache.cached_model_args(args)
    assert "gguf_file" not in cached and cached["prefix_token_id"] == args["prefix_token_id"]
    folder = model_cache_dir / "gguf"
    (copy,) = folder.iterdir()
    assert str(copy) == cached["pretrained"] and (copy / model_cache.DONE).is_file()
    assert not [p for p in folder.iterdir() if p != copy]  # no temporary folder left behind
    monkeypatch.setattr(model_cache, "convert_gguf", lambda *a: pytest.fail("converted a second time"))
    assert model_cache.cached_model_args(args) == cached
    start = time.perf_counter()
    lm = commands.load_lm(model_args, "cpu")
    seconds = time.perf_counter() - start
    ours, theirs = lm.model.state_dict(), gguf_lm.model.state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    texts = [d for d in DOCS if d]
    assert lm.tokenizer(texts)["input_ids"] == gguf_lm.tokenizer(texts)["input_ids"]
    assert lm.prefix_token_id == gguf_lm.prefix_token_id and lm.max_length == gguf_lm.max_length
    print(f"\nloaded from the de-quantised copy in {seconds:.1f} s")
