"""Shared helpers of the report tests: the areas of the synthetic suite, odd results files, the commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lm_eval_compression.report import synthetic as fx
from lm_eval_compression.report.areas import Area
from lm_eval_compression.report.correlate import correlate
from lm_eval_compression.report.results import NotComparableError

REPO = Path(__file__).resolve().parents[1]
AREAS = {
    "knowledge": ("compression_cc", ["hellaswag/acc_norm", "arc_easy/acc"]),
    "coding": ("compression_python", ["humaneval/pass@1,create_test"]),
    "math": ("compression_arxiv_math", ["gsm8k/exact_match,strict-match"]),
}
AREA_ARGS = [f"{name}={','.join(scores)}" for name, (_, scores) in AREAS.items()]


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


def refusal(paths, area=AREA_ARGS[0]) -> str:
    with pytest.raises(NotComparableError) as info:
        correlate(list(paths), Area.parse(area))
    return str(info.value)


@pytest.mark.parametrize(
    "setting,value", [("stride", 256), ("protocol", "chunked"), ("block_size", 2048), ("window_bos", False)]
)
def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "lm_eval_compression", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )
