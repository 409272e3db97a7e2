"""Keeping scoring work across a killed run.

``document`` protocol: finished documents go into the harness's ``--use_cache``
database as they finish, so a rerun sends only the unfinished ones.  ``paper``
protocol: its one stream cannot be split, so the running per-document sums and
the finished windows are saved beside that database, under a key made of the
stream (corpus and window settings) and the model; a rerun with the same key
continues from them, any other key starts afresh.  A damaged checkpoint is
ignored and a failed write skipped, each with one warning: saving progress
never stops a run.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import zipfile
from pathlib import Path

import numpy as np

from .planning import ScoringPlan
from .scoring import Checkpoint

log = logging.getLogger(__name__)

INTERVAL_ENV = "LM_EVAL_COMPRESSION_CHECKPOINT_SECONDS"
_unwritable: set[str] = set()  # cache databases whose failed write was reported already
DEFAULT_INTERVAL = 60.0


def checkpoint_interval() -> float:
    """Seconds between checkpoints (environment ``LM_EVAL_COMPRESSION_CHECKPOINT_SECONDS``, default 60)."""
    raw = os.environ.get(INTERVAL_ENV)
    if raw is None:
        return DEFAULT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{INTERVAL_ENV} must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{INTERVAL_ENV} must not be negative, got {raw!r}")
    return value


def cache_file(lm) -> str | None:
    """Path of the harness's ``--use_cache`` database for this model, if caching is on."""
    dbdict = getattr(getattr(lm, "cache_hook", None), "dbdict", None)
    return getattr(dbdict, "filename", None) if dbdict is not None else None


def write_cached(lm, entries: list[tuple[tuple, dict]]) -> None:
    """Put finished ``(request args, response)`` pairs in the harness's cache, one commit for all. A database
    that cannot be written (disk full, read-only) is reported once and the run goes on without it."""
    hook = getattr(lm, "cache_hook", None)
    dbdict = getattr(hook, "dbdict", None)
    if dbdict is None or not entries:
        return
    try:
        from lm_eval.api.model import hash_args
    except ImportError:
        hash_args = None
    try:
        if hash_args is not None and hasattr(dbdict, "update"):
            dbdict.update({hash_args("loglikelihood_rolling", args): dict(resp) for args, resp in entries})
        else:
            for args, resp in entries:
                hook.add_partial("loglikelihood_rolling", args, dict(resp))
    except (OSError, sqlite3.Error) as error:
        name = getattr(dbdict, "filename", "the --use_cache database")
        if name not in _unwritable:
            _unwritable.add(name)
            log.warning(
                "compression: could not save finished documents in %s (%s); the run goes on, and a rerun scores "
                "them again",
                name,
                error,
            )


class FinishedDocuments:
    """``document`` protocol: which requests have all their windows scored, each reported once."""

    def __init__(self, plan: ScoringPlan, n_requests: int):
        jobs = plan.jobs
        self.owner_of_job = np.fromiter((plan.sequences[j.seq].owners[0] for j in jobs), np.int64, len(jobs))
        self.reported = np.zeros(n_requests, dtype=bool)

    def newly_finished(self, done: np.ndarray) -> np.ndarray:
        """Requests finished by the jobs ``done`` and not reported before (ascending indices)."""
        left = np.bincount(self.owner_of_job[~done], minlength=len(self.reported))
        new = np.flatnonzero((left == 0) & ~self.reported)
        self.reported[new] = True
        return new


def read_checkpoint(path: Path) -> tuple[str, np.ndarray, np.ndarray, np.ndarray | None]:
    """``(key, totals, done, context)`` of a checkpoint file (``context``: totals per request and context
    bucket, ``None`` in files without them); ``ValueError`` (or the reader's own error) when damaged."""
    with zipfile.ZipFile(path) as archive:
        bad = archive.testzip()  # every member's CRC, before numpy parses a possibly damaged array header
    if bad is not None:
        raise ValueError(f"bad CRC in {bad}")
    with np.load(path, allow_pickle=False) as data:
        key, totals, done = str(data["key"]), data["totals"], data["done"]
        context = data["context"] if "context" in data.files else None
    if totals.dtype != np.float64 or done.dtype != np.bool_ or totals.ndim != 1 or done.ndim != 1:
        raise ValueError("unexpected array types")
    if context is not None and (context.dtype != np.float64 or context.ndim != 2 or len(context) != len(totals)):
        raise ValueError("unexpected context array")
    if not np.isfinite(totals).all() or (context is not None and not np.isfinite(context).all()):
        raise ValueError("non-finite totals")
    return key, totals, done, context


class StreamCheckpoints:
    """Saved progress of one ``paper`` stream, in ``<cache>.compression-<key>.npz``. A damaged file is ignored
    and a failed write skipped, each with one warning: a checkpoint never stops a run."""

    def __init__(self, cache: str, stream: str, model: str, n_jobs: int, n_requests: int, buckets: int | None = None):
        self.key = hashlib.sha256(f"{stream}:{model}".encode()).hexdigest()
        self.path = Path(f"{cache}.compression-{self.key[:24]}.npz")
        self.shape = (n_jobs, n_requests)
        self.buckets = buckets  # context-length buckets the saved progress must hold (None: none)
        self.write_failed = False

    def load(self) -> Checkpoint | None:
        """The saved progress, if it belongs to this stream and model; else ``None``."""
        if not self.path.is_file():
            return None
        try:
            key, totals, done, context = read_checkpoint(self.path)
        except Exception as error:  # any damage (empty, truncated, bad CRC, odd arrays): score the stream afresh
            log.warning(
                "compression: ignoring damaged checkpoint %s (%s: %s); scoring its stream afresh",
                self.path,
                type(error).__name__,
                error,
            )
            return None
        if key != self.key or (len(done), len(totals)) != self.shape:
            log.warning("compression: ignoring checkpoint %s: it belongs to another stream or model", self.path)
            return None
        if self.buckets is not None and (context is None or context.shape[1] != self.buckets):
            log.warning("compression: ignoring checkpoint %s: it has no context-length totals", self.path)
            return None
        log.info("compression: resuming from %s: %d of %d windows already scored", self.path, done.sum(), len(done))
        return Checkpoint(totals, done, context)

    def save(self, checkpoint: Checkpoint) -> None:
        """Write atomically: a run killed while writing leaves the previous checkpoint. A write that fails (disk
        full) leaves the previous checkpoint too, is reported once, and the run goes on."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            with open(tmp, "wb") as f:
                extra = {} if checkpoint.context is None else {"context": checkpoint.context}
                np.savez(f, key=np.array(self.key), totals=checkpoint.totals, done=checkpoint.done, **extra)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as error:
            tmp.unlink(missing_ok=True)
            if not self.write_failed:
                self.write_failed = True
                log.warning(
                    "compression: could not write checkpoint %s (%s); the run goes on, saving again at the next "
                    "checkpoint",
                    self.path,
                    error,
                )
