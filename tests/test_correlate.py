"""The correlate / leaderboard report against results files written by the harness's own writer.

Expected statistics are computed here independently with numpy (np.corrcoef,
np.polyfit, Fisher-z interval, argsort ranks, an explicit leave-one-out loop),
from the fixture's numbers rather than from the files.
"""

from __future__ import annotations

import csv
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import correlate_fixtures as fx  # noqa: E402

from lm_eval_compression import correlate as cr  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
AREAS = {
    "knowledge": ("compression_cc", ["hellaswag/acc_norm", "arc_easy/acc"]),
    "coding": ("compression_python", ["humaneval/pass@1,create_test"]),
    "math": ("compression_arxiv_math", ["gsm8k/exact_match,strict-match"]),
}
AREA_ARGS = [f"{name}={','.join(scores)}" for name, (_, scores) in AREAS.items()]


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """Eight models' results files in one lm_eval output folder, plus the numbers behind them."""
    root = tmp_path_factory.mktemp("results")
    models = fx.synthetic_models()
    files = fx.write_suite(root, models)
    return {"root": root, "models": models, "files": files}


def odd_file(tmp_path, name="synthetic/odd", scores=None, bpc=None, **kwargs) -> Path:
    """One extra model's results file in its own folder (a copy of the first synthetic model's numbers)."""
    base = fx.synthetic_models()[0]
    results = fx.make_results(name, bpc or base["bpc"], base["scores"] if scores is None else scores, **kwargs)
    return fx.write_results(tmp_path / "odd", name, results)


def expected(models, area):
    """x, y of an area straight from the fixture numbers."""
    bpc_task, scores = AREAS[area]
    x = np.array([m["bpc"][bpc_task] for m in models])
    y = np.array([np.mean([m["scores"][s] for s in scores]) for m in models])
    return x, y


# --------------------------------------------------------------------------
# reading files


def test_fixture_files_are_harness_results(suite):
    files = sorted(suite["root"].rglob("results_*.json"))
    assert len(files) == 8
    assert {p.parent.name for p in files} == {m["model"].replace("/", "__") for m in suite["models"]}


def test_load_results_names_and_values(suite):
    models = cr.load_results(suite["root"])
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
    [model] = cr.load_results(tmp_path)
    assert model.files[0].path == new
    assert model.source("compression_cc").path == new
    assert model.source("compression_cc").metrics("compression_cc")["bpc,none"] == base["bpc"]["compression_cc"]
    # the benchmarks only exist in the older run: taken from there
    assert model.source("hellaswag").path == old


def test_labels_override_model_names(suite):
    target = fx.synthetic_models()[0]["model"]
    models = cr.load_results([suite["root"]], labels={target: "tiny", str(suite["files"][fx.MODEL_NAMES[1]]): "small"})
    labels = {m.label for m in models}
    assert {"tiny", "small"} <= labels and target not in labels


def test_parse_areas_and_scores():
    area = cr.Area.parse("math=gsm8k/exact_match,strict-match")
    assert area.bpc_task == "compression_arxiv_math"
    assert area.scores == (cr.ScoreSpec("gsm8k", "exact_match", "strict-match"),)
    area = cr.Area.parse("knowledge=hellaswag/acc_norm,arc_easy/acc")
    assert area.bpc_task == "compression_cc"
    assert [s.key for s in area.scores] == ["acc_norm,none", "acc,none"]
    area = cr.Area.parse("mine:compression_python=a/m,f1,b/n")
    assert (area.name, area.bpc_task) == ("mine", "compression_python")
    assert [str(s) for s in area.scores] == ["a/m,f1", "b/n"]
    with pytest.raises(ValueError):
        cr.Area.parse("nonsense=a/b")


# --------------------------------------------------------------------------
# statistics against independent numpy computations


@pytest.mark.parametrize("area_name", list(AREAS))
def test_statistics_match_numpy(suite, area_name):
    [fit] = cr.correlate(cr.load_results(suite["root"]), cr.Area.parse(AREA_ARGS[list(AREAS).index(area_name)]))
    x, y = expected(suite["models"], area_name)
    n = len(x)
    names = [m["model"] for m in suite["models"]]
    s = fit.stats
    assert s.n == n == 8

    r = np.corrcoef(x, y)[0, 1]
    assert s.pearson_r == pytest.approx(r, abs=1e-12)
    z, se, q = math.atanh(r), 1 / math.sqrt(n - 3), NormalDist().inv_cdf(0.975)
    assert s.pearson_ci_low == pytest.approx(math.tanh(z - q * se), abs=1e-9)
    assert s.pearson_ci_high == pytest.approx(math.tanh(z + q * se), abs=1e-9)

    ranks_x, ranks_y = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    assert s.spearman_rho == pytest.approx(np.corrcoef(ranks_x, ranks_y)[0, 1], abs=1e-12)

    slope, intercept = np.polyfit(x, y, 1)
    predicted = slope * x + intercept
    sse = float(np.sum((y - predicted) ** 2))
    r2 = 1 - sse / float(np.sum((y - y.mean()) ** 2))
    sxx = float(np.sum((x - x.mean()) ** 2))
    resid_sd = math.sqrt(sse / (n - 2))
    assert s.slope == pytest.approx(slope, rel=1e-9)
    assert s.intercept == pytest.approx(intercept, rel=1e-9)
    assert s.r_squared == pytest.approx(r2, rel=1e-9)
    assert s.slope_stderr == pytest.approx(resid_sd / math.sqrt(sxx), rel=1e-9)

    loo = np.empty(n)
    for i in range(n):
        keep = np.arange(n) != i
        b1, b0 = np.polyfit(x[keep], y[keep], 1)
        loo[i] = y[i] - (b1 * x[i] + b0)
    assert s.loo_rmse == pytest.approx(math.sqrt(np.mean(loo**2)), rel=1e-9)
    assert s.loo_mae == pytest.approx(np.mean(np.abs(loo)), rel=1e-9)

    # rows sorted by bpc; each model's prediction, residual and LOO error
    assert [row.bpc for row in fit.rows] == sorted(x.tolist())
    rows = {row.label: row for row in fit.rows}
    for i, name in enumerate(names):
        row = rows[name]
        assert row.bpc == x[i] and row.score == pytest.approx(y[i], abs=1e-12)
        assert row.predicted == pytest.approx(predicted[i], abs=1e-9)
        assert row.residual == pytest.approx(y[i] - predicted[i], abs=1e-9)
        assert row.loo_error == pytest.approx(loo[i], abs=1e-9)

    # band of the mean prediction: s * sqrt(1/n + (x0 - mean)^2 / Sxx) * t(0.975, n-2)
    from scipy.stats import t

    x0 = np.array([x.min(), x.mean(), x.max() + 0.05])
    half = t.ppf(0.975, n - 2) * resid_sd * np.sqrt(1 / n + (x0 - x.mean()) ** 2 / sxx)
    low, high = fit.confidence_band(x0)
    np.testing.assert_allclose(low, slope * x0 + intercept - half, atol=1e-9)
    np.testing.assert_allclose(high, slope * x0 + intercept + half, atol=1e-9)


def test_pearson_p_value_matches_t_test(suite):
    from scipy.stats import t

    [fit] = cr.correlate(cr.load_results(suite["root"]), cr.Area.parse(AREA_ARGS[1]))
    x, y = expected(suite["models"], "coding")
    r, n = np.corrcoef(x, y)[0, 1], len(x)
    tstat = r * math.sqrt((n - 2) / (1 - r * r))
    assert fit.stats.pearson_p == pytest.approx(2 * t.sf(abs(tstat), n - 2), rel=1e-6)


def test_group_mean_used_or_computed(suite, tmp_path):
    models = suite["models"]
    board = cr.leaderboard(cr.load_results(suite["root"]))
    assert board.mean_source == "group"
    means = {m["model"]: np.mean(list(m["bpc"].values())) for m in models}
    assert [r.label for r in board.rows] == sorted(means, key=means.get)
    for row in board.rows:
        assert row.mean == pytest.approx(means[row.label], abs=1e-12)
    # without the group row the mean is computed, unweighted, from the three corpora
    fx.write_suite(tmp_path, models, group=False)
    loaded = cr.load_results(tmp_path)
    board = cr.leaderboard(loaded)
    assert board.mean_source == "computed"
    assert {r.label: r.mean for r in board.rows} == pytest.approx(means, abs=1e-12)
    [fit] = cr.correlate(loaded, cr.Area("all", "compression", (cr.ScoreSpec("hellaswag", "acc_norm"),)))
    assert {r.label: r.bpc for r in fit.rows} == pytest.approx(means, abs=1e-12)


def test_prefix_tokens_may_differ_and_metadata_fallback(suite, tmp_path):
    path = odd_file(tmp_path, settings={"compression_cc": {"prefix_token": "<s>", "prefix_token_id": 1}})
    assert len(cr.correlate([suite["root"], path], cr.Area.parse(AREA_ARGS[0]))[0].rows) == 9
    legacy = odd_file(tmp_path / "legacy", name="synthetic/legacy", metadata_only=True)
    assert len(cr.correlate([suite["root"], legacy], cr.Area.parse(AREA_ARGS[0]))[0].rows) == 9


# --------------------------------------------------------------------------
# refusals


def refusal(paths, area=AREA_ARGS[0]) -> str:
    with pytest.raises(cr.NotComparableError) as info:
        cr.correlate(list(paths), cr.Area.parse(area))
    return str(info.value)


@pytest.mark.parametrize("setting,value", [("stride", 256), ("protocol", "chunked"), ("block_size", 2048),
                                           ("window_bos", False)])
def test_refuses_different_window_setting(suite, tmp_path, setting, value):
    path = odd_file(tmp_path, settings={"compression_cc": {setting: value}})
    message = refusal([suite["root"], path])
    assert str(path) in message and repr(setting) in message and "compression_cc" in message
    assert f"{setting}={value!r}" in message or f"{setting}={value}" in message


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
    cr.correlate([suite["root"], path], cr.Area.parse(AREA_ARGS[0]))  # knowledge only: fine
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


# --------------------------------------------------------------------------
# outputs and command line


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "lm_eval_compression", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_cli_correlate_writes_table_csv_and_plots(suite, tmp_path):
    out = tmp_path / "report"
    args = ["correlate", str(suite["root"])]
    for area in AREA_ARGS:
        args += ["--area", area]
    proc = run_cli(*args, "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "| Model | BPC (compression_cc) |" in proc.stdout and "Pearson r = " in proc.stdout
    assert (out / "correlate.md").read_text(encoding="utf-8") == proc.stdout

    rows = list(csv.DictReader((out / "correlate.csv").open(encoding="utf-8")))
    assert len(rows) == 3 * 8 and {r["area"] for r in rows} == set(AREAS)
    x, y = expected(suite["models"], "knowledge")
    knowledge = {r["model"]: r for r in rows if r["area"] == "knowledge"}
    for m, xi, yi in zip(suite["models"], x, y):
        assert float(knowledge[m["model"]]["bpc"]) == xi
        assert float(knowledge[m["model"]]["score"]) == pytest.approx(yi, abs=1e-12)
    stats = list(csv.DictReader((out / "correlate_stats.csv").open(encoding="utf-8")))
    assert float(stats[0]["pearson_r"]) == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)

    import matplotlib.image

    image = matplotlib.image.imread(out / "correlate.png")
    width, height = (round(v * cr.PLOT_DPI) for v in cr.PANEL_SIZE)
    assert image.shape[:2] == (height, 3 * width)  # one panel per area
    root = ET.parse(out / "correlate.svg").getroot()
    assert root.tag.endswith("svg")


def test_cli_refusal_exits_2_without_traceback(suite, tmp_path):
    path = odd_file(tmp_path, settings={"compression_cc": {"stride": 256}})
    proc = run_cli("correlate", str(suite["root"]), str(path), "--area", AREA_ARGS[0])
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and str(path) in proc.stderr and "stride" in proc.stderr
    assert proc.stdout == ""


def test_cli_leaderboard(suite, tmp_path):
    proc = run_cli("leaderboard", str(suite["root"]), "--output-dir", str(tmp_path),
                   "--label", f"{fx.MODEL_NAMES[0]}=tiny")
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    assert lines[0] == "| Model | cc | python | arxiv_math | Average |"
    means = [float(line.strip("| ").split(" | ")[-1]) for line in lines[2:]]
    assert len(means) == 8 and means == sorted(means)
    assert any(line.startswith("| tiny |") for line in lines)
    rows = list(csv.DictReader((tmp_path / "leaderboard.csv").open(encoding="utf-8")))
    assert [r["model"] for r in rows][-1] == "tiny"  # the smallest synthetic model compresses worst


def test_cli_correlate_generic_score_form(suite):
    proc = run_cli("correlate", str(suite["root"]), "--bpc-task", "compression_cc",
                   "--score", "hellaswag/acc_norm", "--score", "arc_easy/acc")
    assert proc.returncode == 0, proc.stderr
    [fit] = cr.correlate(cr.load_results(suite["root"]), cr.Area.parse(AREA_ARGS[0]))
    assert f"Pearson r = {fit.stats.pearson_r:.3f}" in proc.stdout
