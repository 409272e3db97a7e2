"""The fit's statistics against independent numpy computations.

Expected statistics are computed here with numpy (np.corrcoef, np.polyfit,
Fisher-z interval, argsort ranks, an explicit leave-one-out loop), from the
fixture's numbers rather than from the files.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from lm_eval_compression.report.areas import Area
from lm_eval_compression.report.correlate import correlate
from lm_eval_compression.report.results import load_results
from tests.report.helpers import AREA_ARGS, AREAS, expected


@pytest.mark.parametrize("area_name", list(AREAS))
def test_statistics_match_numpy(suite, area_name):
    [fit] = correlate(load_results(suite["root"]), Area.parse(AREA_ARGS[list(AREAS).index(area_name)]))
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

    line = fit.lines["linear"]
    slope, intercept = np.polyfit(x, y, 1)
    predicted = slope * x + intercept
    sse = float(np.sum((y - predicted) ** 2))
    r2 = 1 - sse / float(np.sum((y - y.mean()) ** 2))
    sxx = float(np.sum((x - x.mean()) ** 2))
    resid_sd = math.sqrt(sse / (n - 2))
    assert line.slope == pytest.approx(slope, rel=1e-9)
    assert line.intercept == pytest.approx(intercept, rel=1e-9)
    assert line.r_squared == pytest.approx(r2, rel=1e-9)
    assert line.slope_stderr == pytest.approx(resid_sd / math.sqrt(sxx), rel=1e-9)

    loo = np.empty(n)
    for i in range(n):
        keep = np.arange(n) != i
        b1, b0 = np.polyfit(x[keep], y[keep], 1)
        loo[i] = y[i] - (b1 * x[i] + b0)
    assert line.loo_rmse == pytest.approx(math.sqrt(np.mean(loo**2)), rel=1e-9)
    assert line.loo_mae == pytest.approx(np.mean(np.abs(loo)), rel=1e-9)

    # rows sorted by bpc; each model's prediction, residual and LOO error
    assert [row.bpc for row in fit.rows] == sorted(x.tolist())
    rows = {row.label: row for row in fit.rows}
    for i, name in enumerate(names):
        row = rows[name]
        assert row.bpc == x[i] and row.score == pytest.approx(y[i], abs=1e-12)
        assert row.forms["linear"].predicted == pytest.approx(predicted[i], abs=1e-9)
        assert row.forms["linear"].residual == pytest.approx(y[i] - predicted[i], abs=1e-9)
        assert row.forms["linear"].loo_error == pytest.approx(loo[i], abs=1e-9)


def test_pearson_p_value_matches_t_test(suite):
    from scipy.stats import t

    [fit] = correlate(load_results(suite["root"]), Area.parse(AREA_ARGS[1]))
    x, y = expected(suite["models"], "coding")
    r, n = np.corrcoef(x, y)[0, 1], len(x)
    tstat = r * math.sqrt((n - 2) / (1 - r * r))
    assert fit.stats.pearson_p == pytest.approx(2 * t.sf(abs(tstat), n - 2), rel=1e-6)
