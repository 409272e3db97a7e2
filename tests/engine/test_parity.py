"""The plugin's numbers against independent plain-PyTorch computations and the stock harness path."""

import json
import math
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.support.api import evaluate, load_lm, per_doc
from tests.support.reference import document_loglikelihood, paper_loglikelihoods

REL = 1e-6
# make test-next runs the cases marked versions on the 0.5 pre-release too: one window setting per protocol
# and tokenizer kind, and what goes through the harness's own request and response shapes
ON_BOTH = pytest.mark.versions


def _docs(corpus_dir, name):
    rows = [json.loads(line) for line in Path(corpus_dir, f"{name}.jsonl").read_text().splitlines()]
    return [r["content"] for r in rows if r["content"]]


def _ref_model(path):
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model.eval()
    return model, AutoTokenizer.from_pretrained(path)


def _close(a, b, rel=REL):
    return abs(a - b) <= rel * max(abs(a), abs(b))


@pytest.mark.parametrize("kind", ["plain", "bos"])
@pytest.mark.parametrize("block,stride", [pytest.param(32, 8, marks=ON_BOTH), (24, 24), (16, 1), (20, 7), (256, 64)])
def test_document_protocol_equals_plain_reference(tiny_models, corpus_dir, kind, block, stride):
    path = tiny_models[kind]
    lm = load_lm(path)
    for window_bos in (False, True):
        res = evaluate(
            lm,
            ["compression_cc", "compression_python"],
            {"data_dir": corpus_dir, "block_size": block, "stride": stride, "window_bos": window_bos},
        )
        model, tok = _ref_model(path)
        for task, name in (("compression_cc", "cc"), ("compression_python", "python")):
            got = per_doc(res, task)
            docs = _docs(corpus_dir, name)
            assert len(got) == len(docs)
            total_ref = 0.0
            for resp, text in zip(got, docs):
                tokens = tok(text, add_special_tokens=False)["input_ids"]
                prefix = tok.bos_token_id  # the wrapper's prefix: BOS, else EOS
                ref = document_loglikelihood(
                    model, tokens, prefix, block, stride, bos=tok.bos_token_id if window_bos else None
                )
                assert _close(resp["loglikelihood"], ref), (task, resp, ref)
                assert resp["tokens"] == len(tokens)
                assert resp["window_bos"] is window_bos
                total_ref += ref
            chars = sum(len(t) for t in docs)
            assert _close(res["results"][task]["bpc,none"], -total_ref / chars / math.log(2))


@ON_BOTH
def test_window_bos_auto_follows_the_tokenizer(tiny_models, corpus_dir):
    for kind, expected in (("plain", False), ("bos", True)):
        res = evaluate(
            load_lm(tiny_models[kind]), ["compression_cc"], {"data_dir": corpus_dir, "block_size": 16, "stride": 4}
        )
        summary = res["configs"]["compression_cc"]["compression"]
        assert summary["window_bos"] is expected and summary["window_bos_setting"] == "auto"
        assert ("adds BOS" in summary["window_bos_reason"]) == expected
        assert summary["prefix_token_id"] == 1 and summary["prefix_token"] == "<s>"


@pytest.mark.parametrize("kind", ["plain", "bos"])
@pytest.mark.parametrize("block,stride", [pytest.param(32, 8, marks=ON_BOTH), (24, 24), (20, 7)])
def test_paper_protocol_equals_plain_reference(tiny_models, corpus_dir, kind, block, stride):
    path = tiny_models[kind]
    res = evaluate(
        load_lm(path),
        ["compression_arxiv_math"],
        {"data_dir": corpus_dir, "block_size": block, "stride": stride, "protocol": "paper"},
    )
    model, tok = _ref_model(path)
    docs = _docs(corpus_dir, "arxiv_math")
    total, shares = paper_loglikelihoods(model, [tok(d)["input_ids"] for d in docs], block, stride)
    got = per_doc(res, "compression_arxiv_math")
    assert _close(sum(r["loglikelihood"] for r in got), total)
    for resp, share in zip(got, shares):
        assert _close(resp["loglikelihood"], share) or abs(resp["loglikelihood"] - share) < 1e-9
    agg = res["results"]["compression_arxiv_math"]
    assert _close(agg["total_nats,none"], -total)
    assert _close(agg["bpc,none"], -total / sum(len(d) for d in docs) / math.log(2))


@ON_BOTH
def test_paper_protocol_limit_keeps_the_first_documents(tiny_models, corpus_dir):
    path = tiny_models["plain"]
    res = evaluate(
        load_lm(path),
        ["compression_cc"],
        {"data_dir": corpus_dir, "block_size": 16, "stride": 5, "protocol": "paper"},
        limit=3,
    )
    model, tok = _ref_model(path)
    docs = _docs(corpus_dir, "cc")[:3]
    total, _ = paper_loglikelihoods(model, [tok(d)["input_ids"] for d in docs], 16, 5)
    assert len(per_doc(res, "compression_cc")) == 3
    assert _close(-res["results"]["compression_cc"]["total_nats,none"], total)


@ON_BOTH
def test_stride_equal_block_matches_stock_loglikelihood_rolling(tiny_models, corpus_dir):
    from lm_eval.api.instance import Instance

    from lm_eval_compression.harness import compat

    block = 24
    lm = load_lm(tiny_models["plain"], max_length=block)
    docs = _docs(corpus_dir, "python") + _docs(corpus_dir, "cc")
    # Placement both ways: 0.4 reads the metadata tuple, 0.5 the fields (and accepts the tuple too).
    stock = lm.loglikelihood_rolling(
        [
            Instance(
                request_type="loglikelihood_rolling",
                doc={},
                arguments=compat.rolling_args(d),
                idx=0,
                task_name="stock",
                doc_id=i,
                repeats=1,
                metadata=("stock", i, 1),
            )
            for i, d in enumerate(docs)
        ]
    )
    # 0.4 answers a float per request, 0.5 a (loglikelihood, is_greedy) pair
    stock = [s[0] if isinstance(s, tuple) else s for s in stock]
    res = evaluate(
        lm, ["compression_python", "compression_cc"], {"data_dir": corpus_dir, "block_size": block, "stride": block}
    )
    ours = per_doc(res, "compression_python") + per_doc(res, "compression_cc")
    assert len(ours) == len(stock)
    for o, s in zip(ours, stock):
        assert _close(o["loglikelihood"], s, rel=1e-6)


@pytest.mark.parametrize("batch_size", ["3", "auto"])
def test_results_do_not_depend_on_batch_size(tiny_models, corpus_dir, batch_size):
    meta = {"data_dir": corpus_dir, "block_size": 32, "stride": 8}
    base = evaluate(load_lm(tiny_models["bos"], "1"), ["compression_cc", "compression_python"], meta)
    other = evaluate(load_lm(tiny_models["bos"], batch_size), ["compression_cc", "compression_python"], meta)
    for task in ("compression_cc", "compression_python"):
        for a, b in zip(per_doc(base, task), per_doc(other, task)):
            assert _close(a["loglikelihood"], b["loglikelihood"], rel=1e-5)
        assert other["configs"][task]["compression"]["run"]["batch_size"] == (
            3 if batch_size == "3" else other["configs"][task]["compression"]["run"]["batch_size"]
        )
        assert (
            other["configs"][task]["compression"]["run"]["batches"]
            <= base["configs"][task]["compression"]["run"]["batches"]
        )


def test_float32_sums_under_bfloat16_model(tiny_models, corpus_dir):
    """Window log-likelihoods are summed in float32/float64, not in the model dtype."""
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=tiny_models["plain"], dtype="bfloat16", device="cpu", batch_size=1)
    res = evaluate(lm, ["compression_python"], {"data_dir": corpus_dir, "block_size": 64, "stride": 16})
    model = AutoModelForCausalLM.from_pretrained(tiny_models["plain"], dtype=torch.bfloat16)
    tok = AutoTokenizer.from_pretrained(tiny_models["plain"])
    for resp, text in zip(per_doc(res, "compression_python"), _docs(corpus_dir, "python")):
        tokens = tok(text, add_special_tokens=False)["input_ids"]
        ref = document_loglikelihood(model, tokens, tok.bos_token_id, 64, 16)
        # bf16 logits are the same; only the summation precision would differ
        assert _close(resp["loglikelihood"], ref, rel=1e-5)


@pytest.mark.parametrize("protocol", ["document", "paper"])
def test_chunked_log_softmax_equals_plain_reference(tiny_models, corpus_dir, monkeypatch, protocol):
    """Scored rows split into many log-softmax chunks (5 rows each) give the reference's numbers, both
    when a batch's scored rows are one contiguous slice (paper) and when they are gathered (document,
    windows of mixed lengths in a batch of 3)."""
    from transformers import AutoConfig

    from lm_eval_compression.engine import scoring

    path = tiny_models["bos"]
    vocab = AutoConfig.from_pretrained(path).vocab_size
    monkeypatch.setattr(scoring, "LOGSOFTMAX_CHUNK_ELEMENTS", 5 * vocab + 3)
    calls = []
    real = torch.logsumexp
    monkeypatch.setattr(torch, "logsumexp", lambda *a, **k: calls.append(1) or real(*a, **k))
    block, stride = 32, 8
    task, name = (
        ("compression_python", "python") if protocol == "document" else ("compression_arxiv_math", "arxiv_math")
    )
    res = evaluate(
        load_lm(path, "3"),
        [task],
        {"data_dir": corpus_dir, "block_size": block, "stride": stride, "protocol": protocol},
    )
    run = res["configs"][task]["compression"]["run"]
    assert len(calls) >= run["scored_tokens"] // 5 > run["batches"]  # several chunks per batch
    monkeypatch.setattr(torch, "logsumexp", real)
    model, tok = _ref_model(path)
    docs = _docs(corpus_dir, name)
    got = per_doc(res, task)
    if protocol == "paper":
        total, shares = paper_loglikelihoods(model, [tok(d)["input_ids"] for d in docs], block, stride)
        assert _close(sum(r["loglikelihood"] for r in got), total)
        for resp, share in zip(got, shares):
            assert _close(resp["loglikelihood"], share) or abs(resp["loglikelihood"] - share) < 1e-9
        return
    for resp, text in zip(got, docs):
        tokens = tok(text, add_special_tokens=False)["input_ids"]
        assert resp["window_bos"] is True  # auto, for a tokenizer that adds BOS
        ref = document_loglikelihood(model, tokens, tok.bos_token_id, block, stride, bos=tok.bos_token_id)
        assert _close(resp["loglikelihood"], ref)
