"""Per-token records (``token_records``) against an independent computation: the window geometry written out
again, a float64 log-softmax per window, characters attributed one at a time; and a killed, resumed run."""

import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.support.api import evaluate, load_lm, per_doc
from tests.support.reference import owned_chars, reference_document_windows, window_moments

BLOCK, STRIDE = 16, 5


def _docs(corpus_dir, name):
    rows = [json.loads(line) for line in Path(corpus_dir, f"{name}.jsonl").read_text().splitlines()]
    return [r["content"] for r in rows if r["content"]]


def document_rows(model, tokens, prefix, bos):
    """``{token index: (context, log p, mean, std)}`` of one document under the ``document`` windows."""
    out = {}
    for inputs, targets, n, offset in reference_document_windows(tokens, prefix, BLOCK, STRIDE, bos):
        for j, v in zip(range(len(inputs) - n, len(inputs)), window_moments(model, inputs, targets, n)):
            out[offset + j] = (j + 1, *v)
    return out


def paper_rows(model, encoded):
    """``{(document, token index): (context, log p, mean, std)}`` under the reference stream windows."""
    stream = [t for d in encoded for t in d]
    where = [(k, i) for k, d in enumerate(encoded) for i in range(len(d))]
    out = {}
    for w in range((len(stream) - BLOCK - 1) // STRIDE + 1):
        chunk = stream[w * STRIDE : w * STRIDE + BLOCK + 1]
        n_scored = BLOCK if w == 0 else STRIDE
        for j, v in zip(range(BLOCK - n_scored + 1, BLOCK + 1), window_moments(model, chunk[:-1], chunk[1:], n_scored)):
            out[where[w * STRIDE + j]] = (j, *v)
    return out


def check_rows(table, expected, ids, starts, ends):
    """Every record against the independent values (keyed like ``expected``)."""
    assert len(table) == len(expected)
    for row in table.to_pylist():
        key = (row["doc"], row["token"])
        context, lp, mu, sd = expected[key]
        assert row["context"] == context and row["token_id"] == ids[key]
        assert (row["char_start"], row["char_end"]) == (starts[key], ends[key])
        assert row["logprob"] == pytest.approx(lp, rel=1e-5, abs=1e-5)
        for name, value in (("mean_logp", mu), ("std_logp", sd), ("entropy", -mu)):
            assert row[name] == pytest.approx(value, rel=1e-5, abs=1e-5), name


def check_sums(table, responses):
    """Per-document float64 sums of the records equal the reported log-likelihoods (1e-9 relative)."""
    docs = table.column("doc").to_numpy()
    lps = table.column("logprob").to_numpy().astype(np.float64)
    for k, resp in enumerate(responses):
        assert math.fsum(lps[docs == k]) == pytest.approx(resp["loglikelihood"], rel=1e-9)


def spans(offsets_by_doc, texts):
    """Each token's (first character, end) from the independent attribution, keyed (document, token)."""
    starts, ends = {}, {}
    for k, (offsets, text) in enumerate(zip(offsets_by_doc, texts)):
        at = 0
        for i, n in enumerate(owned_chars(offsets, len(text))):
            starts[k, i], ends[k, i] = at, at + n
            at += n
    return starts, ends


@pytest.mark.parametrize("kind,window_bos", [("plain", False), ("bos", True), ("bos", False)])
def test_document_records_equal_an_independent_computation(tiny_models, corpus_dir, tmp_path, kind, window_bos):
    path = tiny_models[kind]
    meta = {"data_dir": corpus_dir, "block_size": BLOCK, "stride": STRIDE, "window_bos": window_bos}
    res = evaluate(load_lm(path), ["compression_cc"], {**meta, "token_records": str(tmp_path)})
    info = res["configs"]["compression_cc"]["compression"]["run"]["records"]
    table = pq.read_table(info["path"])
    assert info["rows"] == len(table) == res["results"]["compression_cc"]["scored_tokens,none"]
    assert not list(tmp_path.glob("*.parts"))
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(path)
    texts = _docs(corpus_dir, "cc")
    encoded = [tok(t, add_special_tokens=False, return_offsets_mapping=True) for t in texts]
    expected, ids = {}, {}
    for k, enc in enumerate(encoded):
        bos = tok.bos_token_id if window_bos else None
        for i, values in document_rows(model, enc["input_ids"], tok.bos_token_id, bos).items():
            expected[k, i], ids[k, i] = values, enc["input_ids"][i]
    starts, ends = spans([e["offset_mapping"] for e in encoded], texts)
    check_rows(table, expected, ids, starts, ends)
    check_sums(table, per_doc(res, "compression_cc"))
    for k, text in enumerate(texts):  # the spans tile each document
        rows = sorted((r["char_start"], r["char_end"]) for r in table.to_pylist() if r["doc"] == k)
        assert rows[0][0] == 0 and rows[-1][1] == len(text)
        assert all(a[1] == b[0] for a, b in zip(rows, rows[1:]))


@pytest.mark.parametrize("kind", ["plain", "bos"])
def test_paper_records_equal_an_independent_computation(tiny_models, corpus_dir, tmp_path, kind):
    path = tiny_models[kind]
    meta = {"data_dir": corpus_dir, "block_size": BLOCK, "stride": STRIDE, "protocol": "paper"}
    res = evaluate(load_lm(path), ["compression_cc"], {**meta, "token_records": str(tmp_path)})
    table = pq.read_table(res["configs"]["compression_cc"]["compression"]["run"]["records"]["path"])
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(path)
    texts = _docs(corpus_dir, "cc")
    encoded = [tok(t, return_offsets_mapping=True) for t in texts]
    ids = {(k, i): t for k, e in enumerate(encoded) for i, t in enumerate(e["input_ids"])}
    starts, ends = spans([e["offset_mapping"] for e in encoded], texts)
    check_rows(table, paper_rows(model, [e["input_ids"] for e in encoded]), ids, starts, ends)
    check_sums(table, per_doc(res, "compression_cc"))


def rows_of(folder: Path) -> set:
    (path,) = folder.glob("*.parquet")
    table = pq.read_table(path).drop_columns(["window"])  # the window index is the run's own
    return set(map(tuple, (r.values() for r in table.to_pylist())))


@pytest.mark.parametrize("protocol", ["document", "paper"])
def test_killed_and_resumed_run_has_the_records_of_an_uninterrupted_one(request, protocol):
    """Killed once five documents are cached (document) or 100 windows checkpointed (paper), run again to the
    end: the rows equal those of an uninterrupted run. The runs are the shared ``<protocol>_resume`` fixture."""
    runs = request.getfixturevalue(f"{protocol}_resume")
    assert runs["killed_parts"], "the killed run left no parts"
    resumed, uninterrupted = rows_of(runs["records"]["again"]), rows_of(runs["records"]["full"])
    assert resumed == uninterrupted and len(resumed) > 1000


def test_buckets_and_groups_equal_a_pass_over_the_records(tiny_models, tmp_path):
    """The context-length buckets and the per-group values, recomputed from the records alone."""
    from tests.support.corpora import default_corpora

    texts = [t for t in default_corpora()["cc"] if t]
    languages = ["en", "de", "en", "fr", "de", "en", "fr", "de"][: len(texts)]
    (tmp_path / "data").mkdir()
    with open(tmp_path / "data" / "cc.jsonl", "w", encoding="utf-8") as f:
        for text, lang in zip(texts, languages):
            f.write(json.dumps({"content": text, "meta": {"language": lang}}) + "\n")
    meta = {"data_dir": str(tmp_path / "data"), "block_size": BLOCK, "stride": STRIDE, "group_by": "meta.language"}
    res = evaluate(load_lm(tiny_models["bos"]), ["compression_cc"], {**meta, "token_records": str(tmp_path / "r")})
    block = res["configs"]["compression_cc"]["compression"]
    rows = pq.read_table(block["run"]["records"]["path"]).to_pylist()
    tokens, nats, chars = [0] * 5, [[] for _ in range(5)], [0] * 5
    per_doc_lp = [[] for _ in texts]
    for r in rows:
        b = int(math.log2(r["context"]))
        tokens[b] += 1
        nats[b].append(-float(r["logprob"]))
        chars[b] += r["char_end"] - r["char_start"]
        per_doc_lp[r["doc"]].append(float(r["logprob"]))
    for got, n, ll, c in zip(block["context_length"]["buckets"], tokens, nats, chars, strict=True):
        assert (got["tokens"], got["chars"]) == (n, c)
        assert got["nats"] == pytest.approx(math.fsum(ll), rel=1e-9)
    ll = [math.fsum(v) for v in per_doc_lp]
    for lang, group in block["by_group"]["groups"].items():
        members = [k for k, x in enumerate(languages) if x == lang]
        bits = -math.fsum(ll[k] for k in members) / math.log(2)
        assert group["bpc"] == pytest.approx(bits / sum(len(texts[k]) for k in members), rel=1e-9)
        assert group["bpb"] == pytest.approx(bits / sum(len(texts[k].encode()) for k in members), rel=1e-9)
    micro = -math.fsum(ll) / math.log(2) / sum(len(t) for t in texts)
    assert block["by_group"]["micro"]["bpc"] == pytest.approx(micro, rel=1e-9)


def test_vllm_records_have_no_moments(monkeypatch, tmp_path):
    """The vLLM path's records: its prompt log-probabilities, and null entropy, mean and std."""
    from lm_eval_compression.engine import vllm_scoring
    from lm_eval_compression.engine.planning import plan_documents
    from lm_eval_compression.engine.records import TokenRecords
    from lm_eval_compression.engine.settings import WindowSettings
    from tests.engine.test_context import FakeVLLM

    monkeypatch.setattr(vllm_scoring, "sampling_params", lambda: None)
    docs = [np.arange(10, 10 + n, dtype=np.int32) for n in (5, 20)]
    chars = [np.full(len(d), 3, dtype=np.int32) for d in docs]
    windows = WindowSettings(8, 3).for_model(False, "test", 0, None)
    plan = plan_documents(docs, [0, 1], 2, windows, chars, keep_chars=True)
    records = TokenRecords(tmp_path / "r.parquet", plan, [7, 9], "doc", moments=False)
    point, _ = vllm_scoring.score(FakeVLLM(), plan, windows_in_flight=2, records=records)
    info = records.finish()
    rows = pq.read_table(info.path).to_pylist()
    assert info.rows == len(rows) == 25
    for r in rows:
        k = 0 if r["doc"] == 7 else 1
        assert r["token_id"] == docs[k][r["token"]] and (r["char_start"], r["char_end"]) == (
            3 * r["token"],
            3 * r["token"] + 3,
        )
        # the fake's value at prompt position p = context p: -(p / 10 + token / 1000)
        assert r["logprob"] == pytest.approx(-(r["context"] / 10 + r["token_id"] / 1000), rel=1e-6)
        assert r["entropy"] is None and r["mean_logp"] is None and r["std_logp"] is None
    for k, doc in ((0, 7), (1, 9)):
        assert math.fsum(r["logprob"] for r in rows if r["doc"] == doc) == pytest.approx(point.totals[k], rel=1e-6)
