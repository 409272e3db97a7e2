"""Per-token records: one Parquet row per scored token, written as the run goes.

The scorers hand each batch's scored positions over (values on the device); at every flush (the scorer's
checkpoints, every :data:`FLUSH_POSITIONS` positions and the end) they become one part file, written
atomically into ``<file>.parts/``, so memory stays bounded and a killed run leaves its parts behind.  At the
end of a task the parts are merged into the one file: a *unit* (a document in the ``document`` protocol, a
window in the ``paper`` protocol, where windows are resumed) is taken from the newest run that wrote it,
since a run rescored every unit an earlier run had not finished, and a finished unit was written before
it was saved as finished.  A resumed run thus ends with the rows of an uninterrupted one.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .planning import ScoringPlan

# Scored positions held before they are written as a part.
FLUSH_POSITIONS = 1 << 20

COLUMNS = (
    ("doc", "int64"),
    ("token", "int32"),
    ("token_id", "int32"),
    ("char_start", "int64"),
    ("char_end", "int64"),
    ("context", "int32"),
    ("logprob", "float32"),
    ("entropy", "float32"),
    ("mean_logp", "float32"),
    ("std_logp", "float32"),
    ("window", "int64"),
)


def schema():
    import pyarrow as pa

    return pa.schema([(name, pa.type_for_alias(kind)) for name, kind in COLUMNS])


@dataclass(frozen=True)
class RecordsInfo:
    """Where a task's records are and how many rows they have (the ``compression`` block's ``records``)."""

    path: str
    rows: int


class TokenRecords:
    """Collects scored positions of one task's plan and writes them as Parquet parts, then one file."""

    def __init__(self, path: Path, plan: ScoringPlan, doc_ids: list[int], unit: str, moments: bool = True):
        self.path = Path(path)
        self.parts = Path(f"{path}.parts")
        self.parts.mkdir(parents=True, exist_ok=True)
        self.run = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        self.plan, self.doc_ids, self.unit = plan, np.asarray(doc_ids, dtype=np.int64), unit
        self.moments = moments  # whether the scorer gives the mean and std of log p (hf: yes, vLLM: no)
        self.job_index = {job: i for i, job in enumerate(plan.jobs)}
        self.pending: list[tuple] = []
        self.count = 0

    def add(self, jobs: list, rows: np.ndarray, positions: np.ndarray, context: np.ndarray, values: tuple) -> None:
        """Scored positions of one batch of ``jobs``: the row (job) of each, its sequence position and context
        length (host), and ``values`` = (log-probability, mean, std) on the device (mean, std may be ``None``)."""
        job_ids = np.fromiter((self.job_index[j] for j in jobs), np.int64, len(jobs))[rows]
        self.pending.append((job_ids, positions, np.asarray(context), values))
        if sum(len(p[1]) for p in self.pending) >= FLUSH_POSITIONS:
            self.flush()

    def columns(self) -> dict:
        """The pending positions as record columns."""
        jobs, pos, ctx = (np.concatenate([p[i] for p in self.pending]) for i in range(3))
        values = [[p[3][i] for p in self.pending] for i in range(3)]
        lp, mu, sd = (None if v[0] is None else np.concatenate([t.float().cpu().numpy() for t in v]) for v in values)
        seq_of_job = np.fromiter((self.plan.jobs[j].seq for j in jobs), np.int64, len(jobs))
        out = {name: np.zeros(len(pos), dtype=kind) for name, kind in COLUMNS if kind.startswith("int")}
        for s in np.unique(seq_of_job):
            rows = np.flatnonzero(seq_of_job == s)
            seq, at = self.plan.sequences[s], pos[rows]
            span = seq.spans_of(at)
            prefix = int(self.unit == "doc")  # a document's sequence starts with the prefix token
            out["doc"][rows] = self.doc_ids[seq.owners[span]]
            out["token"][rows] = at - seq.starts[span] - prefix
            out["token_id"][rows] = seq.tokens[at]
            out["char_start"][rows] = seq.char_start[at]
            out["char_end"][rows] = seq.char_start[at] + seq.char_count[at]
        out.update(context=ctx, window=jobs, logprob=lp, mean_logp=mu, std_logp=sd)
        out["entropy"] = None if mu is None else -mu
        return out

    def flush(self) -> None:
        """Write the pending positions as one part (atomically: a killed run leaves whole parts only)."""
        if not self.pending:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols = self.columns()
        self.pending = []
        n = len(cols["doc"])
        arrays = {
            name: pa.nulls(n, pa.type_for_alias(kind)) if cols[name] is None else pa.array(cols[name], kind)
            for name, kind in COLUMNS
        }
        table = pa.table(arrays, schema=schema())
        name = self.parts / f"{self.run}-{self.count:06d}.parquet"
        tmp = name.with_suffix(".tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, name)
        self.count += 1

    def finish(self) -> RecordsInfo:
        """Merge every run's parts into the task's file, each unit from the newest run that wrote it."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        self.flush()
        key = "doc" if self.unit == "doc" else "window"
        runs: dict[str, list[Path]] = {}
        for part in sorted(self.parts.glob("*.parquet")):
            runs.setdefault(part.name.rsplit("-", 1)[0], []).append(part)
        taken: set[int] = set()  # units written by a newer run
        rows = 0
        tmp = self.path.with_name(self.path.name + ".tmp")
        with pq.ParquetWriter(tmp, schema()) as writer:
            for run in sorted(runs, reverse=True):
                newer = pa.array(sorted(taken), pa.int64())
                for part in runs[run]:
                    table = pq.read_table(part, schema=schema())
                    table = table.filter(pc.invert(pc.is_in(table[key], value_set=newer)))
                    taken.update(pc.unique(table[key]).to_pylist())
                    writer.write_table(table)
                    rows += table.num_rows
        os.replace(tmp, self.path)
        for part in self.parts.glob("*"):
            part.unlink()
        self.parts.rmdir()
        return RecordsInfo(str(self.path), rows)
