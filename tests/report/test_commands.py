"""The correlate and leaderboard commands, run as a user runs them."""

from __future__ import annotations

import ast
import csv
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from lm_eval_compression.report import plot
from lm_eval_compression.report import synthetic as fx
from lm_eval_compression.report.areas import Area
from lm_eval_compression.report.correlate import correlate
from lm_eval_compression.report.results import load_results
from tests.report.helpers import AREA_ARGS, AREAS, REPO, expected, odd_file, ols, run_cli


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
    *_, linear_loo = ols(x, y)
    *_, log_loo = ols(np.log(x), y)
    for i, m in enumerate(suite["models"]):
        row = knowledge[m["model"]]
        assert float(row["bpc"]) == x[i]
        assert float(row["score"]) == pytest.approx(y[i], abs=1e-12)
        assert float(row["linear_loo_error"]) == pytest.approx(linear_loo[i], abs=1e-9)
        assert float(row["log_loo_error"]) == pytest.approx(log_loo[i], abs=1e-9)
    stats = list(csv.DictReader((out / "correlate_stats.csv").open(encoding="utf-8")))
    assert float(stats[0]["pearson_r"]) == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)
    assert float(stats[0]["log_loo_rmse"]) == pytest.approx(np.sqrt(np.mean(log_loo**2)), rel=1e-9)
    assert [s["better_form"] for s in stats] == ["linear", "log", "linear"]
    assert proc.stdout.count("- log: score = ") == 3 and "- lower leave-one-out error: log (RMSE" in proc.stdout

    import matplotlib.image

    image = matplotlib.image.imread(out / "correlate.png")
    width, height = (round(v * plot.PLOT_DPI) for v in plot.PANEL_SIZE)
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
    proc = run_cli(
        "leaderboard", str(suite["root"]), "--output-dir", str(tmp_path), "--label", f"{fx.MODEL_NAMES[0]}=tiny"
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    assert lines[0] == "| Model | cc | python | arxiv_math | Average |"
    means = [float(line.strip("| ").split(" | ")[-1]) for line in lines[2:]]
    assert len(means) == 8 and means == sorted(means)
    assert any(line.startswith("| tiny |") for line in lines)
    rows = list(csv.DictReader((tmp_path / "leaderboard.csv").open(encoding="utf-8")))
    assert [r["model"] for r in rows][-1] == "tiny"  # the smallest synthetic model compresses worst


def test_cli_correlate_generic_score_form(suite):
    proc = run_cli(
        "correlate",
        str(suite["root"]),
        "--bpc-task",
        "compression_cc",
        "--score",
        "hellaswag/acc_norm",
        "--score",
        "arc_easy/acc",
    )
    assert proc.returncode == 0, proc.stderr
    [fit] = correlate(load_results(suite["root"]), Area.parse(AREA_ARGS[0]))
    assert f"Pearson r = {fit.stats.pearson_r:.3f}" in proc.stdout


def test_package_and_docs_scripts_do_not_import_tests():
    """Tooling may be imported by tests, never the other way round."""
    test_modules = {p.stem for p in (REPO / "tests").glob("*.py")} | {"tests"}
    for path in [*(REPO / "lm_eval_compression").rglob("*.py"), *(REPO / "docs").glob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            assert not {n.split(".")[0] for n in names} & test_modules, f"{path} imports from tests/"
        assert '"tests"' not in path.read_text(encoding="utf-8"), f"{path} reaches into tests/"
