"""Refusing results that cannot share a line or a table, with the files and settings that differ.

Across models a compression task must have run with the same window settings on
the same documents; within one model, the corpora combined into one number (a
group's mean, a leaderboard row) must all cover their whole corpus or all the
same ``--limit``; and every model needs every requested task and metric.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from .areas import Area
from .results import ModelResults, NotComparableError, ResultsFile
from .values import bpc_tasks, require_bpc, require_metric

# window settings that must agree across models (prefix tokens may differ)
WINDOW_SETTINGS = ("block_size", "stride", "protocol", "window_bos")
# what every results file of a compression task records (window BOS is recorded only by newer runs)
REQUIRED_SETTINGS = ("block_size", "stride", "protocol")


def _normalised(value):
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


def recorded_settings(results_file: ResultsFile, task: str) -> dict:
    """How ``task`` was computed, as its results file records it: the window settings, the corpus, its hash
    and document count, from ``configs[task]['compression']`` (the plugin's settings block), falling back
    to the task's ``metadata``.  A file that records none of block_size, stride and protocol is refused."""
    config = (results_file.data.get("configs") or {}).get(task) or {}
    effective = config.get("compression") or {}
    metadata = config.get("metadata") or {}
    settings = {}
    for key in WINDOW_SETTINGS:
        value = effective.get(key, metadata.get(key))
        settings[key] = None if value is None else _normalised(value)
    # window BOS as the user set it: ``auto`` resolves per tokenizer, so models with different tokenizers
    # may differ in its effective value under the same settings (older files record only the effective one)
    setting = effective.get("window_bos_setting")
    if setting is not None:
        settings["window_bos"] = _normalised(setting)
        settings["window_bos_effective"] = effective.get("window_bos")
    missing = [key for key in REQUIRED_SETTINGS if settings[key] is None]
    if missing:
        raise NotComparableError(
            f"task {task!r} in {results_file.path} does not record how it was computed: no {', '.join(missing)} "
            "in its 'compression' settings block or its metadata (configs). Only results files written by "
            "lm_eval with this plugin's tasks can be compared."
        )
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


def check_comparable(models: Sequence[ModelResults], tasks: Iterable[str]) -> None:
    """Refuse when a compression task ran with different window settings or corpora across models.

    Compares block_size, stride, protocol, window_bos and the corpus hash; where a
    file lacks the hash, the corpus name and document count instead.  A file without
    block_size, stride or protocol is refused; a window_bos or corpus it does not
    record is not compared.  Call after :func:`check_tasks`.
    """
    for task in tasks:
        entries = [(m, m.source(task)) for m in models]
        entries = [(m, f) for m, f in entries if f is not None]
        settings = {id(f): recorded_settings(f, task) for _, f in entries}
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
                    f"{key!r} in these files:\n"
                    + "\n".join(lines)
                    + "\nRe-run them with the same settings, or leave the odd ones out."
                )


def document_selection(results_file: ResultsFile, task: str) -> tuple[object, str]:
    """Which of its corpus's documents ``task`` scored: (key, description); key None means all of them.

    A run with ``--limit`` (or ``--samples``) scores fewer documents than the corpus
    holds: the harness records ``n-samples`` original and effective, and ``config.limit``.
    """
    counts = (results_file.data.get("n-samples") or {}).get(task) or {}
    original, effective = counts.get("original"), counts.get("effective")
    limit = _normalised((results_file.data.get("config") or {}).get("limit"))  # the harness writes 2.0
    if isinstance(original, int) and isinstance(effective, int):
        if effective >= original:
            return None, f"all {original} documents"
        how = f"--limit {limit}" if limit is not None else "a selection"
        return ("limit", limit), f"{effective} of {original} documents ({how})"
    if limit is not None:
        return ("limit", limit), f"--limit {limit}"
    return None, "all documents"


def check_document_sets(models: Sequence[ModelResults], tasks: Sequence[str], combined_as: str) -> None:
    """Refuse a model whose ``tasks``, combined into one number, come from runs on different document sets.

    Such a row mixes, say, a ``--limit 2`` run of one corpus with a full run of the others.
    """
    if len(tasks) < 2:
        return
    for model in models:
        sources = [(task, model.source(task)) for task in tasks]
        selections = [(task, f, *document_selection(f, task)) for task, f in sources if f is not None]
        if len({key for _, _, key, _ in selections}) > 1:
            lines = [f"  {task}: {text} in {f.path}" for task, f, _, text in selections]
            raise NotComparableError(
                f"model {model.label!r} combines different document sets in {combined_as}:\n"
                + "\n".join(lines)
                + "\nRe-run the odd tasks on the same documents (same --limit, or none), or leave the odd file out."
            )


def check_tasks(models: Sequence[ModelResults], areas: Sequence[Area]) -> None:
    """Refuse when a model lacks a requested compression task, benchmark or metric."""
    for area in areas:
        for model in models:
            for task in bpc_tasks(models, area.bpc_task):
                require_bpc(model, task, f"area {area.name!r}")
            for spec in area.scores:
                require_metric(model, spec.task, spec.key, f"score {spec} of area {area.name!r}")
