"""Shared helpers of the report tests: the areas of the synthetic suite, odd results files, the commands."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import t as student_t

from lm_eval_compression.report import synthetic as fx
from lm_eval_compression.report.areas import Area
from lm_eval_compression.report.correlate import correlate
from lm_eval_compression.report.results import NotComparableError
from tests.support.cli import REPO, run_plugin  # noqa: F401 (REPO: re-exported to the command tests)

AREAS = {
    "knowledge": ("compression_cc", ["hellaswag/acc_norm", "arc_easy/acc"]),
    "coding": ("compression_python", ["humaneval/pass@1,create_test"]),
    "math": ("compression_arxiv_math", ["gsm8k/exact_match,strict-match"]),
}
AREA_ARGS = [f"{name}={','.join(scores)}" for name, (_, scores) in AREAS.items()]
NEW = ("synthetic/new-inside", "synthetic/new-better", "synthetic/new-worse")  # models to predict


def new_bpc(models, name: str) -> dict[str, float]:
    """Bpc per corpus of a model to predict: the fitted models' median bpc (``NEW[0]``), 0.8 times their
    lowest (``NEW[1]``), or 1.1 times their highest (``NEW[2]``)."""
    out = {}
    for task in fx.CORPORA:
        values = [m["bpc"][task] for m in models]
        out[task] = {NEW[0]: float(np.median(values)), NEW[1]: 0.8 * min(values), NEW[2]: 1.1 * max(values)}[name]
    return out


def odd_file(tmp_path, name="synthetic/odd", scores=None, bpc=None, **kwargs) -> Path:
    """One extra model's results file in its own folder (a copy of the first synthetic model's numbers)."""
    base = fx.synthetic_models()[0]
    variant = fx.RunVariant(**kwargs)
    results = fx.make_results(name, bpc or base["bpc"], base["scores"] if scores is None else scores, variant)
    return fx.write_results(tmp_path / "odd", name, results)


def expected(models, area):
    """x, y of an area straight from the fixture numbers."""
    bpc_task, scores = AREAS[area]
    x = np.array([m["bpc"][bpc_task] for m in models])
    y = np.array([np.mean([m["scores"][s] for s in scores]) for m in models])
    return x, y


def refusal(paths, area=AREA_ARGS[0]) -> str:
    with pytest.raises(NotComparableError) as info:
        correlate(list(paths), Area.parse(area))
    return str(info.value)


def run_cli(*args):
    return run_plugin(list(args), check=False, timeout=120)


def ols(term: np.ndarray, y: np.ndarray):
    """Least squares by numpy on the design matrix [1, term]: coefficients, s, (X'X)^-1, LOO errors."""
    design = np.column_stack([np.ones_like(term), term])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residuals = y - design @ coef
    s = math.sqrt(float(residuals @ residuals) / (len(y) - 2))
    inverse = np.linalg.inv(design.T @ design)
    hat = np.einsum("ij,jk,ik->i", design, inverse, design)
    return coef, s, inverse, residuals, residuals / (1 - hat)


def intervals(coef, s, inverse, term0: np.ndarray, n: int):
    """(centre, half-width of the 95 % band of the mean, half-width of the 95 % prediction interval) at term0."""
    x0 = np.column_stack([np.ones_like(term0), term0])
    leverage = np.einsum("ij,jk,ik->i", x0, inverse, x0)
    q = student_t.ppf(0.975, n - 2)
    return x0 @ coef, q * s * np.sqrt(leverage), q * s * np.sqrt(1 + leverage)
