"""One least-squares line of score against bpc, in one of two forms, with its intervals and leave-one-out errors.

Either form (:mod:`.forms`: ``linear`` in bpc, ``log`` in ln bpc) is ordinary least
squares on its term: coefficients and standard errors from
``scipy.stats.linregress``; the confidence band of the mean prediction and the
prediction interval of one more model's score from ``scipy.stats.t`` with n - 2
degrees of freedom; and each model's prediction by the line fitted without it
(``numpy.polyfit``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats as st

from .forms import TERMS, term

CONFIDENCE = 0.95


def _regress(x: np.ndarray, y: np.ndarray):
    """scipy.stats.linregress, or None when it cannot fit (all x equal)."""
    if np.ptp(x) == 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return st.linregress(x, y)


@dataclass(frozen=True)
class Line:
    """A fitted line in one form; ``loo_predicted`` and ``loo_errors`` follow the order of the fitted models."""

    form: str
    n: int
    intercept: float
    slope: float
    intercept_stderr: float
    slope_stderr: float
    r_squared: float
    residual_sd: float  # s = sqrt(SSE / (n - 2))
    centre: float  # mean of the fitted terms
    spread: float  # sum of squared deviations of the fitted terms from their mean
    loo_predicted: tuple[float, ...]
    loo_errors: tuple[float, ...]  # score minus the prediction of the line fitted without that model

    @property
    def loo_rmse(self) -> float:
        finite = [e for e in self.loo_errors if math.isfinite(e)]
        return math.sqrt(sum(e * e for e in finite) / len(finite)) if finite else math.nan

    @property
    def loo_mae(self) -> float:
        finite = [abs(e) for e in self.loo_errors if math.isfinite(e)]
        return sum(finite) / len(finite) if finite else math.nan

    def predict(self, bpc):
        """The score this line predicts at ``bpc`` (number or numpy array)."""
        return self.intercept + self.slope * term(self.form, bpc)

    def _half_width(self, bpc, level: float, one_model: float):
        distance = (term(self.form, bpc) - self.centre) ** 2 / self.spread
        quantile = st.t.ppf(0.5 + level / 2, self.n - 2)
        return quantile * self.residual_sd * np.sqrt(one_model + 1 / self.n + distance)

    def confidence_band(self, bpc, level: float = CONFIDENCE):
        """(low, high) of the mean score at ``bpc``: prediction ± t · s · sqrt(1/n + (x - mean)² / Sxx)."""
        centre, half = self.predict(bpc), self._half_width(bpc, level, 0.0)
        return centre - half, centre + half

    def prediction_interval(self, bpc, level: float = CONFIDENCE):
        """(low, high) of one more model's score at ``bpc``: prediction ± t · s · sqrt(1 + 1/n + (x - mean)² / Sxx)."""
        centre, half = self.predict(bpc), self._half_width(bpc, level, 1.0)
        return centre - half, centre + half


def _loo_predictions(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each model's score as predicted by the line fitted without it (``numpy.polyfit``; NaN where the
    others all have the same term)."""
    n = len(x)
    loo = np.full(n, math.nan)
    for i in range(n):
        keep = np.arange(n) != i
        if np.ptp(x[keep]) > 0:
            slope, intercept = np.polyfit(x[keep], y[keep], 1)
            loo[i] = intercept + slope * x[i]
    return loo


def fit_line(form: str, bpc, score) -> Line | None:
    """Least squares of ``score`` on the form's term of ``bpc``; None when every term is the same.

    Needs at least three models (n - 2 degrees of freedom) and, for ``log``, bpc above zero.
    """
    x, y = term(form, bpc), np.asarray(score, dtype=float)
    if len(x) < 3:
        raise ValueError(f"a line needs at least 3 models, got {len(x)}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"the {form} form needs {TERMS[form]} to be finite for every model")
    line = _regress(x, y)
    if line is None:
        return None
    residuals = y - (line.intercept + line.slope * x)
    loo = _loo_predictions(x, y)
    return Line(
        form=form,
        n=len(x),
        intercept=float(line.intercept),
        slope=float(line.slope),
        intercept_stderr=float(line.intercept_stderr),
        slope_stderr=float(line.stderr),
        r_squared=float(line.rvalue**2),
        residual_sd=float(np.sqrt(np.sum(residuals**2) / (len(x) - 2))),
        centre=float(np.mean(x)),
        spread=float(np.sum((x - np.mean(x)) ** 2)),
        loo_predicted=tuple(float(v) for v in loo),
        loo_errors=tuple(float(v) for v in y - loo),
    )
