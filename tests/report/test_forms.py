"""The log fit, each form's leave-one-out errors and intervals against independent numpy/scipy computations, and
which form wins on the synthetic data.

Expected values come from the fixture's numbers with numpy's least squares on the design matrix
[1, ln bpc], its hat matrix (a model's leave-one-out error is its residual / (1 - h_ii)) and
scipy.stats.t, not from the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import t as student_t

from lm_eval_compression.report import synthetic as fx
from lm_eval_compression.report.areas import Area
from lm_eval_compression.report.correlate import correlate
from lm_eval_compression.report.fit import ModelPoint, fit_area
from lm_eval_compression.report.line import fit_line
from lm_eval_compression.report.results import ResultsError, load_results
from tests.report.helpers import AREA_ARGS, AREAS, expected, intervals, ols


@pytest.mark.parametrize("area_name", list(AREAS))
def test_log_fit_matches_numpy(suite, area_name):
    [fit] = correlate(load_results(suite["root"]), Area.parse(AREA_ARGS[list(AREAS).index(area_name)]))
    x, y = expected(suite["models"], area_name)
    coef, s, inverse, residuals, loo = ols(np.log(x), y)
    line = fit.lines["log"]
    assert (line.intercept, line.slope) == pytest.approx(tuple(coef), rel=1e-9)
    assert line.intercept_stderr == pytest.approx(s * math.sqrt(inverse[0, 0]), rel=1e-9)
    assert line.slope_stderr == pytest.approx(s * math.sqrt(inverse[1, 1]), rel=1e-9)
    assert line.residual_sd == pytest.approx(s, rel=1e-9)
    assert line.r_squared == pytest.approx(1 - residuals @ residuals / np.sum((y - y.mean()) ** 2), rel=1e-9)
    assert line.loo_rmse == pytest.approx(math.sqrt(np.mean(loo**2)), rel=1e-9)
    assert line.loo_mae == pytest.approx(np.mean(np.abs(loo)), rel=1e-9)
    rows = {row.label: row for row in fit.rows}
    for i, model in enumerate(suite["models"]):
        log_row = rows[model["model"]].forms["log"]
        assert log_row.predicted == pytest.approx(y[i] - residuals[i], abs=1e-9)
        assert log_row.residual == pytest.approx(residuals[i], abs=1e-9)
        assert log_row.loo_error == pytest.approx(loo[i], abs=1e-9)
        assert log_row.loo_predicted == pytest.approx(y[i] - loo[i], abs=1e-9)
    # the linear form's leave-one-out errors by the hat matrix too (test_fit checks them by refitting)
    *_, linear_loo = ols(x, y)
    assert [rows[m["model"]].forms["linear"].loo_error for m in suite["models"]] == pytest.approx(linear_loo, abs=1e-9)


@pytest.mark.parametrize("form", ["linear", "log"])
def test_intervals_match_the_ols_formulas(suite, form):
    """Band of the mean and prediction interval of one more model, inside, below and above the fitted range."""
    [fit] = correlate(load_results(suite["root"]), Area.parse(AREA_ARGS[1]))
    x, y = expected(suite["models"], "coding")
    transform = np.log if form == "log" else np.asarray
    coef, s, inverse, *_ = ols(transform(x), y)
    at = np.array([x.min() * 0.5, x.min(), np.median(x), x.max(), x.max() * 1.5])
    centre, band, spread = intervals(coef, s, inverse, transform(at), len(x))
    np.testing.assert_allclose(fit.predict(at, form), centre, atol=1e-9)
    np.testing.assert_allclose(fit.confidence_band(at, form=form), [centre - band, centre + band], atol=1e-9)
    np.testing.assert_allclose(fit.prediction_interval(at, form=form), [centre - spread, centre + spread], atol=1e-9)
    low, high = fit.prediction_interval(at, level=0.8, form=form)
    np.testing.assert_allclose(
        high - low, 2 * spread * student_t.ppf(0.9, len(x) - 2) / student_t.ppf(0.975, len(x) - 2)
    )


def test_prediction_interval_covers_95_percent_of_new_models():
    """Scores drawn from a known log line with normal noise: the 95 % prediction interval of a fit on 8 models
    holds a ninth model's score in 95 % of 2000 draws (binomial sd 0.5 %)."""
    rng = np.random.default_rng(7)
    bpc = np.linspace(0.15, 0.5, 8)
    inside = 0
    for _ in range(2000):
        line = fit_line("log", bpc, 0.1 - 0.4 * np.log(bpc) + rng.normal(0, 0.03, 8))
        new_bpc = rng.uniform(0.1, 0.6)
        low, high = line.prediction_interval(new_bpc)
        inside += low <= 0.1 - 0.4 * math.log(new_bpc) + rng.normal(0, 0.03) <= high
    assert 0.93 <= inside / 2000 <= 0.97


def test_refuses_a_fitted_bpc_of_zero():
    points = [ModelPoint(f"m{i}", bpc, 0.1 * i, files=(f"m{i}.json",)) for i, bpc in enumerate([0.0, 0.3, 0.5])]
    with pytest.raises(ResultsError) as info:
        fit_area(points, Area("coding", "compression_python", ()))
    assert "'m0'" in str(info.value) and "m0.json" in str(info.value) and "above zero" in str(info.value)


def test_log_curve_scores_are_logarithmic_in_bpc():
    """Without noise, a LogCurve benchmark lies on a + b ln(bpc) (to the files' 4 decimals) and the others on a
    line in bpc."""
    models = fx.synthetic_models(8, noise=0.0)
    curve = fx.SCORE_LINES["humaneval/pass@1,create_test"]
    bpc = np.array([m["bpc"][curve.corpus] for m in models])
    scores = np.array([m["scores"]["humaneval/pass@1,create_test"] for m in models])
    np.testing.assert_allclose(scores, curve.intercept + curve.slope * np.log(bpc), atol=6e-5)
    slope, intercept = np.polyfit(bpc, scores, 1)
    assert np.max(np.abs(scores - (intercept + slope * bpc))) > 0.03  # visibly curved in bpc
    gsm8k = np.array([m["scores"]["gsm8k/exact_match,strict-match"] for m in models])
    math_bpc = np.array([m["bpc"]["compression_arxiv_math"] for m in models])
    slope, intercept = np.polyfit(math_bpc, gsm8k, 1)
    np.testing.assert_allclose(gsm8k, intercept + slope * math_bpc, atol=1e-4)


def test_on_the_synthetic_report_data_the_generating_form_wins(suite):
    """Coding was generated logarithmic in bpc: the log form predicts the left-out models better; knowledge
    and math were generated linear: the log form predicts them worse."""
    fits = correlate(load_results(suite["root"]), [Area.parse(a) for a in AREA_ARGS])
    winners = {fit.area.name: fit.better_form for fit in fits}
    assert winners == {"knowledge": "linear", "coding": "log", "math": "linear"}
    for fit in fits:
        ratio = fit.lines["log"].loo_rmse / fit.lines["linear"].loo_rmse
        assert ratio < 0.8 if fit.area.name == "coding" else ratio > 1.25, (fit.area.name, ratio)


@pytest.mark.parametrize("seed", range(20))
def test_generating_form_wins_on_every_seed(seed):
    """Not one lucky draw: 16 models at 0.3 times the noise, 20 seeds, the same winner every time."""
    models = fx.synthetic_models(16, seed, noise=0.3)
    for area_name, (task, specs) in AREAS.items():
        points = [
            ModelPoint(m["model"], m["bpc"][task], float(np.mean([m["scores"][s] for s in specs]))) for m in models
        ]
        fit = fit_area(points, Area(area_name, task, ()))
        assert fit.better_form == ("log" if area_name == "coding" else "linear"), (seed, area_name)
