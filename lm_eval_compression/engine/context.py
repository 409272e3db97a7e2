"""Where the bits go by context length: power-of-two buckets of the tokens a prediction could see.

A scored token's *context length* is the number of model inputs before it in its window, the prefix or
BOS included: the input at position ``p`` (0-based) predicts the next token from ``p + 1`` inputs.  It
depends only on the window geometry, so the tokens and characters of each bucket are known from the plan;
the scorers add the log-probabilities.  Bucket ``b`` holds context lengths ``2**b .. 2**(b+1) - 1``
(1, 2-3, 4-7, ...), the last one ending at ``block_size``.

Characters are attributed to tokens through the tokenizer's character offsets: token ``i`` owns the
characters from the end of the tokens before it up to the furthest end of its own offsets, so the spans
tile the text and a character split across byte-level tokens goes to the first token that touches it.
Leading characters no token covers go to the first token, trailing ones to the last.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .windows import Window


def bucket_count(block_size: int) -> int:
    """Buckets needed for context lengths 1 .. ``block_size``."""
    return int(block_size).bit_length()


def bucket_of(context: np.ndarray) -> np.ndarray:
    """Bucket index ``floor(log2(context))`` of each context length (all >= 1)."""
    context = np.asarray(context, dtype=np.int64)
    return (np.frexp(context.astype(np.float64))[1] - 1).astype(np.int64)


def bucket_bounds(block_size: int) -> list[tuple[int, int]]:
    """``(first, last)`` context length of every bucket, the last ending at ``block_size``."""
    return [(1 << b, min((1 << (b + 1)) - 1, block_size)) for b in range(bucket_count(block_size))]


def scored_context(window: Window) -> np.ndarray:
    """Context length of each scored target of ``window``, in target order."""
    n = window.input_len
    return np.arange(n - window.n_scored + 1, n + 1, dtype=np.int64)


def char_counts(offsets, n_chars: int) -> np.ndarray:
    """Characters each token owns, from its ``(start, end)`` offsets in a text of ``n_chars`` characters.

    Token ``i`` owns ``[max end of tokens < i, max end of tokens <= i)``; the first token also owns what
    comes before any offset, the last one what comes after, so the counts add up to ``n_chars``.
    """
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    if len(offsets) == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.maximum.accumulate(np.clip(offsets[:, 1], 0, n_chars))
    ends[-1] = n_chars
    return np.diff(ends, prepend=0)


@dataclass(frozen=True)
class ContextTable:
    """Per request and bucket: scored tokens and the characters they own (``None`` without offsets)."""

    tokens: np.ndarray  # int64 [requests, buckets]
    chars: np.ndarray | None  # int64 [requests, buckets]

    @classmethod
    def empty(cls, n_requests: int, block_size: int, with_chars: bool) -> ContextTable:
        shape = (n_requests, bucket_count(block_size))
        return cls(np.zeros(shape, np.int64), np.zeros(shape, np.int64) if with_chars else None)

    def add_window(self, window: Window, owners: np.ndarray, chars: np.ndarray | None) -> None:
        """Count ``window``'s scored targets (``owners`` and ``chars``: theirs, in target order)."""
        buckets = bucket_of(scored_context(window))
        np.add.at(self.tokens, (owners, buckets), 1)
        if self.chars is not None and chars is not None:
            np.add.at(self.chars, (owners, buckets), chars)


def add_logprobs(nats: np.ndarray, owners: np.ndarray, window: Window, values: np.ndarray) -> None:
    """Add a window's scored log-probabilities (target order) into ``nats`` [requests, buckets]."""
    np.add.at(nats, (owners, bucket_of(scored_context(window))), values)


def bucket_summary(block_size: int, tokens, nats, chars) -> list[dict]:
    """The ``context_length`` list of the results: one entry per bucket with its totals and rates
    (``tokens``, ``chars``: per bucket counts, ``nats``: per bucket sums of log-probabilities; ``chars``
    may be ``None`` when the tokenizer gives no character offsets)."""
    out = []
    ln2 = np.log(2.0)
    for b, (lo, hi) in enumerate(bucket_bounds(block_size)):
        n, ll = int(tokens[b]), float(nats[b])
        c = None if chars is None else int(chars[b])
        out.append(
            {
                "context": f"{lo}" if lo == hi else f"{lo}-{hi}",
                "min_context": lo,
                "max_context": hi,
                "tokens": n,
                "nats": -ll,
                "chars": c,
                "bits_per_token": -ll / n / ln2 if n else None,
                "bpc": -ll / c / ln2 if c else None,
            }
        )
    return out
