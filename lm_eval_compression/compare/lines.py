"""The lines where one model loses most to the other, and their colouring for the page.

A line's numbers are sums of the per-character bits of :mod:`.characters` over its characters (its
newline included); lines of only whitespace are left out.  Colours step through ``levels`` shades on each
side of zero: a character's level is its bit difference (A minus B) over the colour scale, the 95th
percentile of the absolute differences over every line shown, rounded and clipped; runs of equal level
are one segment (one ``<span>`` of the page).
"""

from __future__ import annotations

import numpy as np

from .characters import lines_of
from .runs import Documents


def line_entry(doc_id: int, number: int, text: str, start: int, end: int, ca: np.ndarray, cb: np.ndarray) -> dict:
    diff = ca[start:end] - cb[start:end]
    return {
        "doc_id": doc_id,
        "line": number,
        "start": start,
        "end": end,
        "text": text[start:end],
        "chars": end - start,
        "bits_a": float(ca[start:end].sum()),
        "bits_b": float(cb[start:end].sum()),
        "excess_bits": float(diff.sum()),
        "char_diff": diff.tolist(),
    }


def top_lines(documents: Documents, bits_a: dict, bits_b: dict, top: int) -> dict:
    """The ``top`` lines where A spends the most bits more than B (``a_loses``) and the reverse."""
    candidates = []
    for doc_id, text in zip(documents.ids.tolist(), documents.texts):
        ca, cb = bits_a[doc_id], bits_b[doc_id]
        for number, (start, end) in enumerate(lines_of(text), 1):
            if text[start:end].strip():
                candidates.append((float(ca[start:end].sum() - cb[start:end].sum()), doc_id, number, start, end))
    candidates.sort()
    texts = dict(zip(documents.ids.tolist(), documents.texts))

    def entries(chosen):
        return [line_entry(d, n, texts[d], s, e, bits_a[d], bits_b[d]) for _, d, n, s, e in chosen]

    return {
        "a_loses": entries([c for c in reversed(candidates) if c[0] > 0][:top]),
        "b_loses": entries([c for c in candidates if c[0] < 0][:top]),
    }


def colour_scale(tasks: dict) -> float:
    """The bits that the darkest shade stands for: the 95th percentile of |difference| per character."""
    values = [
        abs(v)
        for entry in tasks.values()
        for side in (entry.get("top_lines") or {}).values()
        for line in side
        for v in line["char_diff"]
    ]
    scale = float(np.percentile(values, 95)) if values else 0.0
    return scale if scale > 0 else 1.0


def segments(char_diff: list[float], scale: float, levels: int) -> list[dict]:
    """Runs of equal colour level: ``start``, ``end`` (within the line) and ``level`` in -levels..levels."""
    level = np.clip(np.rint(np.asarray(char_diff) / scale * levels), -levels, levels).astype(int)
    out, start = [], 0
    for i in range(1, len(level) + 1):
        if i == len(level) or level[i] != level[start]:
            out.append({"start": start, "end": i, "level": int(level[start])})
            start = i
    return out


def coloured(tasks: dict, levels: int) -> tuple[dict, dict]:
    """The tasks with each top line's ``segments`` added, and the colour legend (scale and levels)."""
    scale = colour_scale(tasks)
    out = {}
    for task, entry in tasks.items():
        if "top_lines" in entry:
            top = {
                side: [{**line, "segments": segments(line["char_diff"], scale, levels)} for line in lines]
                for side, lines in entry["top_lines"].items()
            }
            entry = {**entry, "top_lines": top}
        out[task] = entry
    return out, {"scale_bits": scale, "levels": levels}
