"""Keeping scoring work across a killed run.

``document`` protocol: finished documents go into the harness's ``--use_cache``
database as they finish, so a rerun sends only the unfinished ones.  ``paper``
protocol: its one stream cannot be split, so the running per-document sums and
the finished windows are saved beside that database, under a key made of the
stream (corpus and window settings) and the model; a rerun with the same key
continues from them, any other key starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from .planning import ScoringPlan
from .scoring import Checkpoint

log = logging.getLogger(__name__)

INTERVAL_ENV = "LM_EVAL_COMPRESSION_CHECKPOINT_SECONDS"
DEFAULT_INTERVAL = 60.0
# Values of each weight tensor that go into the model's identity: cheap even for 70 B parameters.
WEIGHT_SAMPLE = 256


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
    """Put finished ``(request args, response)`` pairs in the harness's cache, one commit for all."""
    hook = getattr(lm, "cache_hook", None)
    dbdict = getattr(hook, "dbdict", None)
    if dbdict is None or not entries:
        return
    try:
        from lm_eval.api.model import hash_args
    except ImportError:
        hash_args = None
    if hash_args is not None and hasattr(dbdict, "update"):
        dbdict.update({hash_args("loglikelihood_rolling", args): dict(resp) for args, resp in entries})
    else:
        for args, resp in entries:
            hook.add_partial("loglikelihood_rolling", args, dict(resp))


def loaded_model_identity(lm) -> str:
    """A hash of the model's name, configuration, dtype, tokenizer and a sample of every weight tensor."""
    import torch

    model = lm.model
    digest = hashlib.sha256()
    config = getattr(model, "config", None)
    digest.update(
        json.dumps(
            {
                "name": getattr(config, "_name_or_path", None),
                "config": config.to_json_string(use_diff=False) if config is not None else None,
                "dtype": str(getattr(model, "dtype", None)),
                "tokenizer": getattr(lm.tokenizer, "name_or_path", None),
                "vocab": len(lm.tokenizer),
            },
            sort_keys=True,
            default=str,
        ).encode()
    )
    with torch.no_grad():
        for name, param in model.state_dict().items():
            digest.update(name.encode())
            sample = param.reshape(-1)[:WEIGHT_SAMPLE].detach().to("cpu", torch.float64).numpy()
            digest.update(sample.tobytes())
    return digest.hexdigest()


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


class StreamCheckpoints:
    """Saved progress of one ``paper`` stream, in ``<cache>.compression-<key>.npz``."""

    def __init__(self, cache: str, stream: str, model: str, n_jobs: int, n_requests: int):
        self.key = hashlib.sha256(f"{stream}:{model}".encode()).hexdigest()
        self.path = Path(f"{cache}.compression-{self.key[:24]}.npz")
        self.shape = (n_jobs, n_requests)

    def load(self) -> Checkpoint | None:
        """The saved progress, if it belongs to this stream and model; else ``None``."""
        if not self.path.is_file():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as data:
                key, totals, done = str(data["key"]), data["totals"], data["done"]
        except (OSError, ValueError, KeyError) as error:
            log.warning("compression: ignoring unreadable checkpoint %s (%s)", self.path, error)
            return None
        if key != self.key or (len(done), len(totals)) != self.shape:
            log.warning("compression: ignoring checkpoint %s: it belongs to another stream or model", self.path)
            return None
        log.info("compression: resuming from %s: %d of %d windows already scored", self.path, done.sum(), len(done))
        return Checkpoint(totals, done)

    def save(self, checkpoint: Checkpoint) -> None:
        """Write atomically: a run killed while writing leaves the previous checkpoint."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as f:
            np.savez(f, key=np.array(self.key), totals=checkpoint.totals, done=checkpoint.done)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
