"""Parsing areas and score lists."""

from __future__ import annotations

import pytest

from lm_eval_compression.report.areas import Area, ScoreSpec


def test_parse_areas_and_scores():
    area = Area.parse("math=gsm8k/exact_match,strict-match")
    assert area.bpc_task == "compression_arxiv_math"
    assert area.scores == (ScoreSpec("gsm8k", "exact_match", "strict-match"),)
    area = Area.parse("knowledge=hellaswag/acc_norm,arc_easy/acc")
    assert area.bpc_task == "compression_cc"
    assert [s.key for s in area.scores] == ["acc_norm,none", "acc,none"]
    area = Area.parse("mine:compression_python=a/m,f1,b/n")
    assert (area.name, area.bpc_task) == ("mine", "compression_python")
    assert [str(s) for s in area.scores] == ["a/m,f1", "b/n"]
    with pytest.raises(ValueError):
        Area.parse("nonsense=a/b")
