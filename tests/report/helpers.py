"""Shared helpers of the report tests: the areas of the synthetic suite, odd results files, the commands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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
