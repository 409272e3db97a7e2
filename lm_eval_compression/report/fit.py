"""The fits of one area: score against bpc in both forms (:mod:`.line`), with the correlations (scipy.stats).

Pearson r with its Fisher-z interval and Spearman rho of score against bpc; the
``linear`` and the ``log`` line, each with each model's prediction, residual and
leave-one-out error; and which form predicts the left-out models better.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as st

from .areas import Area
from .forms import FORMS
from .line import CONFIDENCE, Line, fit_line
from .results import NotComparableError, ResultsError

MIN_MODELS = 3


def check_model_count(models: Sequence[str], minimum: int = MIN_MODELS) -> None:
    """Refuse fewer than ``minimum`` models; ``models`` describes each (label, and files where known)."""
    if len(models) < minimum:
        raise NotComparableError(
            f"need at least {minimum} models for a fit, got {len(models)}: {'; '.join(models) or 'none'}"
        )


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


@dataclass(frozen=True)
class PointFit:
    """One model under one form; ``residual`` and ``loo_error`` are score minus prediction."""

    predicted: float
    residual: float
    loo_predicted: float
    loo_error: float


@dataclass(frozen=True)
class FitRow:
    """One model in one area, with its prediction under each form (``forms['linear']``, ``forms['log']``)."""

    label: str
    model_name: str
    files: tuple[str, ...]
    bpc: float
    bpc_stderr: float | None
    score: float
    components: Mapping[str, float]
    forms: Mapping[str, PointFit]


@dataclass(frozen=True)
class FitStats:
    """Correlation of score and bpc (scipy.stats) in one area."""

    n: int
    pearson_r: float
    pearson_p: float
    pearson_ci_low: float
    pearson_ci_high: float
    spearman_rho: float
    spearman_p: float
    confidence: float = CONFIDENCE


@dataclass(frozen=True)
class AreaFit:
    """Score against bpc of one area: rows sorted by bpc, the correlations, and one :class:`Line` per form."""

    area: Area
    rows: list[FitRow]
    stats: FitStats
    lines: Mapping[str, Line]

    @property
    def better_form(self) -> str:
        """The form with the lower leave-one-out RMSE (``linear`` on a tie)."""
        rmse = {form: self.lines[form].loo_rmse for form in FORMS}
        return min(FORMS, key=lambda form: rmse[form] if math.isfinite(rmse[form]) else math.inf)

    @property
    def bpc_range(self) -> tuple[float, float]:
        """Lowest and highest bpc of the fitted models."""
        return self.rows[0].bpc, self.rows[-1].bpc

    def predict(self, bpc, form: str = "linear"):
        """Score the ``form`` line predicts at ``bpc`` (number or numpy array)."""
        return self.lines[form].predict(bpc)

    def confidence_band(self, bpc, level: float | None = None, form: str = "linear"):
        """(low, high) band of the mean prediction of the ``form`` line at ``bpc``."""
        return self.lines[form].confidence_band(bpc, self.stats.confidence if level is None else level)

    def prediction_interval(self, bpc, level: float | None = None, form: str = "linear"):
        """(low, high) interval of one more model's score at ``bpc`` under the ``form`` line."""
        return self.lines[form].prediction_interval(bpc, self.stats.confidence if level is None else level)


def _correlations(x: np.ndarray, y: np.ndarray, confidence: float) -> FitStats:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pearson = st.pearsonr(x, y)
        try:
            low, high = pearson.confidence_interval(confidence_level=confidence)
        except (ValueError, ZeroDivisionError):
            low, high = math.nan, math.nan
        spearman = st.spearmanr(x, y)
    return FitStats(
        n=len(x),
        pearson_r=float(pearson.statistic),
        pearson_p=float(pearson.pvalue),
        pearson_ci_low=float(low),
        pearson_ci_high=float(high),
        spearman_rho=float(spearman.statistic),
        spearman_p=float(spearman.pvalue),
        confidence=confidence,
    )


def _check_points(points: Sequence[ModelPoint], area: Area) -> None:
    """Refuse a bpc the log form cannot take, and an area where every model has the same bpc."""
    for p in points:
        if not p.bpc > 0:
            raise ResultsError(
                f"area {area.name!r}: model {p.label!r} has bpc {p.bpc:g} ({'; '.join(p.files) or 'no file'}); "
                "the log fit needs bits per character above zero"
            )
    if len({p.bpc for p in points}) == 1:
        raise ResultsError(f"area {area.name!r}: cannot fit a line, every model has the same bpc ({points[0].bpc:.6g})")


def _row(point: ModelPoint, lines: Mapping[str, Line], index: int) -> FitRow:
    forms = {}
    for form, line in lines.items():
        predicted = float(line.predict(point.bpc))
        forms[form] = PointFit(predicted, point.score - predicted, line.loo_predicted[index], line.loo_errors[index])
    return FitRow(
        label=point.label,
        model_name=point.model_name or point.label,
        files=tuple(point.files),
        bpc=float(point.bpc),
        bpc_stderr=point.bpc_stderr,
        score=float(point.score),
        components=dict(point.components),
        forms=forms,
    )


def fit_area(points: Sequence[ModelPoint], area: Area, confidence: float = CONFIDENCE) -> AreaFit:
    """Fit score against bpc in both forms, with Pearson (+CI), Spearman, residuals and leave-one-out errors."""
    check_model_count([p.label for p in points])
    _check_points(points, area)
    x = np.asarray([p.bpc for p in points], dtype=float)
    y = np.asarray([p.score for p in points], dtype=float)
    lines = {form: fit_line(form, x, y) for form in FORMS}
    rows = sorted((_row(p, lines, i) for i, p in enumerate(points)), key=lambda r: (r.bpc, r.label))
    return AreaFit(area, rows, _correlations(x, y, confidence), lines)
