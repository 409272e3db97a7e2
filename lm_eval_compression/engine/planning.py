"""From compression requests to a scoring plan: token sequences, window jobs, per-request facts.

Backend-agnostic and pure apart from tokenizing: any scorer (the HF wrapper's
model, vLLM) takes a :class:`ScoringPlan` and returns one float64
log-likelihood per request.  Token ids are kept as int32 arrays and each
sequence records which request owns which span (not one owner per token), so a
plan for a 100 M-token corpus fits in well under a gigabyte.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .context import ContextTable, char_counts
from .settings import WindowSettings
from .windows import Window, batch_shape, document_windows, paper_windows

# Documents tokenized per call: bounds the Python lists a fast tokenizer returns.
TOKENIZE_CHUNK = 256


class CompressionRequestError(RuntimeError):
    """Requests cannot be scored as asked; the message says why."""


@dataclass(frozen=True)
class TokenSequence:
    """Token ids with owners: request ``owners[k]`` owns ``tokens[starts[k]:starts[k+1]]``."""

    tokens: np.ndarray  # int32
    starts: np.ndarray  # int64, ascending, starts[0] == 0
    owners: np.ndarray  # int64 request indices
    # For token records only: each token's first character in its document and the characters it owns.
    char_start: np.ndarray | None = None
    char_count: np.ndarray | None = None

    def spans_of(self, positions: np.ndarray) -> np.ndarray:
        """Index into ``starts``/``owners`` of the span holding each position."""
        return np.searchsorted(self.starts, positions, side="right") - 1

    def owners_of(self, lo: int, hi: int) -> np.ndarray:
        """Owner of each token in ``tokens[lo:hi]``."""
        if len(self.owners) == 1:
            return np.full(hi - lo, self.owners[0], dtype=np.int64)
        span = np.searchsorted(self.starts, np.arange(lo, hi), side="right") - 1
        return self.owners[span]


@dataclass(frozen=True)
class WindowJob:
    """One window over ``plan.sequences[seq]``."""

    seq: int
    window: Window


@dataclass
class ScoringPlan:
    sequences: list[TokenSequence] = field(default_factory=list)
    jobs: list[WindowJob] = field(default_factory=list)
    scored_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # per request
    context: ContextTable | None = None  # scored tokens and characters per request and context-length bucket


@dataclass(frozen=True)
class Encoded:
    """Token ids of each text, and the characters each token owns (``None`` without character offsets)."""

    ids: list[np.ndarray]
    chars: list[np.ndarray] | None


@dataclass
class BatchLayout:
    """A batch's host arrays: right-padded inputs [rows, width]; per output column of the last ``keep``
    (column c predicts from input c), the target, its owner, whether it is scored and (for records) its
    position in its sequence."""

    lengths: list[int]
    width: int
    keep: int
    inputs: np.ndarray
    targets: np.ndarray
    owners: np.ndarray
    scored: np.ndarray
    positions: np.ndarray | None

    @classmethod
    def of(cls, plan: ScoringPlan, jobs: list[WindowJob], bos_id, with_positions: bool = False) -> BatchLayout:
        width, keep = batch_shape([j.window for j in jobs])
        rows = len(jobs)
        lay = cls(
            [j.window.input_len for j in jobs],
            width,
            keep,
            np.zeros((rows, width), dtype=np.int64),
            np.zeros((rows, keep), dtype=np.int64),
            np.zeros((rows, keep), dtype=np.int64),
            np.zeros((rows, keep), dtype=bool),
            np.zeros((rows, keep), dtype=np.int64) if with_positions else None,
        )
        first_col = width - keep
        for r, job in enumerate(jobs):
            w, seq = job.window, plan.sequences[job.seq]
            n = w.input_len
            if w.bos:
                lay.inputs[r, 0] = bos_id
            lay.inputs[r, int(w.bos) : n] = seq.tokens[w.start : w.end]
            sl = slice(n - w.n_scored - first_col, n - first_col)
            lay.targets[r, sl] = seq.tokens[w.scored_start : w.end + 1]
            lay.owners[r, sl] = seq.owners_of(w.scored_start, w.end + 1)
            if with_positions:
                lay.positions[r, sl] = np.arange(w.scored_start, w.end + 1)
            lay.scored[r, sl] = True
        return lay


def encode(tokenizer, texts: list[str], add_special_tokens: bool) -> Encoded:
    """Token ids of each text as int32 arrays, tokenized in chunks; with a fast tokenizer also the
    characters each token owns (:func:`.context.char_counts` of its offsets)."""
    fast = bool(getattr(tokenizer, "is_fast", False))
    ids_out, chars_out = [], []
    for lo in range(0, len(texts), TOKENIZE_CHUNK):
        chunk = texts[lo : lo + TOKENIZE_CHUNK]
        enc = tokenizer(chunk, add_special_tokens=add_special_tokens, return_offsets_mapping=fast)
        ids_out += [np.asarray(x, dtype=np.int32) for x in enc["input_ids"]]
        if fast:
            chars_out += [char_counts(o, len(t)).astype(np.int32) for o, t in zip(enc["offset_mapping"], chunk)]
    return Encoded(ids_out, chars_out if fast else None)


def with_char_spans(seq: TokenSequence, counts: np.ndarray) -> TokenSequence:
    """``seq`` with each token's first character within its document and its character count."""
    counts = counts.astype(np.int64)
    before = np.concatenate([[0], np.cumsum(counts)[:-1]])
    first = before - before[seq.starts[seq.spans_of(np.arange(len(counts)))]]
    return TokenSequence(seq.tokens, seq.starts, seq.owners, first.astype(np.int64), counts.astype(np.int32))


def plan_documents(
    token_ids: list[np.ndarray],
    owners: list[int],
    n_requests: int,
    windows: WindowSettings,
    chars=None,
    keep_chars: bool = False,
) -> ScoringPlan:
    """``document`` protocol: request ``owners[k]`` is ``[prefix] + token_ids[k]`` with its own windows
    (``windows`` resolved for the model: its prefix token and whether later windows start with BOS);
    ``chars[k]``, when given, the characters each of its tokens owns (kept in the sequences with
    ``keep_chars``, for token records)."""
    plan = ScoringPlan(scored_tokens=np.zeros(n_requests, dtype=np.int64))
    plan.context = ContextTable.empty(n_requests, windows.block_size, chars is not None)
    for k, (ids, owner) in enumerate(zip(token_ids, owners)):
        tokens = np.empty(len(ids) + 1, dtype=np.int32)
        tokens[0], tokens[1:] = windows.prefix_token_id, ids
        seq = TokenSequence(tokens, np.zeros(1, dtype=np.int64), np.array([owner], dtype=np.int64))
        if keep_chars and chars is not None:
            seq = with_char_spans(seq, np.concatenate([[0], chars[k]]))
        plan.sequences.append(seq)
        seq = len(plan.sequences) - 1
        doc_windows = document_windows(len(ids), windows.block_size, windows.stride, bool(windows.use_window_bos))
        plan.jobs += [WindowJob(seq, w) for w in doc_windows]
        for w in doc_windows:  # sequence index t is token t - 1 of the document
            part = None if chars is None else chars[k][w.scored_start - 1 : w.end]
            plan.context.add_window(w, np.full(w.n_scored, owner, dtype=np.int64), part)
        plan.scored_tokens[owner] += len(ids)
    return plan


def plan_stream(
    token_ids: list[np.ndarray],
    owners: list[int],
    n_requests: int,
    windows: WindowSettings,
    where: str,
    chars=None,
    keep_chars: bool = False,
) -> ScoringPlan:
    """``paper`` protocol: the documents' tokens concatenated in order into one stream (``chars``, when
    given: the characters each token owns, per document).

    Every target from stream index 1 up to the last full window's end is scored
    once (window 0 scores ``1..block_size``, each later window the next
    ``stride``), so a request's scored tokens are its span's overlap with that range.
    """
    lengths = np.fromiter((len(x) for x in token_ids), dtype=np.int64, count=len(token_ids))
    starts = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    total = int(lengths.sum())
    block_size = windows.block_size
    stream_windows = paper_windows(total, block_size, windows.stride)
    if not stream_windows:
        raise CompressionRequestError(
            f"{where}: the paper protocol needs more than block_size ({block_size}) tokens in the stream; "
            f"the corpus has {total}"
        )
    tokens = np.concatenate(token_ids).astype(np.int32, copy=False)
    owners = np.asarray(owners, dtype=np.int64)
    plan = ScoringPlan(
        sequences=[TokenSequence(tokens, starts, owners)],
        jobs=[WindowJob(0, w) for w in stream_windows],
        scored_tokens=np.zeros(n_requests, dtype=np.int64),
    )
    last = stream_windows[-1].end  # stream index of the last scored target
    covered = np.clip(np.minimum(starts + lengths, last + 1) - np.maximum(starts, 1), 0, None)
    np.add.at(plan.scored_tokens, owners, covered)
    plan.context = ContextTable.empty(n_requests, block_size, chars is not None)
    stream_chars = None if chars is None else np.concatenate(chars)
    if keep_chars and stream_chars is not None:
        plan.sequences[0] = with_char_spans(plan.sequences[0], stream_chars)
    sequence = plan.sequences[0]
    for w in stream_windows:
        part = None if stream_chars is None else stream_chars[w.scored_start : w.end + 1]
        plan.context.add_window(w, sequence.owners_of(w.scored_start, w.end + 1), part)
    return plan
