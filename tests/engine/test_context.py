"""BPC by context length against an independent pass: the window geometry and a plain-PyTorch log-softmax
per window (tests/support/reference.py), characters attributed to tokens by a loop over the characters."""

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from lm_eval_compression.engine.context import bucket_of, char_counts
from tests.support.api import evaluate, load_lm, per_doc
from tests.support.reference import document_token_scores, owned_chars, paper_token_scores

BLOCK, STRIDE = 16, 5
TASKS = {"compression_cc": "cc", "compression_python": "python"}


def _docs(corpus_dir, name):
    rows = [json.loads(line) for line in Path(corpus_dir, f"{name}.jsonl").read_text().splitlines()]
    return [r["content"] for r in rows if r["content"]]


def bucket(context: int) -> int:
    b = 0
    while 2 ** (b + 1) <= context:
        b += 1
    return b


def reference_buckets(scores, chars, n_buckets):
    """Per bucket: tokens, -(sum of log-probabilities), characters; ``scores`` as (doc, token, lp, context)."""
    tokens, nats, owned = [0] * n_buckets, [[] for _ in range(n_buckets)], [0] * n_buckets
    for doc, tok, lp, context in scores:
        b = bucket(context)
        tokens[b] += 1
        nats[b].append(-lp)
        owned[b] += chars[doc][tok]
    return tokens, [math.fsum(v) for v in nats], owned


def check_buckets(summary, res, task, tokens, nats, chars, all_chars_scored):
    buckets = summary["context_length"]["buckets"]
    assert [b["min_context"] for b in buckets] == [1, 2, 4, 8, 16]
    assert [b["max_context"] for b in buckets] == [1, 3, 7, 15, 16]
    assert [b["tokens"] for b in buckets] == tokens
    assert [b["chars"] for b in buckets] == chars
    for got, ref, b in zip(buckets, nats, buckets):
        assert got["nats"] == pytest.approx(ref, rel=1e-6, abs=1e-6)
        if b["tokens"]:
            assert got["bits_per_token"] == pytest.approx(ref / b["tokens"] / math.log(2), rel=1e-6)
        if b["chars"]:
            assert got["bpc"] == pytest.approx(ref / b["chars"] / math.log(2), rel=1e-6)
    agg = res["results"][task]
    assert sum(tokens) == agg["scored_tokens,none"]
    assert math.fsum(b["nats"] for b in buckets) == pytest.approx(agg["total_nats,none"], rel=1e-12)
    if all_chars_scored:
        assert sum(chars) == agg["total_chars,none"]


def test_char_counts_tile_the_text():
    assert char_counts([(0, 2), (2, 3), (2, 3), (3, 5)], 6).tolist() == [2, 1, 0, 3]
    assert char_counts([(1, 2), (0, 0), (2, 4)], 4).tolist() == [2, 0, 2]
    values = [1, 2, 3, 4, 7, 8, 15, 16, 1900, 2048]
    assert bucket_of(values).tolist() == [bucket(v) for v in values]


@pytest.mark.parametrize("kind", ["plain", "bos"])
@pytest.mark.parametrize("window_bos", [False, True])
def test_document_buckets_equal_an_independent_pass(tiny_models, corpus_dir, kind, window_bos):
    path = tiny_models[kind]
    meta = {"data_dir": corpus_dir, "block_size": BLOCK, "stride": STRIDE, "window_bos": window_bos}
    res = evaluate(load_lm(path), list(TASKS), meta)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(path)
    for task, name in TASKS.items():
        docs = _docs(corpus_dir, name)
        scores, chars = [], []
        for k, text in enumerate(docs):
            enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
            chars.append(owned_chars(enc["offset_mapping"], len(text)))
            assert sum(chars[-1]) == len(text)
            bos = tok.bos_token_id if window_bos else None
            scored = document_token_scores(model, enc["input_ids"], tok.bos_token_id, BLOCK, STRIDE, bos)
            scores += [(k, i, lp, context) for i, lp, context in scored]
        tokens, nats, owned = reference_buckets(scores, chars, 5)
        check_buckets(res["configs"][task]["compression"], res, task, tokens, nats, owned, True)
        for resp, text in zip(per_doc(res, task), docs):  # per document: buckets add up to its totals
            part = resp["by_context"]
            assert sum(part["tokens"]) == resp["tokens"] and sum(part["chars"]) == len(text)
            assert math.fsum(part["loglikelihood"]) == pytest.approx(resp["loglikelihood"], rel=1e-12)


@pytest.mark.parametrize("kind", ["plain", "bos"])
def test_paper_buckets_equal_an_independent_pass(tiny_models, corpus_dir, kind):
    path = tiny_models[kind]
    meta = {"data_dir": corpus_dir, "block_size": BLOCK, "stride": STRIDE, "protocol": "paper"}
    res = evaluate(load_lm(path), ["compression_cc"], meta)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(path)
    docs = _docs(corpus_dir, "cc")
    encoded = [tok(d, return_offsets_mapping=True) for d in docs]
    chars = [owned_chars(e["offset_mapping"], len(d)) for e, d in zip(encoded, docs)]
    scores = paper_token_scores(model, [e["input_ids"] for e in encoded], BLOCK, STRIDE)
    tokens, nats, owned = reference_buckets(scores, chars, 5)
    summary = res["configs"]["compression_cc"]["compression"]
    check_buckets(summary, res, "compression_cc", tokens, nats, owned, False)
    assert summary["context_length"]["documents"] == len(docs)


class FakeVLLM:
    """Stands in for the harness's vLLM wrapper: prompt log-probability ``-(p / 10 + token / 1000)`` at
    prompt position ``p`` (one dict per position, as vLLM's non-flat layout)."""

    def _model_generate(self, requests, generate, sampling_params):
        return [
            SimpleNamespace(prompt_logprobs=[None] + [{t: -(p / 10 + t / 1000)} for p, t in enumerate(r) if p > 0])
            for r in requests
        ]


def test_vllm_path_fills_the_same_buckets(monkeypatch):
    from lm_eval_compression.engine import vllm_scoring
    from lm_eval_compression.engine.planning import plan_documents
    from lm_eval_compression.engine.settings import WindowSettings

    monkeypatch.setattr(vllm_scoring, "sampling_params", lambda: None)
    block, stride, prefix = 8, 3, 0
    docs = [np.arange(10, 10 + n, dtype=np.int32) for n in (5, 8, 9, 20)]
    chars = [np.full(len(d), 2, dtype=np.int32) for d in docs]
    windows = WindowSettings(block, stride).for_model(False, "test", prefix, None)
    plan = plan_documents(docs, [0, 1, 2, 3], 4, windows, chars)
    point, _ = vllm_scoring.score(FakeVLLM(), plan, windows_in_flight=3)
    want = np.zeros((4, 4))
    for k, ids in enumerate(docs):  # the windows of the document protocol, written out again
        full = [prefix] + ids.tolist()
        a, b = 0, min(block, len(ids))
        while a < len(ids):
            prompt = full[: b + 1] if a == 0 else full[b - block : b + 1]
            for p in range(len(prompt) - (b - a), len(prompt)):
                want[k, bucket(p)] += -(p / 10 + prompt[p] / 1000)
            a, b = b, min(b + stride, len(ids))
    assert np.allclose(point.context, want, rtol=1e-12, atol=1e-12)
    assert np.allclose(point.context.sum(axis=1), point.totals, rtol=1e-12)
    assert (plan.context.chars == 2 * plan.context.tokens).all()


@pytest.mark.parametrize("protocol", ["document", "paper"])
def test_buckets_survive_a_kill_and_resume(request, protocol):
    """A run killed and resumed from --use_cache reports the buckets of an uninterrupted run."""
    runs = request.getfixturevalue(f"{protocol}_resume")
    full = runs["full"][0]["configs"]["compression_cc"]["compression"]["context_length"]
    again = runs["again"][0]["configs"]["compression_cc"]["compression"]["context_length"]
    assert again["documents"] == full["documents"]
    for a, f in zip(again["buckets"], full["buckets"], strict=True):
        assert (a["tokens"], a["chars"], a["context"]) == (f["tokens"], f["chars"], f["context"])
        assert a["nats"] == pytest.approx(f["nats"], rel=1e-9)
