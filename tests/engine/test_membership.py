"""Min-K% and Min-K%++ per document: against a direct float64 computation over the windows, and as a membership
test on a tiny model trained here until it has memorised half of a small corpus."""

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.support.api import evaluate, load_lm, new_lm, per_doc
from tests.support.corpora import sample_docs
from tests.support.reference import window_moments

BLOCK, STRIDE = 16, 5


def _docs(corpus_dir, name):
    rows = [json.loads(line) for line in Path(corpus_dir, f"{name}.jsonl").read_text().splitlines()]
    return [r["content"] for r in rows if r["content"]]


def token_values(model, inputs: list[int], targets: list[int], n_scored: int):
    """float64 (log p(target), (log p - mu) / sigma) of the last ``n_scored`` targets of one window."""
    return [(lp, (lp - mu) / sd) for lp, mu, sd in window_moments(model, inputs, targets, n_scored)]


def document_values(model, tokens, prefix, block, stride):
    """Every token's values under the ``document`` windows (no window BOS), written out again."""
    full = [prefix] + tokens
    values = []
    a, b = 0, min(block, len(tokens))
    while a < len(tokens):
        inputs = full[:b] if a == 0 else full[b - block : b]
        targets = full[b - len(inputs) + 1 : b + 1]
        values += token_values(model, inputs, targets, b - a)
        a, b = b, min(b + stride, len(tokens))
    return values


def min_k(values, k):
    """Mean of the lowest max(1, floor(k n)) values."""
    m = max(1, int(np.floor(k * len(values))))
    return float(np.mean(sorted(values)[:m]))


@pytest.mark.parametrize("k", [0.2, 0.5])
def test_signals_equal_a_direct_float64_computation(tiny_models, corpus_dir, monkeypatch, k):
    from lm_eval_compression.engine import membership

    monkeypatch.setattr(membership, "FLUSH_POSITIONS", 7)  # values read back (and merged) every few batches
    path = tiny_models["plain"]
    meta = {"data_dir": corpus_dir, "block_size": BLOCK, "stride": STRIDE}
    if k != 0.2:
        meta["min_k"] = k
    res = evaluate(load_lm(path), ["compression_python"], meta)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(path)
    for resp, text in zip(per_doc(res, "compression_python"), _docs(corpus_dir, "python")):
        values = document_values(model, tok(text, add_special_tokens=False)["input_ids"], tok.bos_token_id, BLOCK, 5)
        assert resp["min_k_fraction"] == k
        assert resp["min_k"] == pytest.approx(min_k([v[0] for v in values], k), rel=1e-5, abs=1e-5)
        assert resp["min_k_plus_plus"] == pytest.approx(min_k([v[1] for v in values], k), rel=1e-5, abs=1e-5)


def test_paper_signals_equal_a_direct_float64_computation(tiny_models, corpus_dir):
    path = tiny_models["bos"]
    meta = {"data_dir": corpus_dir, "block_size": BLOCK, "stride": STRIDE, "protocol": "paper"}
    res = evaluate(load_lm(path), ["compression_cc"], meta)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(path)
    encoded = [tok(d)["input_ids"] for d in _docs(corpus_dir, "cc")]
    stream = [t for d in encoded for t in d]
    owner = [k for k, d in enumerate(encoded) for _ in d]
    values = [[] for _ in encoded]
    for w in range((len(stream) - BLOCK - 1) // STRIDE + 1):  # the reference windows, written out again
        chunk = stream[w * STRIDE : w * STRIDE + BLOCK + 1]
        n_scored = BLOCK if w == 0 else STRIDE
        scored = token_values(model, chunk[:-1], chunk[1:], n_scored)
        for j, v in zip(range(BLOCK - n_scored + 1, BLOCK + 1), scored):
            values[owner[w * STRIDE + j]].append(v)
    for resp, vals in zip(per_doc(res, "compression_cc"), values):
        if not vals:  # a document whose tokens all come after the last window
            assert resp["min_k"] is None and resp["min_k_plus_plus"] is None
            continue
        assert resp["min_k"] == pytest.approx(min_k([v[0] for v in vals], 0.2), rel=1e-5, abs=1e-5)
        assert resp["min_k_plus_plus"] == pytest.approx(min_k([v[1] for v in vals], 0.2), rel=1e-5, abs=1e-5)


def test_min_k_zero_turns_the_signals_off(tiny_models, corpus_dir):
    meta = {"data_dir": corpus_dir, "block_size": BLOCK, "stride": STRIDE, "min_k": 0}
    resp = per_doc(evaluate(load_lm(tiny_models["plain"]), ["compression_python"], meta), "compression_python")[0]
    assert "min_k" not in resp and "min_k_plus_plus" not in resp


@pytest.mark.parametrize("value", [1.5, -0.1, "many", True])
def test_bad_min_k_is_refused(tiny_models, corpus_dir, value):
    from lm_eval_compression.engine.settings import WindowSettingsError

    with pytest.raises(WindowSettingsError, match="min_k"):
        evaluate(load_lm(tiny_models["plain"]), ["compression_python"], {"data_dir": corpus_dir, "min_k": value})


def auc(members, others) -> float:
    """Probability that a member scores above a non-member (ties count half)."""
    pairs = [(m > o) + 0.5 * (m == o) for m in members for o in others]
    return sum(pairs) / len(pairs)


def memorise(path: str, texts: list[str], out: Path, seconds: float = 45.0) -> str:
    """Train the tiny model at ``path`` on ``[BOS] + tokens`` of ``texts`` until its loss is near zero."""
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(path)
    rows = [[tok.bos_token_id] + tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
    labels = torch.tensor([r + [-100] * (width - len(r)) for r in rows])
    mask = (labels != -100).long()
    torch.manual_seed(0)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    model.train()
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if loss.item() < 0.2:  # the floor is about 0.05: the first word of each document stays a guess
            break
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


def test_min_k_plus_plus_separates_memorised_documents(tiny_models, tmp_path):
    docs = [d for d in sample_docs(11, 200, 30) if len(d.split()) >= 12][:40]
    trained = memorise(tiny_models["plain"], docs[::2], tmp_path / "trained")  # the odd ones stay unseen
    (tmp_path / "data").mkdir()
    with open(tmp_path / "data" / "cc.jsonl", "w") as f:
        for text in docs:
            f.write(json.dumps({"content": text}) + "\n")
    meta = {"data_dir": str(tmp_path / "data"), "block_size": 128, "stride": 128}
    res = evaluate(new_lm(trained), ["compression_cc"], meta)
    resps = per_doc(res, "compression_cc")
    plus = [r["min_k_plus_plus"] for r in resps]
    plain = [r["min_k"] for r in resps]
    auc_plus = auc(plus[::2], plus[1::2])
    untrained = evaluate(load_lm(tiny_models["plain"]), ["compression_cc"], meta)
    control = [r["min_k_plus_plus"] for r in per_doc(untrained, "compression_cc")]
    print(
        f"Min-K%++ AUC {auc_plus:.3f}, Min-K% AUC {auc(plain[::2], plain[1::2]):.3f}, "
        f"untrained model's Min-K%++ AUC {auc(control[::2], control[1::2]):.3f}"
    )
    assert auc_plus >= 0.95
    assert auc(control[::2], control[1::2]) < 0.8  # the split itself is not what separates them


def test_results_summarise_the_signals(tiny_models, corpus_dir):
    import statistics

    meta = {"data_dir": corpus_dir, "block_size": BLOCK, "stride": STRIDE}
    res = evaluate(load_lm(tiny_models["bos"]), ["compression_cc"], meta)
    got = res["configs"]["compression_cc"]["compression"]["membership"]
    assert got["min_k_fraction"] == 0.2
    for name in ("min_k", "min_k_plus_plus"):
        values = [r[name] for r in per_doc(res, "compression_cc")]
        p10, _, _, _, p50, _, _, _, p90 = statistics.quantiles(values, n=10, method="inclusive")
        want = {"documents": len(values), "mean": statistics.fmean(values), "p10": p10, "median": p50, "p90": p90}
        assert got[name] == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("protocol", ["document", "paper"])
def test_signals_after_a_kill_and_resume(request, protocol):
    """document: cached documents keep their signals, so the resumed run has them all, equal to an
    uninterrupted run's; paper: the killed run's per-token values are gone, so the signals are null."""
    runs = request.getfixturevalue(f"{protocol}_resume")
    full = runs["full"][0]["configs"]["compression_cc"]["compression"]["membership"]
    again = runs["again"][0]["configs"]["compression_cc"]["compression"]["membership"]
    if protocol == "paper":
        assert again["min_k"] is None and again["min_k_plus_plus"] is None
        return
    for name in ("min_k", "min_k_plus_plus"):
        assert again[name] == pytest.approx(full[name], rel=1e-6)
