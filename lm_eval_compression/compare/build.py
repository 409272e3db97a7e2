"""The comparison of two runs as one JSON-ready dict: what ``compare`` writes, renders and draws.

Per task: the paired statistics (:mod:`.paired`), per subdomain where a ``group_by`` field is given, each
document's bits, both context-length curves, and where both runs have per-token records the
character-aligned view (:mod:`.characters`, :mod:`.lines`).  Across tasks: their mean, as the
``compression`` group reports it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .characters import per_character
from .checks import check_pair, common_tasks
from .lines import coloured, top_lines
from .paired import Paired, mean_of, paired
from .runs import Run, TaskRun


@dataclass(frozen=True)
class CompareSettings:
    """``top``: documents and lines listed each way; ``group_by``: a dotted document field for the
    subdomain table (default: the runs' own ``group_by`` where both have the same); ``levels``: colour
    steps on each side of zero in the page."""

    top: int = 10
    group_by: str | None = None
    levels: int = 5


def model_entry(run: Run) -> dict:
    return {"label": run.label, "model": run.model_name, "folder": str(run.folder)}


def window_settings(run: TaskRun) -> dict:
    """The window settings both runs share (the window BOS as set, not as resolved)."""
    shared = {key: run.settings[key] for key in ("block_size", "stride", "protocol")}
    return {**shared, "window_bos_setting": run.settings["window_bos"]}


def effective_window_bos(run: TaskRun):
    """Whether the run put BOS at the start of its windows (what ``auto`` resolved to for its tokenizer)."""
    return run.settings.get("window_bos_effective", run.settings.get("window_bos"))


def documents_table(ta: TaskRun, tb: TaskRun) -> list[dict]:
    da, db = ta.documents, tb.documents
    rows = []
    for i, doc_id in enumerate(da.ids.tolist()):
        n = int(da.chars[i])
        rows.append(
            {
                "doc_id": doc_id,
                "chars": n,
                "bits_a": float(da.bits[i]),
                "bits_b": float(db.bits[i]),
                "bpc_a": float(da.bits[i] / n) if n else None,
                "bpc_b": float(db.bits[i] / n) if n else None,
            }
        )
    return rows


def top_documents(rows: list[dict], top: int) -> dict:
    """The documents where A loses most to B by bpc, and where B loses most to A."""
    scored = [r for r in rows if r["chars"]]
    by_gap = sorted(scored, key=lambda r: r["bpc_a"] - r["bpc_b"])
    return {
        "a_loses": [r for r in reversed(by_gap) if r["bpc_a"] > r["bpc_b"]][:top],
        "b_loses": [r for r in by_gap if r["bpc_b"] > r["bpc_a"]][:top],
    }


def group_field(a: TaskRun, b: TaskRun, settings: CompareSettings) -> str | None:
    if settings.group_by:
        return settings.group_by
    return a.group_by if a.group_by and a.group_by == b.group_by else None


def by_group(ta: TaskRun, tb: TaskRun, path: str) -> dict:
    groups = np.array(ta.documents.groups(path), dtype=object)
    out = {}
    for value in sorted(set(groups.tolist())):
        mask = groups == value
        out[value] = paired(ta.documents.bits[mask], tb.documents.bits[mask], ta.documents.chars[mask]).as_dict()
    return out


def characters(ta: TaskRun, tb: TaskRun) -> tuple[dict, dict] | None:
    """Per-character bits of both runs, or None where a run has no records."""
    if ta.records is None or tb.records is None:
        return None
    d = ta.documents
    return per_character(ta.records, d.ids, d.chars), per_character(tb.records, d.ids, d.chars)


def character_check(bits: dict, documents) -> float:
    """Largest gap between a document's per-character bits summed and its bits, relative to them."""
    gaps = [abs(bits[i].sum() - b) / max(abs(b), 1.0) for i, b in zip(documents.ids.tolist(), documents.bits)]
    return float(max(gaps, default=0.0))


def compare_task(task: str, a: Run, b: Run, settings: CompareSettings, part: Paired) -> dict:
    """One task's entry; ``part`` is its paired comparison."""
    ta, tb = a.tasks[task], b.tasks[task]
    d = ta.documents
    rows = documents_table(ta, tb)
    entry = {
        "settings": window_settings(ta),
        "window_bos": {"a": effective_window_bos(ta), "b": effective_window_bos(tb)},
        "corpus": ta.settings.get("corpus"),
        "corpus_sha256": ta.settings.get("corpus_sha256"),
        "paired": part.as_dict(),
        "documents": rows,
        "top_documents": top_documents(rows, settings.top),
        "context": {"a": ta.context, "b": tb.context},
    }
    path = group_field(ta, tb, settings)
    if path:
        entry["group_by"] = path
        entry["groups"] = by_group(ta, tb, path)
    found = characters(ta, tb)
    if found is not None:
        entry["character_check"] = {"a": character_check(found[0], d), "b": character_check(found[1], tb.documents)}
        entry["top_lines"] = top_lines(d, found[0], found[1], settings.top)
    return entry


def compare(a: Run, b: Run, settings: CompareSettings = CompareSettings()) -> dict:
    """Check that the runs pair up (every shared task), then compare them."""
    tasks = common_tasks(a, b)
    for task in tasks:
        check_pair(task, a, b)
    out = {
        "a": model_entry(a),
        "b": model_entry(b),
        "only_in_a": [t for t in a.tasks if t not in tasks],
        "only_in_b": [t for t in b.tasks if t not in tasks],
        "method": {
            "difference": "bpc of A minus bpc of B; negative means A compresses better",
            "stderr": "delta method over documents (paired: on per-document differences); interval: Student t",
            "characters": "each token's bits spread evenly over its characters; empty spans to the character before",
            "top_documents": "ranked by the gap in the document's bpc",
            "top_lines": "ranked by the bits one model spends more than the other on the line",
        },
    }
    parts = {t: paired(a.tasks[t].documents.bits, b.tasks[t].documents.bits, a.tasks[t].documents.chars) for t in tasks}
    entries = {task: compare_task(task, a, b, settings, parts[task]) for task in tasks}
    out["tasks"], out["colour"] = coloured(entries, settings.levels)
    out["mean"] = mean_of(list(parts.values())).as_dict() if len(parts) > 1 else None
    return out
