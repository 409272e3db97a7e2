"""Real ``lm_eval`` runs killed with SIGKILL and run again from ``--use_cache``, beside an uninterrupted run of
the same settings in process; the engine tests' ``document_resume`` and ``paper_resume`` fixtures
(tests/engine/conftest.py) run one such sequence per protocol and session, with every per-run output on
(per-token records, context-length buckets, Min-K% signals), so that each test of a resumed run reads them."""

from __future__ import annotations

import ast
import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np

from lm_eval_compression.engine.membership import DEFAULT_K
from tests.support.api import evaluate, load_lm
from tests.support.cli import LM_EVAL_RUN, TASKS_DIR, offline_env, start_lm_eval

BLOCK, STRIDE = 32, 8
EVERY_WINDOW = {"LM_EVAL_COMPRESSION_CHECKPOINT_SECONDS": "0"}


def resume_meta(corpus, protocol, stride=STRIDE, records=None) -> dict:
    """The task metadata of these runs: Min-K% signals on (as by default), per-token records into ``records``."""
    meta = {"data_dir": corpus, "block_size": BLOCK, "stride": stride, "protocol": protocol, "min_k": DEFAULT_K}
    return meta if records is None else {**meta, "token_records": str(records)}


def lm_eval_cmd(model, corpus, protocol, out, cache, records) -> list[str]:
    """Arguments of ``lm_eval run`` scoring ``corpus`` with per-token records into ``records``."""
    meta = resume_meta(corpus, protocol, records=records)
    return [
        *("--model", "hf", "--model_args", f"pretrained={model},dtype=float32", "--tasks", "compression_cc"),
        *("--include_path", str(TASKS_DIR), "--device", "cpu", "--log_samples", "--output_path", str(out)),
        *("--metadata", json.dumps(meta), "--use_cache", str(cache)),
    ]


def lm_eval(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``lm_eval run ARGS`` to the end, checkpointing after every batch."""
    return subprocess.run([*LM_EVAL_RUN, *args], cwd=cwd, env=offline_env(EVERY_WINDOW), capture_output=True, text=True)


def results_of(out: Path):
    """The results file of the ``lm_eval`` run written to ``out`` and its log-likelihoods by doc id."""
    res = json.loads(sorted(out.rglob("results_*.json"))[-1].read_text())
    samples = [json.loads(line) for line in next(out.rglob("samples_compression_cc_*.jsonl")).read_text().splitlines()]
    resps = {s["doc_id"]: s["resps"][0][0] for s in samples}
    # The harness's sample writer stores str(response).
    lls = {k: (r if isinstance(r, dict) else ast.literal_eval(r))["loglikelihood"] for k, r in resps.items()}
    return res, lls


def uninterrupted(model, corpus, protocol, records):
    """The same scoring without interruption, in process: results and per-document log-likelihoods by doc id."""
    res = evaluate(load_lm(model), ["compression_cc"], resume_meta(corpus, protocol, records=records))
    return res, {s["doc_id"]: s["resps"][0][0]["loglikelihood"] for s in res["samples"]["compression_cc"]}


def finished_documents(db: Path) -> int:
    """Documents in the ``--use_cache`` database ``db`` (0 if none or unreadable yet)."""
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
    """Kill a run once ``ready(cache)`` holds, optionally run ``between(cache)``, then run it again to the end.

    Keys: ``full`` (uninterrupted results, log-likelihoods), ``killed_results`` and ``killed_parts`` (the
    killed run's results files and records parts), ``between``, ``again`` (as ``full``), and ``records``
    (the folders of the resumed and the uninterrupted records)."""
    records = {"again": tmp_path / "records", "full": tmp_path / "full_records"}
    runs = {"full": uninterrupted(model, corpus, protocol, records["full"]), "records": records}
    cache = tmp_path / "cache" / "c"
    cache.parent.mkdir(parents=True)
    killed = lm_eval_cmd(model, corpus, protocol, tmp_path / "killed", cache, records["again"])
    run_and_kill(killed, lambda: ready(cache), tmp_path)
    runs["killed_results"] = list((tmp_path / "killed").rglob("results_*.json"))
    runs["killed_parts"] = list(records["again"].glob("*.parts/*.parquet"))
    if between is not None:
        runs["between"] = between(cache)
    again = lm_eval(lm_eval_cmd(model, corpus, protocol, tmp_path / "again", cache, records["again"]), tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    runs["again"] = results_of(tmp_path / "again")
    return runs
