"""BPC by subdomain (``group_by``) against a numpy computation from the per-document responses, and the
refusal of an unknown field before any window is scored."""

import json
import math

import numpy as np
import pytest

from lm_eval_compression.engine.corpus import CorpusError
from tests.support.api import evaluate, load_lm
from tests.support.corpora import sample_docs

LANGUAGES = ["en", "de", "en", "de", "fr", "en", "de", "en", "de"]


@pytest.fixture(scope="module")
def grouped_corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grouped")
    docs = sample_docs(3, len(LANGUAGES), 60)
    with open(folder / "cc.jsonl", "w", encoding="utf-8") as f:
        for i, (text, lang) in enumerate(zip(docs, LANGUAGES)):
            row = {"content": text, "subset": "odd" if i % 2 else "even", "meta": {"id": i, "language": lang}}
            f.write(json.dumps(row) + "\n")
    return str(folder)


def ratio_and_error(ll: np.ndarray, units: np.ndarray):
    """Bits per unit of the sums and its delta-method standard error, documents as the sampling unit."""
    bits = -ll / np.log(2)
    r = bits.sum() / units.sum()
    n = len(ll)
    if n < 2:
        return r, None
    return r, np.sqrt(n / (n - 1) * np.sum((bits - r * units) ** 2)) / units.sum()


def close(a, b):
    return (a is None and b is None) or a == pytest.approx(b, rel=1e-12)


@pytest.mark.parametrize("field", ["meta.language", "subset"])
def test_groups_equal_a_computation_from_the_documents(tiny_models, grouped_corpus, field):
    meta = {"data_dir": grouped_corpus, "block_size": 16, "stride": 5, "group_by": field}
    res = evaluate(load_lm(tiny_models["plain"]), ["compression_cc"], meta)
    samples = sorted(res["samples"]["compression_cc"], key=lambda s: s["doc_id"])
    resps = [s["resps"][0][0] for s in samples]
    values = [s["doc"]["meta"]["language"] if field == "meta.language" else s["doc"]["subset"] for s in samples]
    ll = np.array([r["loglikelihood"] for r in resps])
    chars = np.array([r["chars"] for r in resps], dtype=float)
    nbytes = np.array([r["bytes"] for r in resps], dtype=float)
    got = res["configs"]["compression_cc"]["compression"]["by_group"]
    assert got["field"] == field and sorted(got["groups"]) == sorted(set(values))
    per = {}
    for value in set(values):
        mask = np.array([v == value for v in values])
        bpc, bpc_se = ratio_and_error(ll[mask], chars[mask])
        bpb, bpb_se = ratio_and_error(ll[mask], nbytes[mask])
        g = got["groups"][value]
        assert g["documents"] == mask.sum() and g["chars"] == chars[mask].sum() and g["bytes"] == nbytes[mask].sum()
        assert close(g["bpc"], bpc) and close(g["bpc_stderr"], bpc_se)
        assert close(g["bpb"], bpb) and close(g["bpb_stderr"], bpb_se)
        per[value] = (bpc, bpc_se, bpb, bpb_se)
    macro = got["macro"]
    assert close(macro["bpc"], np.mean([p[0] for p in per.values()]))
    assert close(macro["bpb"], np.mean([p[2] for p in per.values()]))
    if field == "subset":  # every group has several documents
        assert close(macro["bpc_stderr"], math.sqrt(sum(p[1] ** 2 for p in per.values())) / len(per))
    else:  # 'fr' has one document: no standard error, so none for the macro average
        assert got["groups"]["fr"]["bpc_stderr"] is None and macro["bpc_stderr"] is None
    micro_bpc, micro_se = ratio_and_error(ll, chars)
    assert close(got["micro"]["bpc"], micro_bpc) and close(got["micro"]["bpc_stderr"], micro_se)
    assert got["micro"]["bpc"] == pytest.approx(res["results"]["compression_cc"]["bpc,none"], rel=1e-12)


@pytest.mark.parametrize(
    "field,named",
    [
        ("language", ["content", "meta", "subset"]),
        ("meta.lang", ["meta.id", "meta.language"]),
        ("subset.x", ["content", "meta", "subset"]),
    ],
)
def test_unknown_field_is_refused_before_scoring(tiny_models, grouped_corpus, monkeypatch, field, named):
    from lm_eval_compression.harness import runner

    monkeypatch.setattr(runner, "score_task", lambda *a, **k: pytest.fail("scored before the field was checked"))
    meta = {"data_dir": grouped_corpus, "block_size": 16, "stride": 5, "group_by": field}
    with pytest.raises(CorpusError, match="group_by") as error:
        evaluate(load_lm(tiny_models["plain"]), ["compression_cc"], meta)
    assert str(named) in str(error.value)


def test_malformed_group_by_is_refused(tiny_models, grouped_corpus):
    from lm_eval_compression.engine.settings import WindowSettingsError

    with pytest.raises(WindowSettingsError, match="group_by"):
        evaluate(load_lm(tiny_models["plain"]), ["compression_cc"], {"data_dir": grouped_corpus, "group_by": "a..b"})
