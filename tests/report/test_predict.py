"""``correlate --predict``: models outside the fit placed on each area's fits, against numpy and scipy.stats.t
computed here from the fixture's numbers; extrapolation marked; bad input refused with the file named."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from lm_eval_compression.report import synthetic as fx
from lm_eval_compression.report.areas import Area
from lm_eval_compression.report.correlate import correlate
from lm_eval_compression.report.predict import predict_scores
from lm_eval_compression.report.results import ResultsError, load_results
from tests.report.helpers import AREA_ARGS, AREAS, NEW, expected, intervals, new_bpc, ols, run_cli


def expected_prediction(models, area: str, bpc: float) -> dict[str, tuple[float, float, float]]:
    """form -> (predicted, low, high) by numpy least squares and scipy.stats.t."""
    x, y = expected(models, area)
    out = {}
    for form, transform in (("linear", np.asarray), ("log", np.log)):
        coef, s, inverse, *_ = ols(transform(x), y)
        [centre], _, [half] = intervals(coef, s, inverse, transform(np.array([bpc])), len(x))
        out[form] = (centre, centre - half, centre + half)
    return out


def test_predictions_match_numpy(suite, new_models):
    fitted = load_results(suite["root"])
    fits = correlate(fitted, [Area.parse(a) for a in AREA_ARGS])
    predictions = predict_scores(fits, fitted, load_results(new_models))
    assert len(predictions) == 3 * 3
    positions = {NEW[0]: "within", NEW[1]: "below", NEW[2]: "above"}
    for p in predictions:
        bpc_task = AREAS[p.area.name][0]
        assert p.bpc == new_bpc(suite["models"], p.label)[bpc_task]
        want = expected_prediction(suite["models"], p.area.name, p.bpc)
        for form in ("linear", "log"):
            got = p.forms[form]
            assert (got.predicted, got.low, got.high) == pytest.approx(want[form], abs=1e-9)
        assert p.position == positions[p.label] and p.extrapolation == (p.label != NEW[0])


def test_cli_predict_writes_markdown_csv_and_json(suite, new_models, tmp_path):
    out = tmp_path / "report"
    args = ["correlate", str(suite["root"])] + [w for a in AREA_ARGS for w in ("--area", a)]
    proc = run_cli(*args, "--predict", str(new_models), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / "correlate.md").read_text(encoding="utf-8") == proc.stdout
    text = proc.stdout.split("## Predicted scores", 1)[1]
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| synthetic/")}
    assert rows[NEW[0]].endswith("| within |")
    assert rows[NEW[1]].endswith("| **extrapolation** (below) |")
    assert rows[NEW[2]].endswith("| **extrapolation** (above) |")
    assert "### coding: predicted humaneval/pass@1,create_test" in text and "95 % prediction interval" in text

    table = list(csv.DictReader((out / "correlate_predictions.csv").open(encoding="utf-8")))
    records = json.loads((out / "correlate_predictions.json").read_text(encoding="utf-8"))["predictions"]
    assert len(table) == len(records) == 9
    for row, record in zip(table, records, strict=True):
        assert (row["model"], row["area"]) == (record["model"], record["area"])
        want = expected_prediction(suite["models"], row["area"], float(row["bpc"]))
        for form in ("linear", "log"):
            from_csv = [float(row[f"{form}_{k}"]) for k in ("predicted", "interval_low", "interval_high")]
            from_json = [record["forms"][form][k] for k in ("predicted", "interval_low", "interval_high")]
            assert from_csv == from_json == pytest.approx(want[form], abs=1e-9)
        assert row["extrapolation"] == str(record["extrapolation"]) == str(row["model"] != NEW[0])
        x, _ = expected(suite["models"], row["area"])
        assert (record["fitted_bpc_min"], record["fitted_bpc_max"]) == (x.min(), x.max())
        assert record["better_form"] == ("log" if row["area"] == "coding" else "linear")
    assert (out / "correlate.png").exists() and (out / "correlate.svg").exists()


def test_refuses_a_results_file_both_fitted_and_predicted(suite):
    path = suite["files"][fx.MODEL_NAMES[3]]
    proc = run_cli("correlate", str(suite["root"]), "--area", AREA_ARGS[0], "--predict", str(path))
    assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert str(path) in proc.stderr and "also among the fitted results" in proc.stderr


def test_refuses_other_settings_or_a_missing_corpus(suite, tmp_path):
    base = new_bpc(suite["models"], NEW[0])
    variant = fx.RunVariant(settings={"compression_python": {"stride": 256}})
    other = fx.write_results(tmp_path / "stride", "synthetic/x", fx.make_results("synthetic/x", base, {}, variant))
    proc = run_cli("correlate", str(suite["root"]), "--area", AREA_ARGS[1], "--predict", str(other))
    assert proc.returncode == 2 and str(other) in proc.stderr and "'stride'" in proc.stderr
    no_python = {t: v for t, v in base.items() if t != "compression_python"}
    missing = fx.write_results(tmp_path / "missing", "synthetic/nopy", fx.make_results("synthetic/nopy", no_python, {}))
    proc = run_cli("correlate", str(suite["root"]), "--area", AREA_ARGS[1], "--predict", str(missing))
    assert proc.returncode == 2 and str(missing) in proc.stderr and "'compression_python'" in proc.stderr


def test_refuses_a_bpc_of_zero_for_the_log_form(suite, tmp_path):
    zero = {**new_bpc(suite["models"], NEW[0]), "compression_cc": 0.0}
    path = fx.write_results(tmp_path, "synthetic/zero", fx.make_results("synthetic/zero", zero, {}))
    fitted = load_results(suite["root"])
    fits = correlate(fitted, Area.parse(AREA_ARGS[0]))
    with pytest.raises(ResultsError) as info:
        predict_scores(fits, fitted, load_results(path))
    assert str(path) in str(info.value) and "above zero" in str(info.value)
