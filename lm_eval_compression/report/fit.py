"""The line of one area: score against bpc with scipy.stats, plus leave-one-out prediction errors.

Pearson r with its Fisher-z interval, Spearman rho, least squares (``linregress``)
with standard errors, the confidence band of the mean prediction, and for each
model the error of the line fitted without it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as st

from .areas import Area
from .results import NotComparableError, ResultsError

MIN_MODELS = 3
CONFIDENCE = 0.95


def check_model_count(models: Sequence[str], minimum: int = MIN_MODELS) -> None:
    """Refuse fewer than ``minimum`` models; ``models`` describes each (label, and files where known)."""
    if len(models) < minimum:
        raise NotComparableError(
            f"need at least {minimum} models for a linear fit, got {len(models)}: {'; '.join(models) or 'none'}"
        )


@dataclass
class FitRow:
    """One model in one area; ``residual`` and ``loo_error`` are score minus prediction."""

    label: str
    model_name: str
    files: tuple[str, ...]
    bpc: float
    bpc_stderr: float | None
    score: float
    components: dict[str, float]
    predicted: float
    residual: float
    loo_predicted: float
    loo_error: float


@dataclass
class FitStats:
    """Correlation and least-squares statistics of one area (scipy.stats)."""

    n: int
    pearson_r: float
    pearson_p: float
    pearson_ci_low: float
    pearson_ci_high: float
    spearman_rho: float
    spearman_p: float
    slope: float
    intercept: float
    slope_stderr: float
    intercept_stderr: float
    r_squared: float
    loo_rmse: float
    loo_mae: float
    confidence: float = CONFIDENCE


@dataclass
class AreaFit:
    """Score against bpc of one area: rows sorted by bpc, plus statistics."""

    area: Area
    rows: list[FitRow]
    stats: FitStats

    def predict(self, bpc):
        """Score the fitted line predicts at ``bpc`` (number or numpy array)."""
        return self.stats.intercept + self.stats.slope * bpc

    def confidence_band(self, bpc, level: float | None = None):
        """(low, high) band of the mean prediction at ``bpc``.

        Standard error of the fitted mean from the regression's standard errors:
        var = se_b0^2 + se_b1^2 * (x^2 - 2 x mean(x)), which equals
        s^2 (1/n + (x - mean)^2 / Sxx); the half-width is that times scipy.stats.t's
        quantile with n - 2 degrees of freedom.
        """
        level = self.stats.confidence if level is None else level
        x = np.asarray(bpc, dtype=float)
        mean_x = float(np.mean([r.bpc for r in self.rows]))
        variance = self.stats.intercept_stderr**2 + self.stats.slope_stderr**2 * (x * x - 2 * x * mean_x)
        half = st.t.ppf(0.5 + level / 2, self.stats.n - 2) * np.sqrt(np.maximum(variance, 0.0))
        centre = self.predict(x)
        return centre - half, centre + half


def _fit_line(x, y):
    """scipy.stats.linregress, or None when it cannot fit (all x equal)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return st.linregress(x, y)
    except ValueError:
        return None


@dataclass(frozen=True)
class ModelPoint:
    """One model in one area: the numbers fitted (bpc, score) and what the table shows beside them."""

    label: str
    bpc: float
    score: float
    bpc_stderr: float | None = None
    components: Mapping[str, float] = field(default_factory=dict)
    model_name: str | None = None  # default: the label
    files: tuple[str, ...] = ()


def _loo_predictions(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each model's score as predicted by the line fitted without it (NaN where that cannot be fitted)."""
    n = len(x)
    loo = np.full(n, math.nan)
    for i in range(n):
        keep = np.arange(n) != i
        sub = _fit_line(x[keep], y[keep])
        if sub is not None:
            loo[i] = sub.intercept + sub.slope * x[i]
    return loo


def _statistics(x: np.ndarray, y: np.ndarray, line, loo_error: np.ndarray, confidence: float) -> FitStats:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pearson = st.pearsonr(x, y)
        try:
            low, high = pearson.confidence_interval(confidence_level=confidence)
        except (ValueError, ZeroDivisionError):
            low, high = math.nan, math.nan
        spearman = st.spearmanr(x, y)
    finite = loo_error[np.isfinite(loo_error)]
    return FitStats(
        n=len(x),
        pearson_r=float(pearson.statistic),
        pearson_p=float(pearson.pvalue),
        pearson_ci_low=float(low),
        pearson_ci_high=float(high),
        spearman_rho=float(spearman.statistic),
        spearman_p=float(spearman.pvalue),
        slope=float(line.slope),
        intercept=float(line.intercept),
        slope_stderr=float(line.stderr),
        intercept_stderr=float(line.intercept_stderr),
        r_squared=float(line.rvalue**2),
        loo_rmse=float(np.sqrt(np.mean(finite**2))) if finite.size else math.nan,
        loo_mae=float(np.mean(np.abs(finite))) if finite.size else math.nan,
        confidence=confidence,
    )


def fit_area(points: Sequence[ModelPoint], area: Area, confidence: float = CONFIDENCE) -> AreaFit:
    """Fit score against bpc with scipy: Pearson (+CI), Spearman, least squares, residuals, leave-one-out."""
    check_model_count([p.label for p in points])
    x = np.asarray([p.bpc for p in points], dtype=float)
    y = np.asarray([p.score for p in points], dtype=float)
    line = _fit_line(x, y)
    if line is None:
        raise ResultsError(f"area {area.name!r}: cannot fit a line, every model has the same bpc ({x[0]:.6g})")
    predicted = line.intercept + line.slope * x
    loo = _loo_predictions(x, y)
    stats = _statistics(x, y, line, y - loo, confidence)
    rows = [
        FitRow(
            label=p.label,
            model_name=p.model_name or p.label,
            files=tuple(p.files),
            bpc=float(x[i]),
            bpc_stderr=p.bpc_stderr,
            score=float(y[i]),
            components=dict(p.components),
            predicted=float(predicted[i]),
            residual=float(y[i] - predicted[i]),
            loo_predicted=float(loo[i]),
            loo_error=float(y[i] - loo[i]),
        )
        for i, p in enumerate(points)
    ]
    rows.sort(key=lambda r: (r.bpc, r.label))
    return AreaFit(area, rows, stats)
