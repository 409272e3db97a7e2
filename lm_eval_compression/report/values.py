"""The numbers a report takes from results files: a metric of a task, and the bpc of a task or group.

A missing task or metric is an error that names the model, the file and what is there; so is a value
the report cannot rank or fit: a metric that is not a finite number, a bpc below zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .areas import COMPRESSION_GROUP, CORPUS_TASKS
from .results import ModelResults, NotComparableError

BPC_KEY = "bpc,none"
BPC_STDERR_KEY = "bpc_stderr,none"


def as_number(value) -> float | None:
    """``value`` as a float, or None for anything that is not a number (``"N/A"``, booleans)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def require_metric(model: ModelResults, task: str, key: str, asked: str) -> float:
    """The value of metric ``key`` of ``task`` for ``model``; ``asked`` says what needs it, for the error."""
    results_file = model.source(task)
    if results_file is None:
        raise NotComparableError(
            f"model {model.label!r} has no result for task {task!r} (needed for {asked}) in {model.file_list()}; "
            f"tasks there: {', '.join(model.tasks()) or 'none'}"
        )
    metrics = results_file.metrics(task)
    value = as_number(metrics.get(key))
    if value is None:
        available = ", ".join(k for k in metrics if k != "alias" and "_stderr" not in k) or "none"
        raise NotComparableError(
            f"model {model.label!r}: task {task!r} in {results_file.path} has no metric {key!r} "
            f"(needed for {asked}); metrics there: {available}. "
            "Name a filter as task/metric,filter."
        )
    if not math.isfinite(value):
        raise NotComparableError(
            f"model {model.label!r}: task {task!r} in {results_file.path} has {key} = {value} "
            f"(needed for {asked}), not a finite number: it cannot be ranked or fitted. Re-run the task."
        )
    return value


def require_bpc(model: ModelResults, task: str, asked: str) -> float:
    """The bpc of ``task`` for ``model``: a finite number, never below zero."""
    value = require_metric(model, task, BPC_KEY, asked)
    if value < 0:
        raise NotComparableError(
            f"model {model.label!r}: task {task!r} in {model.source(task).path} has {BPC_KEY} = {value} "
            f"(needed for {asked}): bits per character are never negative. Re-run the task."
        )
    return value


def group_subtasks(models: Sequence[ModelResults], group: str) -> tuple[str, ...] | None:
    """Subtasks of ``group`` as a results file lists them (``compression`` -> the three corpora), else None."""
    for model in models:
        for results_file in model.files:
            subtasks = (results_file.data.get("group_subtasks") or {}).get(group)
            if subtasks:
                return tuple(subtasks)
    return CORPUS_TASKS if group == COMPRESSION_GROUP else None


def bpc_tasks(models: Sequence[ModelResults], bpc_task: str) -> tuple[str, ...]:
    """The tasks whose settings and presence a bpc column depends on: a group's subtasks, or the task."""
    return group_subtasks(models, bpc_task) or (bpc_task,)


def has_own_group_bpc(models: Sequence[ModelResults], group: str, subtasks: Sequence[str]) -> bool:
    """True when every model's results file for ``group`` holds its bpc and also every subtask's result.

    Only then is the group's own value the aggregate of the subtask values the report shows;
    a group row next to a newer re-run of one subtask is stale.
    """
    for model in models:
        source = model.source(group)
        if source is None or as_number(source.metrics(group).get(BPC_KEY)) is None:
            return False
        if any(model.source(task) is not source for task in subtasks):
            return False
    return True


def bpc_values(models: Sequence[ModelResults], bpc_task: str) -> list[tuple[float, float | None]]:
    """(bpc, stderr) per model; a group uses its own value where :func:`has_own_group_bpc`, else the
    unweighted mean of its subtasks (stderr combined as independent)."""
    subtasks = group_subtasks(models, bpc_task)
    use_own = subtasks is None or has_own_group_bpc(models, bpc_task, subtasks)
    values = []
    for model in models:
        if use_own:
            value = require_bpc(model, bpc_task, f"bpc of {bpc_task}")
            stderr = as_number(model.source(bpc_task).metrics(bpc_task).get(BPC_STDERR_KEY))
        else:
            parts = [require_bpc(model, t, f"the mean bpc of {bpc_task}") for t in subtasks]
            errors = [as_number(model.source(t).metrics(t).get(BPC_STDERR_KEY)) for t in subtasks]
            value = sum(parts) / len(parts)
            stderr = None if None in errors else math.sqrt(sum(e * e for e in errors)) / len(errors)
        values.append((value, stderr))
    return values
