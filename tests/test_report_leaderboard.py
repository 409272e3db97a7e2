"""The BPC table: its Average, and refusing rows that mix document sets."""

from __future__ import annotations

import numpy as np
import pytest

from lm_eval_compression.report import synthetic as fx
from lm_eval_compression.report.areas import Area, ScoreSpec
from lm_eval_compression.report.correlate import correlate
from lm_eval_compression.report.leaderboard import leaderboard
from lm_eval_compression.report.results import load_results


def test_group_mean_used_or_computed(suite, tmp_path):
    models = suite["models"]
    board = leaderboard(load_results(suite["root"]))
    assert board.mean_source == "group"
    means = {m["model"]: np.mean(list(m["bpc"].values())) for m in models}
    assert [r.label for r in board.rows] == sorted(means, key=means.get)
    for row in board.rows:
        assert row.mean == pytest.approx(means[row.label], abs=1e-12)
    # without the group row the mean is computed, unweighted, from the three corpora
    fx.write_suite(tmp_path, models, group=False)
    loaded = load_results(tmp_path)
    board = leaderboard(loaded)
    assert board.mean_source == "computed"
    assert {r.label: r.mean for r in board.rows} == pytest.approx(means, abs=1e-12)
    [fit] = correlate(loaded, Area("all", "compression", (ScoreSpec("hellaswag", "acc_norm"),)))
    assert {r.label: r.bpc for r in fit.rows} == pytest.approx(means, abs=1e-12)
