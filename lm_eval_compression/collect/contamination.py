"""Word n-gram overlap with a reference corpus (13-grams by default, as in GPT-3's contamination study).

A document is *contaminated* when it shares at least one word n-gram with any reference document.
The reference's n-grams are kept as a sorted ``uint64`` array of xxhash values, so a reference of a
few hundred million words fits in memory.  Used three ways: the ``collect contamination`` command
(reports the share, optionally writes the clean documents), the pipelines' ``--decontaminate`` option
(a step that drops contaminated documents) and :class:`ContaminationFilter` for datatrove pipelines.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import xxhash
from datatrove.data import Document
from datatrove.pipeline.writers import JsonlWriter
from tqdm.auto import tqdm

from .files import AtomicWriter, json_line, read_jsonl
from .steps import StepFilter

_WORDS = re.compile(r"\w+")
TEXT_KEYS = ("content", "text")


def words(text: str) -> list[str]:
    """Lower-cased word tokens (runs of letters, digits and underscores)."""
    return _WORDS.findall(text.lower())


def ngram_hashes(text: str, n: int = 13) -> np.ndarray:
    """xxhash64 of every word n-gram of ``text`` (empty when it has fewer than ``n`` words)."""
    toks = words(text)
    if len(toks) < n:
        return np.empty(0, dtype=np.uint64)
    grams = (" ".join(toks[i : i + n]).encode("utf-8", "surrogatepass") for i in range(len(toks) - n + 1))
    return np.fromiter(map(xxhash.xxh64_intdigest, grams), dtype=np.uint64, count=len(toks) - n + 1)


def row_text(row: dict) -> str:
    for key in TEXT_KEYS:
        if isinstance(row.get(key), str):
            return row[key]
    raise KeyError(f"no text field ({' or '.join(TEXT_KEYS)}) in row with keys {sorted(row)}")


class NgramIndex:
    """The set of a reference corpus's word n-grams."""

    def __init__(self, hashes: np.ndarray, n: int, sources: list[str], docs: int):
        self.hashes = np.unique(hashes.astype(np.uint64))
        self.n = n
        self.sources = sources
        self.docs = docs

    @classmethod
    def from_texts(cls, texts: Iterable[str], n: int = 13, sources: list[str] | None = None) -> NgramIndex:
        parts, docs = [], 0
        for text in texts:
            parts.append(ngram_hashes(text, n))
            docs += 1
        hashes = np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)
        return cls(hashes, n, sources or [], docs)

    @classmethod
    def from_jsonl(cls, paths: Iterable[str], n: int = 13) -> NgramIndex:
        """Index JSON-lines files whose rows have ``content`` (evaluation schema) or ``text``."""
        paths = [str(p) for p in paths]

        def texts():
            for path in paths:
                for row in read_jsonl(path):
                    yield row_text(row)

        return cls.from_texts(texts(), n, paths)

    def overlap(self, text: str) -> int:
        """Number of the text's n-grams (with repeats) found in the reference."""
        h = ngram_hashes(text, self.n)
        if not len(h) or not len(self.hashes):
            return 0
        pos = np.searchsorted(self.hashes, h)
        pos[pos == len(self.hashes)] = 0
        return int(np.count_nonzero(self.hashes[pos] == h))

    def describe(self) -> dict:
        return {
            "references": self.sources,
            "reference_docs": self.docs,
            "ngram": self.n,
            "reference_ngrams": int(len(self.hashes)),
        }


class ContaminationFilter(StepFilter):
    """Drops documents sharing at least ``min_overlap`` n-grams with the reference (reason ``contaminated``).

    Give an ``index``, or ``references`` (JSON-lines paths) that each task indexes when it starts, so that a
    large reference is never pickled into a distributed job."""

    def __init__(
        self,
        index: NgramIndex | None = None,
        min_overlap: int = 1,
        references: list[str] | None = None,
        n: int = 13,
        name: str = "decontaminate",
        exclusion_writer: JsonlWriter | None = None,
    ):
        super().__init__(name, exclusion_writer)
        if index is None and not references:
            raise ValueError("ContaminationFilter needs an index or reference files")
        self.index = index
        self.references = list(references or [])
        self.n = n
        self.min_overlap = min_overlap

    def check(self, doc: Document):
        if self.index is None:
            self.index = NgramIndex.from_jsonl(self.references, self.n)
        hits = self.index.overlap(doc.text)
        if hits >= self.min_overlap:
            doc.metadata["contamination_ngrams"] = hits
            return False, "contaminated"
        return True


def contamination_share(rows: Iterable[dict], index: NgramIndex, clean=None) -> dict:
    """Documents, contaminated documents and their share among ``rows``; with ``clean`` (a text file)
    the rows that are not contaminated are written to it."""
    docs = hit = 0
    for row in rows:
        docs += 1
        if index.overlap(row_text(row)) > 0:
            hit += 1
        elif clean is not None:
            clean.write(json_line(row))
    return {"docs": docs, "contaminated_docs": hit, "share": (hit / docs) if docs else 0.0}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m lm_eval_compression collect contamination",
        description="Report the share of documents that share at least one word n-gram with a reference "
        "corpus; with --output also write the documents that do not.",
    )
    p.add_argument("inputs", nargs="+", help="JSON-lines corpora to check (rows with 'content' or 'text')")
    p.add_argument(
        "--reference", "-r", action="append", required=True, metavar="REF.jsonl", help="reference corpus (repeatable)"
    )
    p.add_argument("--ngram", type=int, default=13, help="word n-gram length (default: %(default)s)")
    p.add_argument(
        "--output", default=None, help="write the uncontaminated rows of the (single) input here (decontaminate)"
    )
    p.add_argument("--json", default=None, help="also write the report to this JSON file")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.output and len(args.inputs) != 1:
        p.error("--output takes exactly one input")

    index = NgramIndex.from_jsonl(args.reference, args.ngram)
    result = {**index.describe(), "inputs": {}}
    for path in args.inputs:
        rows = tqdm(read_jsonl(path), desc=Path(path).name, disable=args.no_progress, unit="doc")
        with AtomicWriter(args.output) if args.output else contextlib.nullcontext() as out:
            counts = contamination_share(rows, index, out)
        if args.output:
            counts["written"] = {"path": args.output, "docs": counts["docs"] - counts["contaminated_docs"]}
        result["inputs"][path] = counts
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0
