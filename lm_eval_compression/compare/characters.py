"""Bits per character, character by character, from per-token records: what lines two tokenizers up.

Rule: a token's bits (``-logprob / ln 2``) are spread evenly over the characters of its span
``[char_start, char_end)``.  A token whose span is empty (it continues a character an earlier token
already owns, as byte-level pieces of one character do) adds its bits to the character before its span
start, or to the document's first character at position 0.  A document's characters thus carry exactly
its scored bits: their sum is the document's bits (up to float64 rounding), whatever the tokenizer.
Characters of tokens a run did not score (the ``paper`` protocol's tail) carry none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..report.results import ResultsError

COLUMNS = ["doc", "char_start", "char_end", "logprob"]


def spread(starts: np.ndarray, ends: np.ndarray, bits: np.ndarray, n_chars: int) -> np.ndarray:
    """Per-character bits of one document from its tokens' spans and bits (the rule above)."""
    out = np.zeros(n_chars, dtype=np.float64)
    if n_chars == 0:
        return out
    widths = ends - starts
    wide = widths > 0
    index = np.repeat(starts[wide], widths[wide]) + _offsets(widths[wide])
    np.add.at(out, index, np.repeat(bits[wide] / widths[wide], widths[wide]))
    np.add.at(out, np.maximum(starts[~wide] - 1, 0), bits[~wide])
    return out


def _offsets(widths: np.ndarray) -> np.ndarray:
    """0..w-1 for each width w, concatenated."""
    total = int(widths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    firsts = np.repeat(np.cumsum(widths) - widths, widths)
    return np.arange(total, dtype=np.int64) - firsts


def per_character(records: Path, doc_ids: np.ndarray, chars: np.ndarray) -> dict[int, np.ndarray]:
    """Per-character bits of every document in ``doc_ids`` (with ``chars`` characters each) from a Parquet
    records file; a span outside its document is an error naming the file and the document."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(records, columns=COLUMNS)
    except Exception as err:  # pyarrow raises several types for a damaged or foreign file
        raise ResultsError(f"cannot read the token records {records}: {err}") from err
    doc = table.column("doc").to_numpy()
    order = np.argsort(doc, kind="stable")
    doc = doc[order]
    starts = table.column("char_start").to_numpy()[order]
    ends = table.column("char_end").to_numpy()[order]
    bits = -table.column("logprob").to_numpy().astype(np.float64)[order] / np.log(2.0)
    bounds = np.searchsorted(doc, doc_ids), np.searchsorted(doc, doc_ids, side="right")
    out = {}
    for doc_id, n, lo, hi in zip(doc_ids.tolist(), chars.tolist(), *bounds):
        if hi > lo and (ends[lo:hi].max() > n or starts[lo:hi].min() < 0):
            raise ResultsError(f"{records}: a token of document {doc_id} has characters outside its {n}")
        out[doc_id] = spread(starts[lo:hi], ends[lo:hi], bits[lo:hi], n)
    return out


def lines_of(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each line of ``text``, its newline included."""
    spans, start = [], 0
    for line in text.splitlines(keepends=True):
        spans.append((start, start + len(line)))
        start += len(line)
    return spans
