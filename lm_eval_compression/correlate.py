"""Where do models sit on the compression/intelligence line?

Huang et al. (2024), "Compression Represents Intelligence Linearly", found that
across base models the average benchmark score falls almost linearly with
bits-per-character (BPC), per area: knowledge & commonsense against
``compression_cc``, coding against ``compression_python``, mathematical
reasoning against ``compression_arxiv_math``.  This module reads the results
files that ``lm_eval --output_path`` writes, refuses inputs that cannot be put
on one line (different window settings or corpora, missing tasks or metrics,
fewer than three models), fits the line with scipy and writes markdown, CSV
and PNG/SVG plots.

Commands (see ``python -m lm_eval_compression correlate -h``)::

    correlate   RESULTS... --area knowledge=hellaswag/acc_norm,arc_easy/acc ...
    leaderboard RESULTS...

The same steps are plain functions: :func:`load_results`, :func:`correlate`,
:func:`leaderboard` and the writers :func:`fits_markdown`, :func:`write_fit_csv`,
:func:`plot_fits`, :func:`leaderboard_markdown`, :func:`write_leaderboard_csv`.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable, Mapping, Sequence

COMPRESSION_GROUP = "compression"
CORPUS_TASKS = ("compression_cc", "compression_python", "compression_arxiv_math")
# the paper's pairings: area preset -> compression task
AREA_PRESETS = {
    "knowledge": "compression_cc",
    "commonsense": "compression_cc",
    "coding": "compression_python",
    "code": "compression_python",
    "math": "compression_arxiv_math",
    "mathematics": "compression_arxiv_math",
}
BPC_KEY = "bpc,none"
BPC_STDERR_KEY = "bpc_stderr,none"
# window settings that must agree across models (prefix tokens may differ)
WINDOW_SETTINGS = ("block_size", "stride", "protocol", "window_bos")
MIN_MODELS = 3
CONFIDENCE = 0.95
# plot geometry: each panel is PANEL_SIZE inches at PLOT_DPI
PANEL_SIZE = (5.0, 4.0)
PLOT_DPI = 120

_STAMP = re.compile(r"_(\d{4}-\d{2}-\d{2})T(\d{2}-\d{2}-\d{2}(?:\.\d+)?)\.json$")


class ResultsError(Exception):
    """Input that the report cannot use; the CLI prints the message and exits 2."""


class NotComparableError(ResultsError):
    """Results that cannot be put on one line (settings, corpus, tasks, model count)."""


# --------------------------------------------------------------------------
# reading results files


@dataclass(frozen=True)
class ResultsFile:
    """One ``results_*.json`` written by the harness."""

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


def _model_name(data: dict, path: Path) -> str:
    """Model name as the harness records it: ``model_name``, else ``pretrained=`` in ``model_args``."""
    if data.get("model_name"):
        return str(data["model_name"])
    config = data.get("config") or {}
    args = config.get("model_args")
    keys = ("peft", "delta", "pretrained", "model", "path", "engine")
    if isinstance(args, dict):
        for key in keys:
            if args.get(key):
                return str(args[key])
    elif isinstance(args, str):
        parts = dict(p.split("=", 1) for p in args.split(",") if "=" in p)
        for key in keys:
            if parts.get(key):
                return parts[key].strip()
    if config.get("model"):
        return str(config["model"])
    return path.parent.name


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


def _label_for(results_file: ResultsFile, labels: Mapping[str, str]) -> str:
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
    return labels.get(results_file.model_name, results_file.model_name)


def load_results(paths: str | Path | Iterable[str | Path], labels: Mapping[str, str] | None = None) -> list[ModelResults]:
    """Read results files (or folders searched recursively for ``results_*.json``), one entry per model.

    Files of the same model (same label) are kept newest first, so each task is
    taken from the newest file that holds it: a re-run replaces an older one, and
    benchmarks and compression tasks run separately still meet.  ``labels`` maps a
    model name, a file or a folder to the name shown in tables and plots.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    labels = dict(labels or {})
    by_label: dict[str, list[ResultsFile]] = {}
    for path in _result_paths(paths):
        results_file = read_results_file(path)
        by_label.setdefault(_label_for(results_file, labels), []).append(results_file)
    models = []
    for label, files in by_label.items():
        names = sorted({f.model_name for f in files})
        if len(names) > 1:
            listing = "; ".join(f"{f.model_name} ({f.path})" for f in files)
            raise ResultsError(f"label {label!r} names different models: {listing}")
        files.sort(key=lambda f: (f.timestamp, f.path.name), reverse=True)
        models.append(ModelResults(label, names[0], files))
    return models


# --------------------------------------------------------------------------
# requests: which score against which bpc


@dataclass(frozen=True)
class ScoreSpec:
    """A benchmark metric named ``task/metric`` or ``task/metric,filter`` (filter defaults to ``none``)."""

    task: str
    metric: str
    filter: str = "none"

    @property
    def key(self) -> str:
        return f"{self.metric},{self.filter}"

    def __str__(self) -> str:
        return f"{self.task}/{self.metric}" + ("" if self.filter == "none" else f",{self.filter}")

    @classmethod
    def parse(cls, text: str) -> "ScoreSpec":
        task, slash, rest = text.strip().partition("/")
        metric, _, filt = rest.partition(",")
        if not slash or not task or not metric.strip():
            raise ValueError(f"bad score {text!r}: expected task/metric or task/metric,filter")
        return cls(task.strip(), metric.strip(), filt.strip() or "none")


def parse_score_list(text: str) -> tuple[ScoreSpec, ...]:
    """Split ``a/m1,b/m2,filter,c/m3``: a piece without ``/`` is the filter of the score before it."""
    pieces = [p.strip() for p in text.split(",") if p.strip()]
    specs: list[str] = []
    for piece in pieces:
        if "/" in piece:
            specs.append(piece)
        elif specs and "," not in specs[-1]:
            specs[-1] = f"{specs[-1]},{piece}"
        else:
            raise ValueError(f"bad score list {text!r}: {piece!r} is neither task/metric nor a filter")
    if not specs:
        raise ValueError(f"bad score list {text!r}: no task/metric")
    return tuple(ScoreSpec.parse(s) for s in specs)


@dataclass(frozen=True)
class Area:
    """Scores (averaged, unweighted) fitted against the bpc of one compression task or group."""

    name: str
    bpc_task: str
    scores: tuple[ScoreSpec, ...]

    @property
    def score_names(self) -> str:
        return ", ".join(str(s) for s in self.scores)

    @classmethod
    def parse(cls, text: str) -> "Area":
        """``knowledge=hellaswag/acc_norm,arc_easy/acc`` (preset) or ``NAME:BPC_TASK=task/metric,...``."""
        head, eq, tail = text.partition("=")
        if not eq:
            raise ValueError(f"bad area {text!r}: expected NAME=task/metric[,filter],...")
        name, colon, bpc_task = head.partition(":")
        name, bpc_task = name.strip(), bpc_task.strip()
        if not colon:
            if name.lower() not in AREA_PRESETS:
                presets = ", ".join(sorted(AREA_PRESETS))
                raise ValueError(f"unknown area {name!r}: use one of {presets} or NAME:BPC_TASK=...")
            bpc_task = AREA_PRESETS[name.lower()]
        if not name or not bpc_task:
            raise ValueError(f"bad area {text!r}")
        return cls(name, bpc_task, parse_score_list(tail))


# --------------------------------------------------------------------------
# comparability checks


def _norm(value):
    """Settings as comparable values: 'true' -> True, '512' -> 512, 512.0 -> 512."""
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "false"):
            return low == "true"
        if re.fullmatch(r"-?\d+", low):
            return int(low)
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def task_settings(results_file: ResultsFile, task: str) -> dict:
    """Effective settings of ``task``: ``configs[task]['compression']``, falling back to ``metadata``."""
    config = (results_file.data.get("configs") or {}).get(task) or {}
    effective = config.get("compression") or {}
    metadata = config.get("metadata") or {}
    settings = {}
    for key in WINDOW_SETTINGS:
        value = effective.get(key, metadata.get(key))
        settings[key] = None if value is None else _norm(value)
    settings["corpus_sha256"] = effective.get("corpus_sha256")
    corpus = effective.get("corpus") or metadata.get("data_dir")
    if not corpus and config.get("dataset_path"):
        corpus = config["dataset_path"] + (f":{config['dataset_name']}" if config.get("dataset_name") else "")
    settings["corpus"] = corpus
    documents = effective.get("documents")
    if documents is None:
        documents = ((results_file.data.get("n-samples") or {}).get(task) or {}).get("effective")
    settings["documents"] = documents
    return settings


def _describe(items: list[tuple[ModelResults, ResultsFile]], limit: int = 6) -> str:
    shown = [f"{m.label} ({f.path})" for m, f in items[:limit]]
    if len(items) > limit:
        shown.append(f"and {len(items) - limit} more")
    return ", ".join(shown)


def _short(value) -> str:
    if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{40,}", value):
        return value[:12] + "..."
    return repr(value) if isinstance(value, str) else str(value)


def check_settings(models: Sequence[ModelResults], tasks: Iterable[str]) -> None:
    """Refuse when a compression task ran with different window settings or corpora across models.

    Compares block_size, stride, protocol, window_bos and the corpus hash; where a
    file lacks the hash, the corpus name and document count instead.  A setting a
    file does not record is not compared.  Call after :func:`check_tasks`.
    """
    for task in tasks:
        entries = [(m, m.source(task)) for m in models]
        entries = [(m, f) for m, f in entries if f is not None]
        settings = {id(f): task_settings(f, task) for _, f in entries}
        keys = list(WINDOW_SETTINGS)
        if all(settings[id(f)]["corpus_sha256"] for _, f in entries):
            keys.append("corpus_sha256")
        else:
            keys += ["corpus", "documents"]
        for key in keys:
            groups: dict[object, list[tuple[ModelResults, ResultsFile]]] = {}
            for model, results_file in entries:
                value = settings[id(results_file)][key]
                if value is not None:
                    groups.setdefault(value, []).append((model, results_file))
            if len(groups) > 1:
                ordered = sorted(groups.items(), key=lambda kv: -len(kv[1]))
                lines = []
                for value, items in ordered:
                    context = ""
                    if key == "corpus_sha256":  # say which documents the hash stands for
                        first = settings[id(items[0][1])]
                        context = f" ({first['corpus']}, {first['documents']} documents)"
                    lines.append(f"  {key}={_short(value)}{context}: {_describe(items)}")
                what = "corpus" if key in ("corpus_sha256", "corpus", "documents") else "window setting"
                raise NotComparableError(
                    f"results are not comparable: task {task!r} was computed with a different {what} "
                    f"{key!r} in these files:\n" + "\n".join(lines)
                    + "\nRe-run them with the same settings, or leave the odd ones out."
                )


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _require_metric(model: ModelResults, task: str, key: str, asked: str) -> float:
    results_file = model.source(task)
    if results_file is None:
        raise NotComparableError(
            f"model {model.label!r} has no result for task {task!r} (needed for {asked}) in {model.file_list()}; "
            f"tasks there: {', '.join(model.tasks()) or 'none'}"
        )
    metrics = results_file.metrics(task)
    value = _number(metrics.get(key))
    if value is None:
        available = ", ".join(k for k in metrics if k != "alias" and "_stderr" not in k) or "none"
        raise NotComparableError(
            f"model {model.label!r}: task {task!r} in {results_file.path} has no metric {key!r} "
            f"(needed for {asked}); metrics there: {available}. "
            "Name a filter as task/metric,filter."
        )
    return value


def _group_subtasks(models: Sequence[ModelResults], group: str) -> tuple[str, ...] | None:
    """Subtasks of ``group`` as a results file lists them (``compression`` -> the three corpora)."""
    for model in models:
        for results_file in model.files:
            subtasks = (results_file.data.get("group_subtasks") or {}).get(group)
            if subtasks:
                return tuple(subtasks)
    return CORPUS_TASKS if group == COMPRESSION_GROUP else None


def _bpc_tasks(models: Sequence[ModelResults], bpc_task: str) -> tuple[str, ...]:
    """The tasks whose settings and presence a bpc column depends on."""
    return _group_subtasks(models, bpc_task) or (bpc_task,)


def _bpc_values(models: Sequence[ModelResults], bpc_task: str) -> list[tuple[float, float | None]]:
    """(bpc, stderr) per model; a group uses its own value if every model has one, else the unweighted mean."""
    subtasks = _group_subtasks(models, bpc_task)
    use_own = subtasks is None or all(
        m.source(bpc_task) is not None and _number(m.source(bpc_task).metrics(bpc_task).get(BPC_KEY)) is not None
        for m in models
    )
    values = []
    for model in models:
        if use_own:
            value = _require_metric(model, bpc_task, BPC_KEY, f"bpc of {bpc_task}")
            stderr = _number(model.source(bpc_task).metrics(bpc_task).get(BPC_STDERR_KEY))
        else:
            parts = [_require_metric(model, t, BPC_KEY, f"the mean bpc of {bpc_task}") for t in subtasks]
            errors = [_number(model.source(t).metrics(t).get(BPC_STDERR_KEY)) for t in subtasks]
            value = sum(parts) / len(parts)
            stderr = None if None in errors else math.sqrt(sum(e * e for e in errors)) / len(errors)
        values.append((value, stderr))
    return values


def check_tasks(models: Sequence[ModelResults], areas: Sequence[Area]) -> None:
    """Refuse when a model lacks a requested compression task, benchmark or metric."""
    for area in areas:
        for model in models:
            for task in _bpc_tasks(models, area.bpc_task):
                _require_metric(model, task, BPC_KEY, f"area {area.name!r}")
            for spec in area.scores:
                _require_metric(model, spec.task, spec.key, f"score {spec} of area {area.name!r}")


def check_model_count(models: Sequence[ModelResults], minimum: int = MIN_MODELS) -> None:
    if len(models) < minimum:
        listing = "; ".join(f"{m.label} ({m.file_list()})" for m in models) or "none"
        raise NotComparableError(
            f"need at least {minimum} models for a linear fit, got {len(models)}: {listing}"
        )


# --------------------------------------------------------------------------
# the fit


@dataclass
class FitRow:
    """One model in one area; ``residual`` and ``loo_error`` are score minus prediction."""

    label: str
    model_name: str
    files: tuple[str, ...]
    bpc: float
    bpc_stderr: float | None
    score: float
    components: dict[str, float]
    predicted: float
    residual: float
    loo_predicted: float
    loo_error: float


@dataclass
class FitStats:
    """Correlation and least-squares statistics of one area (scipy.stats)."""

    n: int
    pearson_r: float
    pearson_p: float
    pearson_ci_low: float
    pearson_ci_high: float
    spearman_rho: float
    spearman_p: float
    slope: float
    intercept: float
    slope_stderr: float
    intercept_stderr: float
    r_squared: float
    loo_rmse: float
    loo_mae: float
    confidence: float = CONFIDENCE


@dataclass
class AreaFit:
    """Score against bpc of one area: rows sorted by bpc, plus statistics."""

    area: Area
    rows: list[FitRow]
    stats: FitStats

    def predict(self, bpc):
        """Score the fitted line predicts at ``bpc`` (number or numpy array)."""
        return self.stats.intercept + self.stats.slope * bpc

    def confidence_band(self, bpc, level: float | None = None):
        """(low, high) band of the mean prediction at ``bpc``.

        Standard error of the fitted mean from the regression's standard errors:
        var = se_b0^2 + se_b1^2 * (x^2 - 2 x mean(x)), which equals
        s^2 (1/n + (x - mean)^2 / Sxx); the half-width is that times scipy.stats.t's
        quantile with n - 2 degrees of freedom.
        """
        import numpy as np
        from scipy import stats as st

        level = self.stats.confidence if level is None else level
        x = np.asarray(bpc, dtype=float)
        mean_x = float(np.mean([r.bpc for r in self.rows]))
        variance = self.stats.intercept_stderr**2 + self.stats.slope_stderr**2 * (x * x - 2 * x * mean_x)
        half = st.t.ppf(0.5 + level / 2, self.stats.n - 2) * np.sqrt(np.maximum(variance, 0.0))
        centre = self.predict(x)
        return centre - half, centre + half


def _fit_line(x, y):
    """scipy.stats.linregress, or None when it cannot fit (all x equal)."""
    from scipy import stats as st

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return st.linregress(x, y)
    except ValueError:
        return None


def fit_area(labels: Sequence[str], bpc: Sequence[float], score: Sequence[float], area: Area,
             *, bpc_stderr: Sequence[float | None] | None = None, components: Sequence[dict] | None = None,
             model_names: Sequence[str] | None = None, files: Sequence[Sequence[str]] | None = None,
             confidence: float = CONFIDENCE) -> AreaFit:
    """Fit ``score`` against ``bpc`` with scipy: Pearson (+CI), Spearman, least squares, residuals, leave-one-out."""
    import numpy as np
    from scipy import stats as st

    n = len(bpc)
    if n < MIN_MODELS:
        raise NotComparableError(f"need at least {MIN_MODELS} models for a linear fit, got {n}: {', '.join(labels)}")
    x = np.asarray(bpc, dtype=float)
    y = np.asarray(score, dtype=float)
    line = _fit_line(x, y)
    if line is None:
        raise ResultsError(f"area {area.name!r}: cannot fit a line, every model has the same bpc ({x[0]:.6g})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pearson = st.pearsonr(x, y)
        try:
            low, high = pearson.confidence_interval(confidence_level=confidence)
        except (ValueError, ZeroDivisionError):
            low, high = math.nan, math.nan
        spearman = st.spearmanr(x, y)
    predicted = line.intercept + line.slope * x
    loo = np.full(n, math.nan)
    for i in range(n):
        keep = np.arange(n) != i
        sub = _fit_line(x[keep], y[keep])
        if sub is not None:
            loo[i] = sub.intercept + sub.slope * x[i]
    loo_error = y - loo
    finite = loo_error[np.isfinite(loo_error)]
    stats = FitStats(
        n=n,
        pearson_r=float(pearson.statistic),
        pearson_p=float(pearson.pvalue),
        pearson_ci_low=float(low),
        pearson_ci_high=float(high),
        spearman_rho=float(spearman.statistic),
        spearman_p=float(spearman.pvalue),
        slope=float(line.slope),
        intercept=float(line.intercept),
        slope_stderr=float(line.stderr),
        intercept_stderr=float(line.intercept_stderr),
        r_squared=float(line.rvalue**2),
        loo_rmse=float(np.sqrt(np.mean(finite**2))) if finite.size else math.nan,
        loo_mae=float(np.mean(np.abs(finite))) if finite.size else math.nan,
        confidence=confidence,
    )
    rows = [
        FitRow(
            label=labels[i],
            model_name=(model_names or labels)[i],
            files=tuple(files[i]) if files else (),
            bpc=float(x[i]),
            bpc_stderr=(bpc_stderr or [None] * n)[i],
            score=float(y[i]),
            components=dict((components or [{}] * n)[i]),
            predicted=float(predicted[i]),
            residual=float(y[i] - predicted[i]),
            loo_predicted=float(loo[i]),
            loo_error=float(loo_error[i]),
        )
        for i in range(n)
    ]
    rows.sort(key=lambda r: (r.bpc, r.label))
    return AreaFit(area, rows, stats)


def _as_models(models, labels=None) -> list[ModelResults]:
    """Accept loaded models or results paths."""
    if isinstance(models, (str, Path)):
        return load_results(models, labels)
    models = list(models)
    if models and not all(isinstance(m, ModelResults) for m in models):
        return load_results(models, labels)
    return models


def correlate(models: Sequence[ModelResults] | Iterable[str | Path], areas: Area | Sequence[Area],
              *, labels: Mapping[str, str] | None = None, confidence: float = CONFIDENCE) -> list[AreaFit]:
    """Check comparability, then fit each area; ``models`` may also be results paths."""
    models = _as_models(models, labels)
    areas = [areas] if isinstance(areas, Area) else list(areas)
    if not areas:
        raise ResultsError("nothing to correlate: name an --area or --score")
    check_model_count(models)
    check_tasks(models, areas)
    check_settings(models, sorted({t for a in areas for t in _bpc_tasks(models, a.bpc_task)}))
    fits = []
    for area in areas:
        bpc = _bpc_values(models, area.bpc_task)
        components = [
            {str(spec): _require_metric(m, spec.task, spec.key, str(spec)) for spec in area.scores} for m in models
        ]
        scores = [sum(c.values()) / len(c) for c in components]
        fits.append(fit_area(
            [m.label for m in models], [b for b, _ in bpc], scores, area,
            bpc_stderr=[e for _, e in bpc], components=components,
            model_names=[m.model_name for m in models],
            files=[sorted({str(m.source(t).path) for t in _bpc_tasks(models, area.bpc_task)}
                          | {str(m.source(s.task).path) for s in area.scores}) for m in models],
            confidence=confidence,
        ))
    return fits


# --------------------------------------------------------------------------
# the leaderboard


@dataclass
class LeaderboardRow:
    label: str
    model_name: str
    bpc: dict[str, float]
    mean: float


@dataclass
class Leaderboard:
    """BPC per corpus and the mean (lower is better), sorted by mean; ``mean_source`` is 'group' or 'computed'."""

    tasks: tuple[str, ...]
    rows: list[LeaderboardRow]
    mean_source: str

    def column(self, task: str) -> str:
        return task[len("compression_"):] if task.startswith("compression_") else task


def leaderboard(models: Sequence[ModelResults] | Iterable[str | Path], tasks: Sequence[str] = CORPUS_TASKS,
                *, labels: Mapping[str, str] | None = None) -> Leaderboard:
    """BPC of every model on each corpus and their mean, after the same comparability checks."""
    models = _as_models(models, labels)
    tasks = tuple(tasks)
    if not models:
        raise ResultsError("no models to rank")
    for model in models:
        for task in tasks:
            _require_metric(model, task, BPC_KEY, "the leaderboard")
    check_settings(models, tasks)
    group_mean = set(_group_subtasks(models, COMPRESSION_GROUP) or ()) == set(tasks) and all(
        m.source(COMPRESSION_GROUP) is not None
        and _number(m.source(COMPRESSION_GROUP).metrics(COMPRESSION_GROUP).get(BPC_KEY)) is not None
        for m in models
    )
    rows = []
    for model in models:
        values = {t: _require_metric(model, t, BPC_KEY, "the leaderboard") for t in tasks}
        if group_mean:
            mean = _require_metric(model, COMPRESSION_GROUP, BPC_KEY, "the leaderboard")
        else:
            mean = sum(values.values()) / len(values)
        rows.append(LeaderboardRow(model.label, model.model_name, values, mean))
    rows.sort(key=lambda r: (r.mean, r.label))
    return Leaderboard(tasks, rows, "group" if group_mean else "computed")


# --------------------------------------------------------------------------
# writers


def _fmt(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _fmt_signed(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:+.{digits}f}"


def _fmt_p(value: float) -> str:
    """'p = 0.012', 'p = 3.0e-07', 'p < 1e-300' (a perfect rank order gives p = 0)."""
    if math.isnan(value):
        return "p = n/a"
    if value < 1e-300:
        return "p < 1e-300"
    return f"p = {value:.2g}" if value >= 1e-4 else f"p = {value:.1e}"


def fit_markdown(fit: AreaFit) -> str:
    """Markdown table (models by bpc) and statistics of one area."""
    area, s = fit.area, fit.stats
    several = len(area.scores) > 1
    has_se = any(r.bpc_stderr is not None for r in fit.rows)
    head = ["Model", f"BPC ({area.bpc_task})"] + (["± se"] if has_se else [])
    head += [str(spec) for spec in area.scores] if several else []
    head += ["Score" + (" (mean)" if several else f" ({area.scores[0]})"), "Predicted", "Residual", "LOO error"]
    align = [":---"] + ["---:"] * (len(head) - 1)
    lines = [f"### {area.name}: {area.bpc_task} vs {area.score_names}", "",
             "| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    for row in fit.rows:
        cells = [row.label, _fmt(row.bpc)] + ([_fmt(row.bpc_stderr)] if has_se else [])
        cells += [_fmt(row.components.get(str(spec))) for spec in area.scores] if several else []
        cells += [_fmt(row.score), _fmt(row.predicted), _fmt_signed(row.residual), _fmt_signed(row.loo_error)]
        lines.append("| " + " | ".join(cells) + " |")
    pct = f"{s.confidence * 100:g} %"
    lines += [
        "",
        f"- models: {s.n}",
        f"- Pearson r = {s.pearson_r:.3f} ({pct} CI {_fmt(s.pearson_ci_low, 3)} to {_fmt(s.pearson_ci_high, 3)}), "
        f"{_fmt_p(s.pearson_p)}",
        f"- Spearman rho = {s.spearman_rho:.3f}, {_fmt_p(s.spearman_p)} (scipy's t approximation, rough for few models)",
        f"- least squares: score = {s.intercept:.4f} {'-' if s.slope < 0 else '+'} {abs(s.slope):.4f} × bpc "
        f"(se {s.intercept_stderr:.4f}, {s.slope_stderr:.4f}), R² = {s.r_squared:.3f}",
        f"- leave-one-out prediction error: RMSE = {_fmt(s.loo_rmse)}, MAE = {_fmt(s.loo_mae)}",
        "",
        "Residual and LOO error are score minus prediction (of the fit on all models, "
        "and of the fit without that model).",
    ]
    return "\n".join(lines) + "\n"


def fits_markdown(fits: Sequence[AreaFit]) -> str:
    return "\n".join(fit_markdown(f) for f in fits)


def write_fit_csv(fits: Sequence[AreaFit], path: str | Path) -> Path:
    """One row per model and area, with each benchmark's score as its own column."""
    path = Path(path)
    specs: list[str] = []
    for fit in fits:
        for spec in fit.area.scores:
            if str(spec) not in specs:
                specs.append(str(spec))
    columns = ["area", "bpc_task", "scores", "model", "model_name", "bpc", "bpc_stderr", "score",
               "predicted", "residual", "loo_predicted", "loo_error"] + specs + ["files"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for fit in fits:
            for r in fit.rows:
                writer.writerow([fit.area.name, fit.area.bpc_task, fit.area.score_names, r.label, r.model_name,
                                 r.bpc, "" if r.bpc_stderr is None else r.bpc_stderr, r.score, r.predicted,
                                 r.residual, r.loo_predicted, r.loo_error]
                                + [r.components.get(s, "") for s in specs] + [";".join(r.files)])
    return path


def write_stats_csv(fits: Sequence[AreaFit], path: str | Path) -> Path:
    """One row of statistics per area."""
    path = Path(path)
    names = list(FitStats.__dataclass_fields__)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["area", "bpc_task", "scores"] + names)
        for fit in fits:
            writer.writerow([fit.area.name, fit.area.bpc_task, fit.area.score_names]
                            + [getattr(fit.stats, n) for n in names])
    return path


def plot_fits(fits: Sequence[AreaFit], stem: str | Path, *, dpi: int = PLOT_DPI,
              panel_size: tuple[float, float] = PANEL_SIZE) -> list[Path]:
    """Scatter, fit line and confidence band, one panel per area; writes ``stem``.png and ``stem``.svg.

    Uses matplotlib's Agg canvas directly (no pyplot), so the caller's backend is untouched.
    """
    import matplotlib
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    stem = Path(stem)
    with matplotlib.rc_context({"svg.hashsalt": "lm-eval-compression", "font.size": 9}):
        fig = Figure(figsize=(panel_size[0] * len(fits), panel_size[1]), dpi=dpi, layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, len(fits), squeeze=False)[0]
        for ax, fit in zip(axes, fits):
            x = np.array([r.bpc for r in fit.rows])
            y = np.array([r.score for r in fit.rows])
            span = x.max() - x.min() or 1.0
            grid = np.linspace(x.min() - 0.06 * span, x.max() + 0.06 * span, 200)
            low, high = fit.confidence_band(grid)
            s = fit.stats
            pct = f"{s.confidence * 100:g}%"
            ax.fill_between(grid, low, high, color="tab:blue", alpha=0.15, linewidth=0,
                            label=f"{pct} confidence band of the fit")
            ax.plot(grid, fit.predict(grid), color="tab:blue", linewidth=1.5,
                    label=f"fit: r = {s.pearson_r:.3f} [{_fmt(s.pearson_ci_low, 2)}, {_fmt(s.pearson_ci_high, 2)}], "
                          f"R² = {s.r_squared:.2f}")
            xerr = [r.bpc_stderr or 0.0 for r in fit.rows]
            ax.errorbar(x, y, xerr=xerr if any(xerr) else None, fmt="o", color="tab:red", markersize=4,
                        elinewidth=0.8, label=f"models (n = {s.n})")
            for r in fit.rows:  # labels on the point's side of the line, away from it
                above = r.residual >= 0
                ax.annotate(r.label, (r.bpc, r.score), xytext=(4, 3 if above else -3), textcoords="offset points",
                            fontsize=7, va="bottom" if above else "top")
            ax.set_xlabel(f"bits per character ({fit.area.bpc_task})")
            ax.set_ylabel("score" if len(fit.area.scores) == 1 else "average score")
            ax.set_title(f"{fit.area.name}\n{fit.area.score_names}", fontsize=9)
            ax.grid(True, alpha=0.3)
            ax.set_xlim(x.min() - 0.08 * span, x.max() + 0.22 * span)  # room for the labels
            # the line runs corner to corner; the legend goes in an empty one
            ax.legend(fontsize=7, loc="lower left" if s.slope < 0 else "upper left")
        written = []
        for suffix in (".png", ".svg"):
            target = stem.with_suffix(suffix)
            fig.savefig(target, format=suffix[1:], metadata={"Date": None} if suffix == ".svg" else None)
            written.append(target)
    return written


def leaderboard_markdown(board: Leaderboard) -> str:
    head = ["Model"] + [board.column(t) for t in board.tasks] + ["Average"]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join([":---"] + ["---:"] * (len(head) - 1)) + " |"]
    for row in board.rows:
        lines.append("| " + " | ".join([row.label] + [_fmt(row.bpc[t]) for t in board.tasks] + [_fmt(row.mean)]) + " |")
    note = ("the compression group's own value" if board.mean_source == "group"
            else "the unweighted mean of the columns")
    lines += ["", f"BPC, lower is better; Average is {note}."]
    return "\n".join(lines) + "\n"


def write_leaderboard_csv(board: Leaderboard, path: str | Path) -> Path:
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["model", "model_name"] + [board.column(t) for t in board.tasks] + ["average"])
        for row in board.rows:
            writer.writerow([row.label, row.model_name] + [row.bpc[t] for t in board.tasks] + [row.mean])
    return path


# --------------------------------------------------------------------------
# command line


def _labels(pairs: Sequence[str]) -> dict[str, str]:
    labels = {}
    for pair in pairs or ():
        key, eq, label = pair.partition("=")
        if not eq or not key or not label:
            raise argparse.ArgumentTypeError(f"bad --label {pair!r}: expected MODEL_OR_PATH=LABEL")
        labels[key] = label
    return labels


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("results", nargs="+", metavar="RESULTS",
                        help="results_*.json files or lm_eval --output_path folders (searched recursively)")
    parser.add_argument("--label", action="append", default=[], metavar="MODEL_OR_PATH=LABEL",
                        help="show a model (by model name, results file or folder) under another name; repeatable")
    parser.add_argument("--output-dir", type=Path, help="write markdown, CSV (and plots) here")
    return parser


def _run(build) -> int:
    """Run a command body; input errors become a message and exit status 2."""
    try:
        return build()
    except ResultsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ImportError as err:
        print(f"error: {err}; install the report extra: pip install 'lm-eval-compression[report]'", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    """``correlate`` command: fit scores against bpc and write the report."""
    parser = _parser(
        "python -m lm_eval_compression correlate",
        "Linear fit of benchmark scores against bits-per-character (Huang et al., 2024).",
    )
    parser.add_argument("--area", action="append", default=[], metavar="AREA=TASK/METRIC[,FILTER],...",
                        help="a paper pairing: knowledge (compression_cc), coding (compression_python) or "
                             "math (compression_arxiv_math), with the benchmarks averaged for it, e.g. "
                             "knowledge=hellaswag/acc_norm,arc_easy/acc; NAME:BPC_TASK=... pairs any task; repeatable")
    parser.add_argument("--bpc-task", help="compression task or group for --score (default: compression, the mean)")
    parser.add_argument("--score", action="append", default=[], metavar="TASK/METRIC[,FILTER]",
                        help="benchmark metric averaged against --bpc-task; repeatable")
    parser.add_argument("--name", default="score", help="area name for --bpc-task/--score (default: score)")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))

    def build():
        try:
            labels = _labels(args.label)
            areas = [Area.parse(text) for text in args.area]
            if args.score:
                scores = tuple(ScoreSpec.parse(s) for s in args.score)
                areas.append(Area(args.name, args.bpc_task or COMPRESSION_GROUP, scores))
            elif args.bpc_task:
                raise ValueError("--bpc-task needs at least one --score")
        except (ValueError, argparse.ArgumentTypeError) as err:
            parser.error(str(err))
        if not areas:
            parser.error("name at least one --area or --score")
        fits = correlate(load_results(args.results, labels), areas)
        text = fits_markdown(fits)
        print(text, end="")
        if args.output_dir:
            args.output_dir.mkdir(parents=True, exist_ok=True)
            written = [args.output_dir / "correlate.md"]
            written[0].write_text(text, encoding="utf-8")
            written.append(write_fit_csv(fits, args.output_dir / "correlate.csv"))
            written.append(write_stats_csv(fits, args.output_dir / "correlate_stats.csv"))
            written += plot_fits(fits, args.output_dir / "correlate")
            print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
        return 0

    return _run(build)


def leaderboard_main(argv: Sequence[str] | None = None) -> int:
    """``leaderboard`` command: bpc per corpus and the mean for every model, best first."""
    parser = _parser(
        "python -m lm_eval_compression leaderboard",
        "BPC of every model per corpus and the average, sorted by the average (lower is better).",
    )
    parser.add_argument("--tasks", default=",".join(CORPUS_TASKS),
                        help=f"comma-separated compression tasks (default: {','.join(CORPUS_TASKS)})")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))

    def build():
        try:
            labels = _labels(args.label)
        except argparse.ArgumentTypeError as err:
            parser.error(str(err))
        tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
        if not tasks:
            parser.error("--tasks is empty")
        board = leaderboard(load_results(args.results, labels), tasks)
        text = leaderboard_markdown(board)
        print(text, end="")
        if args.output_dir:
            args.output_dir.mkdir(parents=True, exist_ok=True)
            md = args.output_dir / "leaderboard.md"
            md.write_text(text, encoding="utf-8")
            written = [md, write_leaderboard_csv(board, args.output_dir / "leaderboard.csv")]
            print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
        return 0

    return _run(build)
