"""Fixtures of the engine tests: real ``lm_eval`` runs killed with SIGKILL and run again (one sequence per
protocol, shared by the resume tests), against an uninterrupted run of the same settings in process."""

import ast
import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.support.api import evaluate, load_lm, new_lm
from tests.support.cli import LM_EVAL_RUN, TASKS_DIR, offline_env, start_lm_eval
from tests.support.corpora import sample_docs, write_corpus

BLOCK, STRIDE = 32, 8
EVERY_WINDOW = {"LM_EVAL_COMPRESSION_CHECKPOINT_SECONDS": "0"}


@pytest.fixture(scope="session")
def long_corpus(tmp_path_factory):
    """Enough windows (about 900) that a run takes several seconds on the tiny model."""
    return write_corpus(tmp_path_factory.mktemp("long"), {"cc": sample_docs(7, 30, 160)})


def resume_meta(corpus, protocol, stride=STRIDE) -> dict:
    return {"data_dir": corpus, "block_size": BLOCK, "stride": stride, "protocol": protocol}


def lm_eval_cmd(model, corpus, protocol, out, cache=None):
    """Arguments of ``lm_eval run`` scoring ``corpus`` with window checkpoints as often as possible."""
    cmd = [
        "--model",
        "hf",
        "--model_args",
        f"pretrained={model},dtype=float32",
        "--tasks",
        "compression_cc",
        "--include_path",
        str(TASKS_DIR),
        "--device",
        "cpu",
        "--log_samples",
        "--output_path",
        str(out),
        "--metadata",
        json.dumps(resume_meta(corpus, protocol)),
    ]
    return cmd + (["--use_cache", str(cache)] if cache else [])


def lm_eval(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``lm_eval run ARGS`` to the end, checkpointing after every batch."""
    return subprocess.run([*LM_EVAL_RUN, *args], cwd=cwd, env=offline_env(EVERY_WINDOW), capture_output=True, text=True)


def results_of(out: Path):
    res = json.loads(sorted(out.rglob("results_*.json"))[-1].read_text())
    samples = [json.loads(line) for line in next(out.rglob("samples_compression_cc_*.jsonl")).read_text().splitlines()]
    resps = {s["doc_id"]: s["resps"][0][0] for s in samples}
    # The harness's sample writer stores str(response).
    lls = {k: (r if isinstance(r, dict) else ast.literal_eval(r))["loglikelihood"] for k, r in resps.items()}
    return res, lls


def uninterrupted(model, corpus, protocol):
    """The same scoring without interruption, in process: results and per-document log-likelihoods by doc id."""
    res = evaluate(load_lm(model), ["compression_cc"], resume_meta(corpus, protocol))
    return res, {s["doc_id"]: s["resps"][0][0]["loglikelihood"] for s in res["samples"]["compression_cc"]}


def finished_documents(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM unnamed").fetchone()[0]
    except sqlite3.Error:
        return 0


def windows_checkpointed(folder: Path) -> int:
    """Windows done in the newest paper-protocol checkpoint in ``folder`` (0 if none or unreadable yet)."""
    for path in folder.glob("c_rank0.db.compression-*.npz"):
        try:
            with np.load(path) as data:
                return int(data["done"].sum())
        except (OSError, ValueError, KeyError):
            return 0
    return 0


def run_and_kill(cmd, ready, tmp_path) -> None:
    """Start ``cmd``, SIGKILL it as soon as ``ready()`` holds; fail if it finished first."""
    proc = start_lm_eval(cmd, tmp_path, EVERY_WINDOW)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None and not ready():
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed: make the corpus longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def kill_and_resume(model, corpus, protocol, tmp_path, ready, between=None) -> dict:
    """Kill a run once ``ready(cache)`` holds, optionally run ``between(cache)``, then run it again to the end."""
    runs = {"full": uninterrupted(model, corpus, protocol)}
    cache = tmp_path / "cache" / "c"
    cache.parent.mkdir(parents=True)
    run_and_kill(lm_eval_cmd(model, corpus, protocol, tmp_path / "killed", cache), lambda: ready(cache), tmp_path)
    runs["killed_results"] = list((tmp_path / "killed").rglob("results_*.json"))
    if between is not None:
        runs["between"] = between(cache)
    again = lm_eval(lm_eval_cmd(model, corpus, protocol, tmp_path / "again", cache), tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    runs["again"] = results_of(tmp_path / "again")
    return runs


@pytest.fixture(scope="session")
def document_resume(tiny_models, long_corpus, tmp_path_factory):
    """``document``: killed once five documents are in the cache, then run again."""
    tmp = tmp_path_factory.mktemp("resume_document")
    return kill_and_resume(
        tiny_models["plain"],
        long_corpus,
        "document",
        tmp,
        lambda cache: finished_documents(Path(f"{cache}_rank0.db")) >= 5,
    )


@pytest.fixture(scope="session")
def paper_resume(tiny_models, long_corpus, tmp_path_factory):
    """``paper``: killed after at least 100 checkpointed windows; a run with another stride on the same
    cache (in process; it must not use that checkpoint) before the run again with the killed run's settings."""

    def other_stride(cache):
        meta = resume_meta(long_corpus, "paper", stride=16)
        return evaluate(new_lm(tiny_models["plain"]), ["compression_cc"], meta, use_cache=str(cache))

    return kill_and_resume(
        tiny_models["plain"],
        long_corpus,
        "paper",
        tmp_path_factory.mktemp("resume_paper"),
        lambda cache: windows_checkpointed(cache.parent) >= 100,
        other_stride,
    )
