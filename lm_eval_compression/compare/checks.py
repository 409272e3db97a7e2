"""Refusing two runs that ``compare`` cannot pair: other window settings, another corpus, other documents.

A paired difference means something only when both models read the same documents with the same
windows.  The settings are those :func:`..report.comparable.recorded_settings` reads, where the window BOS is
the setting the user gave (``auto`` resolves per tokenizer, so two models with different tokenizers may
differ in its effective value and still be compared).
"""

from __future__ import annotations

import numpy as np

from ..report.results import NotComparableError
from .runs import Run, TaskRun

WINDOW_KEYS = ("block_size", "stride", "protocol", "window_bos")


def common_tasks(a: Run, b: Run) -> list[str]:
    """The compression tasks both runs have, in A's order; refuses when there is none."""
    tasks = [task for task in a.tasks if task in b.tasks]
    if not tasks:
        raise NotComparableError(
            f"the runs share no compression task: {a.label} ({a.folder}) has {', '.join(a.tasks)}; "
            f"{b.label} ({b.folder}) has {', '.join(b.tasks)}"
        )
    return tasks


def _differ(task: str, what: str, a: Run, va, b: Run, vb) -> NotComparableError:
    return NotComparableError(
        f"runs are not comparable: {task} has {what} {va!r} in {a.label} ({a.tasks[task].results}) "
        f"but {vb!r} in {b.label} ({b.tasks[task].results}); re-run one of them with the other's settings"
    )


def check_pair(task: str, a: Run, b: Run) -> None:
    """Refuse, naming the first difference, when ``task`` of the two runs cannot be paired document by
    document: window settings, corpus hash (else corpus name), document ids, each document's text."""
    ta, tb = a.tasks[task], b.tasks[task]
    for key in WINDOW_KEYS:
        if ta.settings.get(key) != tb.settings.get(key):
            raise _differ(task, f"window setting {key}", a, ta.settings.get(key), b, tb.settings.get(key))
    ha, hb = ta.settings.get("corpus_sha256"), tb.settings.get("corpus_sha256")
    if ha and hb and ha != hb:
        raise _differ(task, "corpus hash (corpus_sha256)", a, ha, b, hb)
    if not (ha and hb) and ta.settings.get("corpus") != tb.settings.get("corpus"):
        raise _differ(task, "corpus", a, ta.settings.get("corpus"), b, tb.settings.get("corpus"))
    check_documents(task, a, ta, b, tb)


def check_documents(task: str, a: Run, ta: TaskRun, b: Run, tb: TaskRun) -> None:
    """The same document ids, and each document the same text, in both runs' samples."""
    da, db = ta.documents, tb.documents
    if not np.array_equal(da.ids, db.ids):
        only_a = sorted(set(da.ids.tolist()) - set(db.ids.tolist()))
        only_b = sorted(set(db.ids.tolist()) - set(da.ids.tolist()))
        raise NotComparableError(
            f"runs are not comparable: {task} scored other documents: {len(da.ids)} in {a.label} "
            f"({ta.samples}), {len(db.ids)} in {b.label} ({tb.samples}); only in {a.label}: "
            f"{only_a[:10]}, only in {b.label}: {only_b[:10]} (same --limit for both, or none)"
        )
    for doc_id, text_a, text_b in zip(da.ids, da.texts, db.texts):
        if text_a != text_b:
            raise NotComparableError(
                f"runs are not comparable: document {doc_id} of {task} has another text in {a.label} "
                f"({ta.samples}) than in {b.label} ({tb.samples})"
            )
