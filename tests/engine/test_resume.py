"""A killed run resumes where it stopped (both protocols), and checkpoints of other runs are never used."""

import ast
import json
import math
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from lm_eval_compression.engine.resume import StreamCheckpoints
from lm_eval_compression.engine.scoring import Checkpoint
from tests.support.cli import LM_EVAL_RUN, TASKS_DIR, offline_env, start_lm_eval
from tests.support.corpora import sample_docs, write_corpus

BLOCK, STRIDE = 32, 8


@pytest.fixture(scope="module")
def long_corpus(tmp_path_factory):
    """Enough windows (about 900) that a run takes several seconds on the tiny model."""
    return write_corpus(tmp_path_factory.mktemp("long"), {"cc": sample_docs(7, 30, 160)})


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
        json.dumps({"data_dir": corpus, "block_size": BLOCK, "stride": STRIDE, "protocol": protocol}),
    ]
    return cmd + (["--use_cache", str(cache)] if cache else [])


EVERY_WINDOW = {"LM_EVAL_COMPRESSION_CHECKPOINT_SECONDS": "0"}


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


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["document", "paper"])
def test_killed_run_resumes_and_equals_an_uninterrupted_run(tiny_models, long_corpus, tmp_path, protocol):
    model = tiny_models["plain"]
    full = lm_eval(lm_eval_cmd(model, long_corpus, protocol, tmp_path / "full"), tmp_path)
    assert full.returncode == 0, full.stderr[-3000:]
    full_res, full_lls = results_of(tmp_path / "full")
    total_windows = full_res["configs"]["compression_cc"]["compression"]["run"]["windows"]

    cache = tmp_path / "cache" / "c"
    cache.parent.mkdir()
    db = Path(f"{cache}_rank0.db")
    if protocol == "document":

        def ready():
            return finished_documents(db) >= 5
    else:

        def ready():
            return windows_checkpointed(cache.parent) >= 100

    run_and_kill(lm_eval_cmd(model, long_corpus, protocol, tmp_path / "killed", cache), ready, tmp_path)
    assert not list((tmp_path / "killed").rglob("results_*.json"))

    again = lm_eval(lm_eval_cmd(model, long_corpus, protocol, tmp_path / "again", cache), tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    res, lls = results_of(tmp_path / "again")
    run = res["configs"]["compression_cc"]["compression"]["run"]
    assert 0 < run["windows"] < total_windows
    if protocol == "paper":
        assert run["resumed_windows"] > 0 and run["resumed_windows"] + run["windows"] == total_windows
    print(
        f"\n{protocol}: uninterrupted {total_windows} windows; rerun after SIGKILL scored {run['windows']} "
        f"(resumed {run['resumed_windows']}); bpc {res['results']['compression_cc']['bpc,none']!r} vs "
        f"{full_res['results']['compression_cc']['bpc,none']!r}"
    )
    got, want = res["results"]["compression_cc"], full_res["results"]["compression_cc"]
    for metric in ("bpc,none", "bpb,none"):
        assert math.isclose(got[metric], want[metric], rel_tol=1e-12, abs_tol=0)
    assert lls == full_lls  # every per-document value identical


def test_stream_checkpoint_is_used_only_for_its_stream_and_model(tmp_path):
    cache = str(tmp_path / "cache_rank0.db")
    point = Checkpoint(np.array([-1.5, -2.25, 0.0]), np.array([True, True, False, False]))
    StreamCheckpoints(cache, "stream-a", "model-m", 4, 3).save(point)
    same = StreamCheckpoints(cache, "stream-a", "model-m", 4, 3).load()
    assert same is not None and same.totals.tolist() == [-1.5, -2.25, 0.0] and same.done.tolist() == point.done.tolist()
    assert StreamCheckpoints(cache, "stream-b", "model-m", 4, 3).load() is None  # other corpus or settings
    assert StreamCheckpoints(cache, "stream-a", "model-n", 4, 3).load() is None  # other model
    # A file under this key's name but holding another key or shape is refused too.
    other = StreamCheckpoints(cache, "stream-a", "model-m", 5, 3)
    assert other.path == StreamCheckpoints(cache, "stream-a", "model-m", 4, 3).path
    assert other.load() is None


def test_paper_checkpoint_of_other_settings_is_not_used(tiny_models, long_corpus, tmp_path):
    """A killed paper run leaves a checkpoint; a rerun with another stride ignores it and equals a fresh run."""
    model = tiny_models["plain"]
    cache = tmp_path / "cache" / "c"
    cache.parent.mkdir()
    run_and_kill(
        lm_eval_cmd(model, long_corpus, "paper", tmp_path / "killed", cache),
        lambda: any(cache.parent.glob("c_rank0.db.compression-*.npz")),
        tmp_path,
    )
    cmd = lm_eval_cmd(model, long_corpus, "paper", tmp_path / "other", cache)
    cmd[cmd.index("--metadata") + 1] = json.dumps(
        {"data_dir": long_corpus, "block_size": BLOCK, "stride": 16, "protocol": "paper"}
    )
    proc = lm_eval(cmd, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res, _ = results_of(tmp_path / "other")
    assert res["configs"]["compression_cc"]["compression"]["run"]["resumed_windows"] == 0
