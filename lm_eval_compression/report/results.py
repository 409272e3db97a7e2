"""Reading the ``results_*.json`` files that ``lm_eval --output_path`` writes, grouped by model.

Each model gets every results file of its own (newest first), so a task is taken
from the newest file holding it: a re-run replaces an older one, and benchmarks
and compression tasks run separately still meet.  Models are shown under a
readable name (a GGUF file's name, a local model folder's last component, or a
hub id as given) unless ``labels`` says otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

_STAMP = re.compile(r"_(\d{4}-\d{2}-\d{2})T(\d{2}-\d{2}-\d{2}(?:\.\d+)?)\.json$")
# model_args keys naming the model, in the order the harness's tracker tries them
_MODEL_KEYS = ("peft", "delta", "pretrained", "model", "path", "engine")


class ResultsError(Exception):
    """Input that the report cannot use; the commands print the message and exit 2."""


class NotComparableError(ResultsError):
    """Results that cannot share a line or a table (settings, corpus, documents, tasks, model count)."""


@dataclass(frozen=True)
class ResultsFile:
    """One ``results_*.json`` written by the harness; ``model_name`` names the model (and its GGUF file)."""

    path: Path
    model_name: str
    timestamp: float
    data: dict = field(repr=False, compare=False)

    def has_task(self, task: str) -> bool:
        return task in self.data.get("results", {}) or task in self.data.get("groups", {})

    def metrics(self, task: str) -> dict:
        found = self.data.get("results", {}).get(task)
        if found is None:
            found = self.data.get("groups", {}).get(task)
        return found or {}

    def tasks(self) -> list[str]:
        return sorted(set(self.data.get("results", {})) | set(self.data.get("groups", {})))


@dataclass
class ModelResults:
    """All results files of one model (newest first); each task comes from the newest file holding it."""

    label: str
    model_name: str
    files: list[ResultsFile]

    def source(self, task: str) -> ResultsFile | None:
        for results_file in self.files:
            if results_file.has_task(task):
                return results_file
        return None

    def tasks(self) -> list[str]:
        return sorted({task for f in self.files for task in f.tasks()})

    def file_list(self) -> str:
        return ", ".join(str(f.path) for f in self.files)


def _model_args(config: dict) -> dict[str, str]:
    args = config.get("model_args")
    if isinstance(args, dict):
        return {str(k): str(v) for k, v in args.items() if v is not None}
    if isinstance(args, str):
        return {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in args.split(",") if "=" in p)}
    return {}


def _model_name(data: dict, path: Path) -> str:
    """The model as the harness records it (``model_name``, else ``pretrained=``...), joined with its GGUF file.

    A folder holding several GGUF files is several models, so ``gguf_file`` is part of the name.
    """
    config = data.get("config") or {}
    args = _model_args(config)
    name = str(data.get("model_name") or "")
    if not name:
        name = next((args[key] for key in _MODEL_KEYS if args.get(key)), "") or str(config.get("model") or "")
    name = name or path.parent.name
    gguf = args.get("gguf_file")
    if gguf and not name.endswith(gguf):
        name = f"{name.rstrip('/')}/{gguf}"
    return name


def is_local_path(name: str) -> bool:
    """True for a file-system path (absolute, home, relative with ./, or deeper than a hub's ``org/name``)."""
    return (
        name.startswith(("/", "~", "./", "../", "\\"))
        or re.match(r"[A-Za-z]:[\\/]", name) is not None
        or name.replace("\\", "/").strip("/").count("/") > 1
    )


def readable_name(model_name: str) -> str:
    """Name for tables and plots: a GGUF file's name without ``.gguf``, a local folder's last component,
    or a hub id (``org/name``) unchanged."""
    if not is_local_path(model_name) and not model_name.endswith(".gguf"):
        return model_name
    last = model_name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return (last[: -len(".gguf")] if last.endswith(".gguf") else last) or model_name


def _timestamp(path: Path, data: dict) -> float:
    """Save time from the file name (``results_<isoformat>.json``), else the ``date`` field, else mtime."""
    match = _STAMP.search(path.name)
    if match:
        try:
            day, clock = match.groups()
            return datetime.fromisoformat(f"{day}T{clock.replace('-', ':')}").timestamp()
        except ValueError:
            pass
    date = data.get("date")
    if isinstance(date, (int, float)):
        return float(date)
    return path.stat().st_mtime


def _result_paths(paths: Iterable[str | Path]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("results_*.json") if p.is_file())
            if not inside:
                raise ResultsError(f"no results_*.json files under {path}")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise ResultsError(f"no such file or folder: {path}")
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def read_results_file(path: str | Path) -> ResultsFile:
    """Parse one harness results file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ResultsError(f"cannot read {path}: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise ResultsError(f"{path} is not an lm-eval results file (no 'results' section)")
    return ResultsFile(path, _model_name(data, path), _timestamp(path, data), data)


def _given_label(results_file: ResultsFile, labels: Mapping[str, str]) -> str | None:
    """Label from ``labels``: a key naming the file or a folder above it wins over one naming the model."""
    resolved = results_file.path.resolve()
    best: tuple[int, str] | None = None
    for key, label in labels.items():
        key_path = Path(key).expanduser()
        if key_path.exists():
            key_path = key_path.resolve()
            if key_path == resolved or key_path in resolved.parents:
                depth = len(key_path.parts)
                if best is None or depth > best[0]:
                    best = (depth, label)
    if best is not None:
        return best[1]
    for key in (results_file.model_name, readable_name(results_file.model_name)):
        if key in labels:
            return labels[key]
    return None


def _default_labels(model_names: Iterable[str]) -> dict[str, str]:
    """Readable name per model; where two models would share one, both keep their full name."""
    names = sorted(set(model_names))
    readable = {name: readable_name(name) for name in names}
    counts: dict[str, int] = {}
    for short in readable.values():
        counts[short] = counts.get(short, 0) + 1
    return {name: short if counts[short] == 1 else name for name, short in readable.items()}


def load_results(
    paths: str | Path | Iterable[str | Path], labels: Mapping[str, str] | None = None
) -> list[ModelResults]:
    """Read results files (or folders searched recursively for ``results_*.json``), one entry per model.

    ``labels`` maps a model name (full or readable), a file or a folder to the name shown in tables and plots.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    labels = dict(labels or {})
    files = [read_results_file(path) for path in _result_paths(paths)]
    defaults = _default_labels(f.model_name for f in files)
    by_label: dict[str, list[ResultsFile]] = {}
    for results_file in files:
        label = _given_label(results_file, labels) or defaults[results_file.model_name]
        by_label.setdefault(label, []).append(results_file)
    models = []
    for label, group in by_label.items():
        names = sorted({f.model_name for f in group})
        if len(names) > 1:
            listing = "; ".join(f"{f.model_name} ({f.path})" for f in group)
            raise ResultsError(f"label {label!r} names different models: {listing}")
        group.sort(key=lambda f: (f.timestamp, f.path.name), reverse=True)
        models.append(ModelResults(label, names[0], group))
    return models


def as_models(models, labels: Mapping[str, str] | None = None) -> list[ModelResults]:
    """Accept loaded models or results paths."""
    if isinstance(models, (str, Path)):
        return load_results(models, labels)
    models = list(models)
    if models and not all(isinstance(m, ModelResults) for m in models):
        return load_results(models, labels)
    return models
