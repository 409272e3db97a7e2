"""Reading results files written by the harness's own writer: names, labels, newest file first."""

from __future__ import annotations

from lm_eval_compression.report import synthetic as fx
from lm_eval_compression.report.results import load_results


def test_fixture_files_are_harness_results(suite):
    files = sorted(suite["root"].rglob("results_*.json"))
    assert len(files) == 8
    assert {p.parent.name for p in files} == {m["model"].replace("/", "__") for m in suite["models"]}


def test_load_results_names_and_values(suite):
    models = load_results(suite["root"])
    assert sorted(m.label for m in models) == sorted(m["model"] for m in suite["models"])
    by_name = {m.model_name: m for m in models}
    first = suite["models"][0]
    model = by_name[first["model"]]
    assert model.source("compression_cc").metrics("compression_cc")["bpc,none"] == first["bpc"]["compression_cc"]
    assert model.files[0].path == suite["files"][first["model"]]


def test_newest_file_wins_and_separate_runs_merge(tmp_path):
    base = fx.synthetic_models()[0]
    name = "synthetic/rerun"
    old_bpc = {t: v + 0.5 for t, v in base["bpc"].items()}
    old = fx.write_results(tmp_path, name, fx.make_results(name, old_bpc, base["scores"]))
    new = fx.write_results(tmp_path, name, fx.make_results(name, base["bpc"], {}))  # compression only
    assert old.parent == new.parent and old != new
    [model] = load_results(tmp_path)
    assert model.files[0].path == new
    assert model.source("compression_cc").path == new
    assert model.source("compression_cc").metrics("compression_cc")["bpc,none"] == base["bpc"]["compression_cc"]
    # the benchmarks only exist in the older run: taken from there
    assert model.source("hellaswag").path == old


def test_labels_override_model_names(suite):
    target = fx.synthetic_models()[0]["model"]
    models = load_results([suite["root"]], labels={target: "tiny", str(suite["files"][fx.MODEL_NAMES[1]]): "small"})
    labels = {m.label for m in models}
    assert {"tiny", "small"} <= labels and target not in labels
