"""The paper's BPC table: every model's bpc per corpus and their mean, best (lowest) first.

The Average is always the unweighted mean of the columns shown.  Where each
model's ``compression`` group row comes from the same run as its three corpora
(and so is their mean), the table says that the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .areas import COMPRESSION_GROUP, CORPUS_TASKS
from .comparable import check_comparable, check_document_sets
from .results import ModelResults, ResultsError, as_models
from .values import group_subtasks, has_own_group_bpc, require_bpc


@dataclass
class LeaderboardRow:
    label: str
    model_name: str
    bpc: dict[str, float]
    mean: float


@dataclass
class Leaderboard:
    """BPC per corpus and the mean of the columns (lower is better), sorted by the mean.

    ``mean_source`` is 'group' when every model's compression group value from the same
    run equals that mean, 'computed' when there is no such value to agree with.
    """

    tasks: tuple[str, ...]
    rows: list[LeaderboardRow]
    mean_source: str

    def column(self, task: str) -> str:
        return task[len("compression_") :] if task.startswith("compression_") else task


def _group_agrees(models: Sequence[ModelResults], tasks: tuple[str, ...], rows: Sequence[LeaderboardRow]) -> bool:
    if set(group_subtasks(models, COMPRESSION_GROUP) or ()) != set(tasks):
        return False
    if not has_own_group_bpc(models, COMPRESSION_GROUP, tasks):
        return False
    return all(
        math.isclose(require_bpc(m, COMPRESSION_GROUP, "the leaderboard"), row.mean, rel_tol=1e-9)
        for m, row in zip(models, rows, strict=True)
    )


def leaderboard(
    models: Sequence[ModelResults] | Iterable[str | Path],
    tasks: Sequence[str] = CORPUS_TASKS,
    *,
    labels: Mapping[str, str] | None = None,
) -> Leaderboard:
    """BPC of every model on each task and their mean, after the comparability checks of ``correlate``.

    Refuses tasks computed with other settings or documents across models, and a
    model whose row would mix document sets (a ``--limit`` run of one corpus with a
    full run of another).
    """
    models = as_models(models, labels)
    tasks = tuple(tasks)
    if not models:
        raise ResultsError("no models to rank")
    rows = []
    for model in models:
        values = {t: require_bpc(model, t, "the leaderboard") for t in tasks}
        rows.append(LeaderboardRow(model.label, model.model_name, values, sum(values.values()) / len(values)))
    check_comparable(models, tasks)
    check_document_sets(models, tasks, "one leaderboard row")
    mean_source = "group" if _group_agrees(models, tasks, rows) else "computed"
    rows.sort(key=lambda r: (r.mean, r.label))
    return Leaderboard(tasks, rows, mean_source)
