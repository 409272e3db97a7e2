"""Exact and near-duplicate removal, as datatrove filters that keep the first copy they see.

Exact: a hash of the content (optionally with whitespace collapsed).  Near: MinHash signatures of
token 5-gram shingles in a ``datasketch`` LSH index; a document whose estimated Jaccard similarity to
an earlier kept one reaches the threshold (0.85 in the paper) is dropped.  Both run in one process
over a stream, which fits corpora of the size these evaluations use (millions, not billions, of
documents); datatrove's multi-stage MinHash blocks are the tool for web-scale runs.
"""

from __future__ import annotations

import hashlib
import re

from datasketch import LeanMinHash, MinHash, MinHashLSH
from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

_WS = re.compile(r"\s+")
_WORDS = re.compile(r"\w+")
_CODE_TOKENS = re.compile(r"\w+|[^\w\s]")


class ExactDedupFilter(BaseFilter):
    """Drops documents whose content hash was seen before (reason ``exact_duplicate``)."""

    name = "exact dedup"

    def __init__(self, normalize_whitespace: bool = False):
        super().__init__()
        self.normalize_whitespace = normalize_whitespace
        self.seen: dict[bytes, str] = {}

    def key(self, text: str) -> bytes:
        if self.normalize_whitespace:
            text = _WS.sub(" ", text).strip()
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()

    def filter(self, doc: Document):
        key = self.key(doc.text)
        if key in self.seen:
            doc.metadata["duplicate_of"] = self.seen[key]
            return False, "exact_duplicate"
        self.seen[key] = doc.id
        return True


def shingles(text: str, n: int = 5, mode: str = "words") -> set[bytes]:
    """Token ``n``-grams: lower-cased words for prose, identifier/punctuation tokens for code."""
    tokens = _CODE_TOKENS.findall(text) if mode == "code" else _WORDS.findall(text.lower())
    if len(tokens) < n:
        return {" ".join(tokens).encode("utf-8", "surrogatepass")} if tokens else set()
    return {" ".join(tokens[i:i + n]).encode("utf-8", "surrogatepass") for i in range(len(tokens) - n + 1)}


class MinhashDedupFilter(BaseFilter):
    """Near-duplicate removal with MinHash LSH (datasketch); reason ``near_duplicate``.

    Each document is compared with the documents kept so far: LSH proposes candidates and the MinHash
    estimate of Jaccard similarity decides.  Deterministic for a given ``seed``.
    """

    name = "minhash dedup"

    def __init__(self, threshold: float = 0.85, num_perm: int = 128, ngram: int = 5, mode: str = "words",
                 seed: int = 1):
        super().__init__()
        self.threshold = threshold
        self.num_perm = num_perm
        self.ngram = ngram
        self.mode = mode
        self.seed = seed
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.kept: dict[str, LeanMinHash] = {}

    def signature(self, text: str) -> LeanMinHash | None:
        grams = shingles(text, self.ngram, self.mode)
        if not grams:
            return None
        m = MinHash(num_perm=self.num_perm, seed=self.seed)
        m.update_batch(list(grams))
        return LeanMinHash(m)

    def filter(self, doc: Document):
        sig = self.signature(doc.text)
        if sig is None:
            return True
        best, best_key = 0.0, None
        for key in self.lsh.query(sig):
            sim = sig.jaccard(self.kept[key])
            if sim > best:
                best, best_key = sim, key
        if best_key is not None and best >= self.threshold:
            doc.metadata["near_duplicate_of"] = best_key
            doc.metadata["near_duplicate_jaccard"] = round(float(best), 4)
            return False, "near_duplicate"
        key = doc.id if doc.id not in self.kept else f"{doc.id}#{len(self.kept)}"
        self.lsh.insert(key, sig)
        self.kept[key] = sig
        return True


def jaccard(a: str, b: str, n: int = 5, mode: str = "words") -> float:
    """Exact Jaccard similarity of two texts' shingle sets (for checks and tests)."""
    sa, sb = shingles(a, n, mode), shingles(b, n, mode)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


__all__ = ["ExactDedupFilter", "MinhashDedupFilter", "shingles", "jaccard"]
