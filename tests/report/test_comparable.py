"""Refusing results that cannot share a line: settings, corpora, tasks, metrics, model count."""

from __future__ import annotations

import pytest

from lm_eval_compression.report import synthetic as fx
from lm_eval_compression.report.areas import Area, ScoreSpec
from lm_eval_compression.report.correlate import correlate
from lm_eval_compression.report.results import NotComparableError, load_results
from tests.report.helpers import AREA_ARGS, odd_file, refusal


def test_prefix_tokens_may_differ_and_metadata_fallback(suite, tmp_path):
    path = odd_file(tmp_path, settings={"compression_cc": {"prefix_token": "<s>", "prefix_token_id": 1}})
    assert len(correlate([suite["root"], path], Area.parse(AREA_ARGS[0]))[0].rows) == 9
    legacy = odd_file(tmp_path / "legacy", name="synthetic/legacy", metadata_only=True)
    assert len(correlate([suite["root"], legacy], Area.parse(AREA_ARGS[0]))[0].rows) == 9


@pytest.mark.parametrize(
    "setting,value,shown",
    [
        ("stride", 256, "stride"),
        ("protocol", "chunked", "protocol"),
        ("block_size", 2048, "block_size"),
        ("window_bos_setting", False, "window_bos"),
    ],
)
def test_refuses_different_window_setting(suite, tmp_path, setting, value, shown):
    path = odd_file(tmp_path, settings={"compression_cc": {setting: value}})
    message = refusal([suite["root"], path])
    assert str(path) in message and repr(shown) in message and "compression_cc" in message
    assert f"{shown}={value!r}" in message or f"{shown}={value}" in message


def test_window_bos_auto_resolving_differently_per_tokenizer_is_comparable(suite, tmp_path):
    """Two models run with the same ``window_bos: auto``: one tokenizer adds BOS (on), one does not (off)."""
    path = odd_file(tmp_path, settings={task: {"window_bos": False} for task in fx.CORPORA})
    assert len(correlate([suite["root"], path], Area.parse(AREA_ARGS[0]))[0].rows) == 9


def test_refuses_different_setting_from_metadata_only(suite, tmp_path):
    path = odd_file(tmp_path, metadata_only=True, settings={"compression_cc": {"stride": 128}})
    message = refusal([suite["root"], path])
    assert str(path) in message and "'stride'" in message


def test_refuses_different_corpus(suite, tmp_path):
    path = odd_file(tmp_path, corpus_variant={"compression_cc": "other documents"})
    message = refusal([suite["root"], path])
    assert str(path) in message and "corpus_sha256" in message and "corpus" in message


def test_settings_of_unused_corpora_are_not_compared(suite, tmp_path):
    path = odd_file(tmp_path, settings={"compression_python": {"stride": 256}})
    correlate([suite["root"], path], Area.parse(AREA_ARGS[0]))  # knowledge only: fine
    assert str(path) in refusal([suite["root"], path], AREA_ARGS[1])


def test_refuses_missing_task(suite, tmp_path):
    scores = {k: v for k, v in fx.synthetic_models()[0]["scores"].items() if not k.startswith("humaneval")}
    path = odd_file(tmp_path, scores=scores)
    message = refusal([suite["root"], path], AREA_ARGS[1])
    assert str(path) in message and "'humaneval'" in message and "synthetic/odd" in message
    bpc = {t: v for t, v in fx.synthetic_models()[0]["bpc"].items() if t != "compression_cc"}
    path = odd_file(tmp_path / "nocc", bpc=bpc)
    message = refusal([suite["root"], path])
    assert str(path) in message and "'compression_cc'" in message


def test_refuses_missing_metric(suite, tmp_path):
    scores = dict(fx.synthetic_models()[0]["scores"])
    scores["arc_easy/acc_norm"] = scores.pop("arc_easy/acc")
    path = odd_file(tmp_path, scores=scores)
    message = refusal([suite["root"], path])
    assert str(path) in message and "'acc,none'" in message and "'arc_easy'" in message
    # a metric only written under a filter must be named with it
    message = refusal([suite["root"]], "math=gsm8k/exact_match")
    assert "'exact_match,none'" in message and "exact_match,strict-match" in message


def test_refuses_fewer_than_three_models(suite):
    two = [suite["files"][name] for name in fx.MODEL_NAMES[:2]]
    message = refusal(two)
    assert "at least 3" in message and all(str(p) in message for p in two)


def test_refuses_group_bpc_mixing_document_sets(tmp_path):
    """The mean bpc of the compression group cannot combine a --limit run of one corpus with full runs,
    even when every model did the same."""
    models = fx.synthetic_models(3)
    fx.write_suite(tmp_path, models)
    for model in models:
        cc = {"compression_cc": model["bpc"]["compression_cc"] + 0.01}
        limited = fx.make_results(model["model"], cc, {}, fx.RunVariant(group=False, limit=2))
        fx.write_results(tmp_path, model["model"], limited)
    group_area = Area("all", "compression", (ScoreSpec("hellaswag", "acc_norm"),))
    with pytest.raises(NotComparableError) as info:
        correlate(load_results(tmp_path), group_area)
    assert "different document sets in the bpc of compression" in str(info.value)
    assert "2 of 120 documents (--limit 2)" in str(info.value)
    correlate(load_results(tmp_path), Area.parse(AREA_ARGS[0]))  # compression_cc alone: one document set
