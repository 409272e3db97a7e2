"""Window planning for strided scoring: pure Python, no torch.

A *sequence* is a list of token ids.  A :class:`Window` names a slice of it that
the model reads and how many of its predictions are scored.  The model input is
``[bos] + seq[start:end]`` when ``bos`` is set, else ``seq[start:end]``; the
prediction at each input position targets the next sequence token, so the
targets are ``seq[start + 1 - bos : end + 1]`` (with ``bos``, the BOS position
predicts ``seq[start]``).  Only the last ``n_scored`` targets count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    start: int
    end: int
    n_scored: int
    bos: bool = False

    @property
    def input_len(self) -> int:
        return self.end - self.start + int(self.bos)

    @property
    def target_start(self) -> int:
        """Sequence index of the first target (the one the first input predicts)."""
        return self.start + 1 - int(self.bos)

    @property
    def scored_start(self) -> int:
        """Sequence index of the first scored target."""
        return self.end + 1 - self.n_scored


def document_windows(n_tokens: int, block_size: int, stride: int, window_bos: bool = False) -> list[Window]:
    """Windows over ``[prefix] + tokens`` (sequence length ``n_tokens + 1``) scoring every token once.

    The harness's rolling windows with ``context_len = block_size - stride + 1``,
    made disjoint: the first window reads ``min(block_size, n_tokens)`` inputs
    starting at the prefix and scores all of them; each later window scores the
    next ``stride`` tokens (fewer at the end) and reads the ``block_size`` inputs
    ending just before its last scored token.  With ``window_bos``, later windows
    read a BOS followed by the ``block_size - 1`` inputs ending there.
    """
    return list(iter_document_windows(n_tokens, block_size, stride, window_bos))


def iter_document_windows(n_tokens: int, block_size: int, stride: int, window_bos: bool = False) -> Iterator[Window]:
    """:func:`document_windows` one at a time, for a caller that must not hold them all (the codec)."""
    if n_tokens <= 0:
        return
    first = min(block_size, n_tokens)
    yield Window(0, first, first)
    predicted = first
    while predicted < n_tokens:
        n_scored = min(stride, n_tokens - predicted)
        last = predicted + n_scored  # sequence index of the last scored target
        if window_bos:
            yield Window(last - block_size + 1, last, n_scored, bos=True)
        else:
            yield Window(last - block_size, last, n_scored)
        predicted = last


def paper_windows(n_tokens: int, block_size: int, stride: int) -> list[Window]:
    """The reference windows over one stream of ``n_tokens`` tokens.

    Window ``w`` reads ``stream[w*stride : w*stride + block_size]``; window 0
    scores all ``block_size`` predictions and every later one its last
    ``stride``.  Tokens after the last full window are not scored.
    """
    if n_tokens < block_size + 1:
        return []
    count = (n_tokens - block_size - 1) // stride + 1
    return [Window(w * stride, w * stride + block_size, block_size if w == 0 else stride) for w in range(count)]


def window_tokens(seq: list[int], window: Window, bos_id: int | None = None) -> tuple[list[int], list[int]]:
    """The model input and its targets for ``window`` (used by references and tests)."""
    inputs = seq[window.start : window.end]
    if window.bos:
        inputs = [bos_id] + inputs
    return inputs, seq[window.target_start : window.end + 1]


def causal_pairs(lengths) -> int:
    """Causal query-key pairs of windows with these input lengths: n(n+1)/2 each."""
    return sum(n * (n + 1) // 2 for n in lengths)


def batch_shape(windows: list[Window]) -> tuple[int, int]:
    """(width, keep) of a batch: rows are right-padded to the longest input, and the output head
    runs over the last ``keep`` padded positions of every row, enough for each row's scored tail."""
    width = max(w.input_len for w in windows)
    return width, width - min(w.input_len - w.n_scored for w in windows)


def plan_batches(
    lengths: list[int], max_rows: int, token_budget: int, min_fill: float = 0.95, groups: list | None = None
) -> list[list[int]]:
    """Group window indices into batches of similar length.

    Windows are sorted by group, then by length, longest first.  A batch grows
    while it has at most ``max_rows`` rows, ``rows * longest`` stays within
    ``token_budget``, every window is at least ``min_fill`` of the batch's
    longest and all are in the same group, so short windows share a batch and
    padding stays under ``1 - min_fill`` of the computed tokens.
    """
    group = groups if groups is not None else [0] * len(lengths)
    order = sorted(range(len(lengths)), key=lambda i: (group[i], -lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current:
            longest = lengths[current[0]]
            if (
                len(current) >= max_rows
                or (len(current) + 1) * longest > token_budget
                or lengths[i] < min_fill * longest
                or group[i] != group[current[0]]
            ):
                batches.append(current)
                current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def plan_window_batches(windows: list[Window], max_rows: int, token_budget: int) -> list[list[int]]:
    """Batches of windows for the scorer.

    Windows that score every input position (a document's or stream's first
    window) are kept apart from windows with unscored context, so the output
    head of a context batch runs only over the scored tail of its rows.
    """
    return plan_batches(
        [w.input_len for w in windows],
        max_rows=max_rows,
        token_budget=token_budget,
        groups=[w.n_scored < w.input_len for w in windows],
    )
