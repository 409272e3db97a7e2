"""Running commands offline in a subprocess: ``lm_eval`` to completion or as a process to kill, and
``python -m lm_eval_compression``."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

from lm_eval_compression.demo import OFFLINE_ENV

REPO = Path(__file__).resolve().parents[2]
TASKS_DIR = REPO / "tasks"
LM_EVAL_RUN = (sys.executable, "-m", "lm_eval", "run")


def offline_env(extra: dict | None = None) -> dict:
    """This environment, offline (no hub access, quiet tokenizers), plus ``extra``."""
    return {**os.environ, **OFFLINE_ENV, **(extra or {})}


def run_lm_eval(args: list[str], cwd, env_extra: dict | None = None, check: bool = True):
    """Run ``lm_eval run`` in a subprocess; return (results dict or None, CompletedProcess)."""
    Path(cwd).mkdir(parents=True, exist_ok=True)
    out = Path(cwd) / "out"
    cmd = [*LM_EVAL_RUN, "--output_path", str(out), *args]
    proc = subprocess.run(cmd, cwd=cwd, env=offline_env(env_extra), capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"lm_eval failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    files = sorted(glob.glob(str(out / "**" / "results_*.json"), recursive=True))
    results = json.loads(Path(files[-1]).read_text()) if files else None
    return results, proc


def start_lm_eval(args: list[str], cwd, env_extra: dict | None = None) -> subprocess.Popen:
    """``lm_eval run`` started in the background (stderr piped), for tests that kill it."""
    return subprocess.Popen(
        [*LM_EVAL_RUN, *args],
        cwd=cwd,
        env=offline_env(env_extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def run_plugin(args: list[str], check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    """``python -m lm_eval_compression ARGS`` offline; with ``check``, a non-zero exit fails with its output."""
    proc = subprocess.run(
        [sys.executable, "-m", "lm_eval_compression", *args],
        capture_output=True,
        text=True,
        env=offline_env(),
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc
