"""The BPC table: its Average, and refusing rows that mix document sets."""

from __future__ import annotations

import numpy as np
import pytest

from lm_eval_compression.report import synthetic as fx
from lm_eval_compression.report.areas import Area, ScoreSpec
from lm_eval_compression.report.correlate import correlate
from lm_eval_compression.report.leaderboard import leaderboard
from lm_eval_compression.report.render import leaderboard_markdown
from lm_eval_compression.report.results import NotComparableError, load_results
from tests.report.helpers import run_cli


def test_group_mean_used_or_computed(suite, tmp_path):
    models = suite["models"]
    board = leaderboard(load_results(suite["root"]))
    assert board.mean_source == "group"
    means = {m["model"]: np.mean(list(m["bpc"].values())) for m in models}
    assert [r.label for r in board.rows] == sorted(means, key=means.get)
    for row in board.rows:
        assert row.mean == pytest.approx(means[row.label], abs=1e-12)
    # without the group row the mean is computed, unweighted, from the three corpora
    fx.write_suite(tmp_path, models, fx.RunVariant(group=False))
    loaded = load_results(tmp_path)
    board = leaderboard(loaded)
    assert board.mean_source == "computed"
    assert {r.label: r.mean for r in board.rows} == pytest.approx(means, abs=1e-12)
    [fit] = correlate(loaded, Area("all", "compression", (ScoreSpec("hellaswag", "acc_norm"),)))
    assert {r.label: r.bpc for r in fit.rows} == pytest.approx(means, abs=1e-12)


def test_refuses_a_row_mixing_a_limit_run_with_full_runs(tmp_path):
    """A newer ``--limit 2`` run of compression_cc next to a full run of the three corpora."""
    [base] = fx.synthetic_models(1)
    name = base["model"]
    full = fx.write_results(tmp_path, name, fx.make_results(name, base["bpc"], {}))
    limited_bpc = {"compression_cc": base["bpc"]["compression_cc"] + 0.05}
    limited_run = fx.make_results(name, limited_bpc, {}, fx.RunVariant(group=False, limit=2))
    limited = fx.write_results(tmp_path, name, limited_run)
    [model] = load_results(tmp_path)
    assert model.source("compression_cc").path == limited and model.source("compression_python").path == full
    with pytest.raises(NotComparableError) as info:
        leaderboard([model])
    message = str(info.value)
    assert repr(name) in message and str(limited) in message and str(full) in message
    assert "2 of 120 documents (--limit 2)" in message and "all 80 documents" in message


def test_cli_leaderboard_refuses_mixed_document_sets(tmp_path):
    [base] = fx.synthetic_models(1)
    name = base["model"]
    fx.write_results(tmp_path, name, fx.make_results(name, base["bpc"], {}))
    limited = fx.make_results(name, {"compression_cc": 0.9}, {}, fx.RunVariant(group=False, limit=2))
    fx.write_results(tmp_path, name, limited)
    proc = run_cli("leaderboard", str(tmp_path))
    assert proc.returncode == 2 and proc.stdout == ""
    assert "Traceback" not in proc.stderr and "different document sets" in proc.stderr


def test_same_limit_everywhere_is_one_document_set(tmp_path):
    [base] = fx.synthetic_models(1)
    fx.write_results(tmp_path, base["model"], fx.make_results(base["model"], base["bpc"], {}, fx.RunVariant(limit=2)))
    [row] = leaderboard(load_results(tmp_path)).rows
    assert row.mean == pytest.approx(np.mean(list(base["bpc"].values())), abs=1e-12)


def test_average_is_the_mean_of_the_columns_shown(suite, tmp_path):
    """A re-run of one corpus replaces its column; the Average follows it, not the older group row."""
    models = fx.synthetic_models()
    fx.write_suite(tmp_path, models)
    first = models[0]
    rerun = {"compression_cc": first["bpc"]["compression_cc"] - 0.1}
    fx.write_results(tmp_path, first["model"], fx.make_results(first["model"], rerun, {}, fx.RunVariant(group=False)))
    board = leaderboard(load_results(tmp_path))
    shown = {row.label: row for row in board.rows}[first["model"]]
    assert shown.bpc["compression_cc"] == rerun["compression_cc"]
    expected_mean = (
        rerun["compression_cc"] + first["bpc"]["compression_python"] + first["bpc"]["compression_arxiv_math"]
    ) / 3
    assert shown.mean == pytest.approx(expected_mean, abs=1e-12)
    assert board.mean_source == "computed"
    for row in board.rows:
        assert row.mean == pytest.approx(np.mean([row.bpc[t] for t in board.tasks]), abs=1e-12)
    text = leaderboard_markdown(board)
    assert f"| {first['model']} | {shown.bpc['compression_cc']:.4f} |" in text and f"{expected_mean:.4f} |" in text
    assert "Average is the unweighted mean of the columns." in text
