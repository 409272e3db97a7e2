"""Numbers the report cannot rank: a bpc that is not a finite non-negative number, a benchmark score that
is not finite, and a compression task whose results file does not say how it was computed, are refused
with the file and the task named; the command exits 2 and prints no table."""

from __future__ import annotations

import json
import math

import pytest

from lm_eval_compression.report import synthetic as fx
from tests.report.helpers import AREA_ARGS, odd_file, run_cli


def _suite_with(tmp_path, bpc: float, model: int = 5, task: str = "compression_cc"):
    """The synthetic suite with one model's ``task`` bpc replaced by ``bpc``; returns that model's file."""
    models = fx.synthetic_models()
    models[model]["bpc"][task] = bpc
    files = fx.write_suite(tmp_path, models)
    return files[models[model]["model"]]


@pytest.mark.parametrize("value", [math.nan, math.inf, -0.25])
def test_leaderboard_refuses_a_bpc_it_cannot_rank(tmp_path, value):
    path = _suite_with(tmp_path, value)
    proc = run_cli("leaderboard", str(tmp_path))
    assert proc.returncode == 2 and proc.stdout == ""
    assert str(path) in proc.stderr and "'compression_cc'" in proc.stderr and "Traceback" not in proc.stderr
    assert "bpc,none" in proc.stderr


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_correlate_refuses_a_bpc_it_cannot_fit(tmp_path, value):
    path = _suite_with(tmp_path, value)
    proc = run_cli("correlate", str(tmp_path), "--area", AREA_ARGS[0])
    assert proc.returncode == 2 and proc.stdout == ""
    assert str(path) in proc.stderr and "'compression_cc'" in proc.stderr


def test_correlate_refuses_a_score_it_cannot_fit(suite, tmp_path):
    scores = {**fx.synthetic_models()[0]["scores"], "hellaswag/acc_norm": math.nan}
    path = odd_file(tmp_path, scores=scores)
    proc = run_cli("correlate", str(suite["root"]), str(path), "--area", AREA_ARGS[0])
    assert proc.returncode == 2 and proc.stdout == ""
    assert str(path) in proc.stderr and "'hellaswag'" in proc.stderr and "acc_norm,none" in proc.stderr


def test_refuses_a_compression_task_without_its_settings(suite, tmp_path):
    """A results file whose compression task records neither the plugin's settings block nor the window
    settings in its metadata cannot be compared with the others."""
    path = odd_file(tmp_path)
    data = json.loads(path.read_text())
    del data["configs"]["compression_cc"]
    path.write_text(json.dumps(data))
    for args in (["leaderboard"], ["correlate", "--area", AREA_ARGS[0]]):
        proc = run_cli(*args, str(suite["root"]), str(path))
        assert proc.returncode == 2 and proc.stdout == "", proc.stdout
        assert str(path) in proc.stderr and "'compression_cc'" in proc.stderr
        assert "block_size" in proc.stderr
