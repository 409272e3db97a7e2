"""A task's bits per character by context length, summed over its documents' responses.

Each response carries its document's scored tokens, characters and log-likelihood per context-length
bucket (:mod:`..engine.context`); the task adds them up as it processes results and writes the curve into
the ``compression`` block of the results file.
"""

from __future__ import annotations

import math

from ..engine.context import bucket_summary


class ContextCurve:
    """Per-bucket totals over the documents seen so far."""

    def __init__(self):
        self.tokens: list[int] = []
        self.chars: list[int] | None = []
        self.loglikelihood: list[list[float]] = []  # per bucket, one value per document (summed with fsum)
        self.documents = 0
        self.missing = 0  # responses without buckets (read from a cache written before buckets existed)

    def add(self, response: dict) -> None:
        """Add one document's ``by_context`` fields."""
        part = response.get("by_context")
        if part is None:
            self.missing += 1
            return
        if not self.loglikelihood:
            self.tokens = [0] * len(part["tokens"])
            self.loglikelihood = [[] for _ in part["tokens"]]
        self.documents += 1
        self.tokens = [a + b for a, b in zip(self.tokens, part["tokens"])]
        for values, value in zip(self.loglikelihood, part["loglikelihood"]):
            values.append(value)
        if part.get("chars") is None:
            self.chars = None
        elif self.chars is not None:
            self.chars = [a + b for a, b in zip(self.chars or [0] * len(part["chars"]), part["chars"])]

    def summary(self, block_size: int) -> dict | None:
        """The ``context_length`` entry of the results: the buckets and what they cover; ``None`` if some
        documents have no buckets (then a partial curve would mislead)."""
        if self.missing or not self.documents:
            return None
        nats = [math.fsum(v) for v in self.loglikelihood]
        return {
            "documents": self.documents,
            "buckets": bucket_summary(block_size, self.tokens, nats, self.chars),
        }
