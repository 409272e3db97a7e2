"""Data parallelism: two real processes over gloo give exactly the one-process numbers (the ranks are the
``two_rank_reports`` fixture, conftest.py)."""

import ast
import math

import pytest

from tests.support.api import evaluate, load_lm, per_doc

TASKS = ("compression_cc", "compression_python")


@pytest.mark.slow
def test_two_ranks_equal_one_process(tiny_models, corpus_dir, two_rank_reports):
    model = tiny_models["bos"]
    # Both ranks must use batch 1, which also makes every window a batch of its own, as in the one-process
    # run below (batch 1).
    rank0, rank1 = (report["document"] for report in two_rank_reports)
    assert "error" not in rank0 and "error" not in rank1, (rank0.get("error"), rank1.get("error"))
    assert rank0["batch_sizes"] and rank0["batch_sizes"] == rank1["batch_sizes"] == [1] * len(rank0["batch_sizes"])
    assert min(rank0["local_batch_sizes"]) > 1 and rank1["local_batch_sizes"] == rank1["batch_sizes"]
    single = evaluate(load_lm(model), list(TASKS), {"data_dir": corpus_dir, "block_size": 32, "stride": 8})
    for task in TASKS:
        merged = {int(k): ast.literal_eval(v) if isinstance(v, str) else v for k, v in rank0["samples"][task].items()}
        want = per_doc(single, task)
        assert sorted(merged) == list(range(len(want)))
        for doc_id, resp in enumerate(want):
            assert math.isclose(merged[doc_id]["loglikelihood"], resp["loglikelihood"], rel_tol=1e-12, abs_tol=0)
        for metric in ("bpc,none", "bpb,none", "total_nats,none", "total_chars,none", "scored_tokens,none"):
            assert math.isclose(rank0["results"][task][metric], single["results"][task][metric], rel_tol=1e-12)


def test_two_ranks_refuse_the_paper_protocol_before_scoring(two_rank_reports):
    for report in (r["paper"] for r in two_rank_reports):
        assert "protocol=paper scores one token stream" in report["error"]
        assert "cannot be split across 2 data-parallel processes" in report["error"]
        assert report["batch_sizes"] == []  # no batch size was even chosen: nothing was scored
