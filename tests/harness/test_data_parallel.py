"""Data parallelism: two real processes over gloo give exactly the one-process numbers."""

import ast
import json
import math
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.api import evaluate, load_lm, per_doc
from tests.support.cli import REPO, offline_env

WORKER = "tests.support.two_rank_worker"
TASKS = ("compression_cc", "compression_python")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_ranks(model, corpus, out, protocol, rank1_memory=None) -> list[dict]:
    port = free_port()
    env = offline_env()
    procs = []
    for rank in (0, 1):
        extra = [str(rank1_memory)] if rank == 1 and rank1_memory else []
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", WORKER, str(rank), str(port), model, corpus, str(out), protocol, *extra],
                env=env,
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    logs = [p.communicate(timeout=600)[0] for p in procs]
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-4000:]
    return [json.loads(Path(out, f"rank{r}.json").read_text()) for r in (0, 1)]


@pytest.mark.slow
def test_two_ranks_equal_one_process(tiny_models, corpus_dir, tmp_path):
    model = tiny_models["bos"]
    # Rank 1 sees little free memory: alone it would choose batch 1, rank 0 a larger one; both must use 1,
    # which also makes every window a batch of its own, as in the one-process run below (batch 1).
    rank0, rank1 = two_ranks(model, corpus_dir, tmp_path, "document", rank1_memory=100_000)
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


def test_two_ranks_refuse_the_paper_protocol_before_scoring(tiny_models, corpus_dir, tmp_path, monkeypatch):
    rank0, rank1 = two_ranks(tiny_models["plain"], corpus_dir, tmp_path, "paper")
    for report in (rank0, rank1):
        assert "protocol=paper scores one token stream" in report["error"]
        assert "cannot be split across 2 data-parallel processes" in report["error"]
        assert report["batch_sizes"] == []  # no batch size was even chosen: nothing was scored
