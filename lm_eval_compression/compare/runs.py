"""One ``lm_eval --output_path`` folder read for ``compare``: per task, the settings it ran with, each
document's text, log-likelihood and characters (from ``--log_samples``), its context-length curve and the
path of its per-token records where the run wrote them.

A folder may hold several runs of a task (one per results file); the newest results file holding the task is
used, with the samples file written beside it at the same time.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..harness.groups import MISSING, label, resolve
from ..report.areas import CORPUS_TASKS
from ..report.comparable import recorded_settings
from ..report.results import ResultsError, ResultsFile, load_results


@dataclass(frozen=True)
class Documents:
    """A task's documents in ``doc_id`` order: ids, the documents as logged, their texts, ``nats`` (minus
    the log-likelihood) and characters."""

    ids: np.ndarray
    docs: list[dict] = field(repr=False)
    texts: list[str] = field(repr=False)
    nats: np.ndarray = field(repr=False)
    chars: np.ndarray = field(repr=False)

    def groups(self, path: str) -> list[str]:
        """Each document's value of the dotted field ``path`` (as the results name groups)."""
        values = [resolve(doc, path) for doc in self.docs]
        return ["(missing)" if v is MISSING else label(v) for v in values]

    @property
    def bits(self) -> np.ndarray:
        return self.nats / np.log(2.0)


@dataclass(frozen=True)
class TaskRun:
    """One compression task of one run."""

    task: str
    results: Path
    samples: Path
    settings: dict
    documents: Documents
    context: list[dict] | None
    records: Path | None
    group_by: str | None


@dataclass(frozen=True)
class Run:
    """A run folder: the model's readable name and its compression tasks."""

    folder: Path
    label: str
    model_name: str
    tasks: dict[str, TaskRun]


def samples_file(results: ResultsFile, task: str) -> Path:
    """The ``samples_<task>_<stamp>.jsonl`` written with ``results`` (same folder, same time stamp)."""
    stamp = results.path.name[len("results_") : -len(".json")]
    path = results.path.parent / f"samples_{task}_{stamp}.jsonl"
    if not path.is_file():
        raise ResultsError(
            f"{results.path} has {task} but no per-document samples beside it ({path.name}): "
            "run lm_eval with --log_samples"
        )
    return path


def response(sample: dict) -> dict:
    """The scorer's response of a sample line (the harness writes it as a dict or as its ``repr``)."""
    value = sample["resps"][0][0]
    return ast.literal_eval(value) if isinstance(value, str) else value


def read_documents(path: Path, text_field: str) -> Documents:
    """The documents of one samples file, sorted by ``doc_id``."""
    rows = []
    with open(path, encoding="utf-8") as lines:
        for n, line in enumerate(lines, 1):
            try:
                sample = json.loads(line)
                rows.append((int(sample["doc_id"]), sample["doc"], response(sample)))
            except (ValueError, KeyError, IndexError, TypeError, SyntaxError) as err:
                raise ResultsError(f"{path} line {n} is not a compression sample: {err!r}") from err
    rows.sort(key=lambda row: row[0])
    return Documents(
        ids=np.array([r[0] for r in rows], dtype=np.int64),
        docs=[doc for _, doc, _ in rows],
        texts=[str(doc.get(text_field, "")) for _, doc, _ in rows],
        nats=np.array([-float(r[2]["loglikelihood"]) for r in rows]),
        chars=np.array([int(r[2]["chars"]) for r in rows], dtype=np.int64),
    )


def records_path(config: dict, folder: Path, task: str) -> Path | None:
    """The task's Parquet records: the recorded path, else a ``<task>-*.parquet`` under the run folder
    (a folder moved after the run)."""
    recorded = ((config.get("compression") or {}).get("run") or {}).get("records") or {}
    if recorded.get("path") and Path(recorded["path"]).is_file():
        return Path(recorded["path"])
    found = sorted(folder.rglob(f"{task}-*.parquet"))
    return found[0] if len(found) == 1 else None


def read_task(results: ResultsFile, task: str, folder: Path) -> TaskRun:
    config = (results.data.get("configs") or {}).get(task) or {}
    metadata = config.get("metadata") or {}
    samples = samples_file(results, task)
    documents = read_documents(samples, str(metadata.get("text_field") or "content"))
    context = ((config.get("compression") or {}).get("context_length") or {}).get("buckets")
    records = records_path(config, folder, task)
    settings = recorded_settings(results, task)
    return TaskRun(task, results.path, samples, settings, documents, context, records, metadata.get("group_by") or None)


def load_run(folder: str | Path, label_: str | None = None) -> Run:
    """Read a run folder (or one results file); refuses a folder holding several models."""
    folder = Path(folder)
    models = load_results([folder])
    if len(models) != 1:
        names = ", ".join(m.model_name for m in models)
        raise ResultsError(f"{folder} holds results of {len(models)} models ({names}); pass one run folder each")
    model = models[0]
    tasks = {}
    for task in sorted(model.tasks(), key=lambda t: (CORPUS_TASKS.index(t) if t in CORPUS_TASKS else 3, t)):
        source = model.source(task)
        if ((source.data.get("configs") or {}).get(task) or {}).get("compression"):
            tasks[task] = read_task(source, task, folder if folder.is_dir() else folder.parent)
    if not tasks:
        raise ResultsError(f"{folder} has no results of a compression task (lm_eval --tasks compression ...)")
    return Run(folder, label_ or model.label, model.model_name, tasks)
