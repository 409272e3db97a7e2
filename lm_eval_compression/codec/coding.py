"""Range coding of documents' tokens with :class:`.exact_model.ExactLM` under the ``document``-protocol windows.

The documents are dealt to ``lanes`` streams (:func:`plan_streams`, from their token counts alone), each
stream a range coder of its own. The encoder runs each window in one forward pass and codes its scored tokens
from those rows; the decoder runs a window's context in one pass, then its tokens one step at a time with a
preallocated key-value cache, the streams batched into one step. The exact arithmetic makes a row's
distribution the same in a one-pass window, a step, any batch and on any machine, so both sides code every
token with the same distribution. constriction's ``Categorical(perfect=False)`` turns each distribution into
the coder's 24-bit frequencies (sequential scalar code: the same integers from the same floats).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from ..engine.settings import WindowSettings
from ..engine.windows import Window, iter_document_windows
from .exact_model import ExactLM
from .step_graph import SlotStepper

PRECISION = 24  # bits of the coder's fixed-point probabilities: every symbol keeps at least 2**-24
CODER_STATE_BITS = 64  # constriction's RangeEncoder state: what it can hold beyond its emitted words
CODER_WORD_BITS = 32  # ... and its words
ROWS = 256  # rows of distributions held at once by the encoder
BATCH = 8  # streams the decoder steps together by default (each holds a cache for block_size tokens)
PROBE_TOKENS = 96
FLOOR = 2.0**-PRECISION  # a token's model bits are counted at the coder's smallest probability at most


def max_tokens(payload_bits: int, vocab_size: int, streams: int = 1) -> int:
    """The most tokens ``payload_bits`` in ``streams`` coders can code: the most probable of ``vocab_size``
    symbols has at most ``1 - (vocab_size - 1) / 2**PRECISION``, so each token costs at least ``-log2`` of that."""
    least = -math.log2(1 - (vocab_size - 1) / 2**PRECISION)
    return int((payload_bits + streams * CODER_STATE_BITS) / least) + 1


def closed_stream(encoder) -> bytes:
    """A range encoder's output as bytes (its 32-bit words big endian), closed with the fewest whole bytes that
    name a point of its final interval ``[lower, lower + range)``, where constriction's own closing writes a
    whole word (about 15 bits more on average). The decoder reads missing bytes as zeros (:func:`stream_words`),
    so the point chosen is the one with the most trailing zero bits; the interval is cut at ``2**64`` so that
    no carry reaches the words already written (where constriction's closing carries, its words are kept)."""
    words = [int(w) for w in encoder.get_compressed()]
    written, (lower, size) = encoder.pos()  # the words before the state's two, and the state
    state, word = CODER_STATE_BITS, CODER_WORD_BITS
    if words and lower + (1 << (state - word)) - 1 < 1 << state:  # constriction's closing did not carry
        top = min(lower + size, 1 << state) - 1
        # the smallest multiple of 2**k at or above lower, for the largest k that stays within the interval
        point = next(p for k in range(state, -1, -1) if (p := -(-lower >> k) << k) <= top)
        words = words[:written] + [point >> word, point & ((1 << word) - 1)]
    return b"".join(w.to_bytes(word // 8, "big") for w in words).rstrip(b"\0")


def stream_words(data: bytes) -> np.ndarray:
    """The coder's words (uint32) of a stream's bytes, its last word completed with zeros."""
    data = bytes(data) + bytes(-len(data) % (CODER_WORD_BITS // 8))
    return np.frombuffer(data, dtype=">u4").astype(np.uint32)


class CodecError(RuntimeError):
    """The documents cannot be coded as asked; the message says why."""


def plan_streams(token_counts: list[int], streams: int) -> list[list[int]]:
    """Documents of each stream, in coding order: each document in turn goes to the stream with the fewest
    tokens so far (the first such stream on a tie); empty documents are not coded."""
    loads, plan = [0] * streams, [[] for _ in range(streams)]
    for d, n in enumerate(token_counts):
        if n > 0:
            s = loads.index(min(loads))
            plan[s].append(d)
            loads[s] += n
    return plan


@dataclass
class RunStats:
    steps: int = 0
    context_passes: int = 0
    model_bits: list[float] = field(default_factory=list)  # -log2 p of each document's tokens, float64 sums


class WindowCoder:
    """The window schedule of both sides on an :class:`ExactLM`."""

    def __init__(self, model: ExactLM, windows: WindowSettings, bos_token_id: int | None):
        """``windows``: the document protocol's settings as applied to the model (``use_window_bos`` and
        ``prefix_token_id`` resolved, :func:`..harness.wrapper.windows_for`)."""
        if windows.use_window_bos and bos_token_id is None:
            raise CodecError("window_bos is set but the tokenizer has no BOS token")
        self.model = model
        self.prefix, self.bos = int(windows.prefix_token_id), bos_token_id
        self.block_size, self.stride = windows.block_size, windows.stride
        self.window_bos = bool(windows.use_window_bos)
        self.max_len = self.block_size + int(self.window_bos)
        model.prepare(self.max_len)

    @property
    def vocab_size(self) -> int:
        return self.model.shape.vocab

    def _inputs(self, window: Window, seq: list[int]) -> list[int]:
        return ([self.bos] if window.bos else []) + seq[window.start : window.end]

    def _windows(self, n_tokens: int) -> Iterator[Window]:
        return iter_document_windows(n_tokens, self.block_size, self.stride, self.window_bos)

    def _tensor(self, ids) -> torch.Tensor:
        return torch.tensor(ids, dtype=torch.long, device=self.model.device)

    # ----------------------------------------------------------------- encoder
    def encode(self, docs_tokens: list[list[int]], streams: int) -> tuple[list[bytes], RunStats]:
        """Each stream's bytes (:func:`closed_stream`) and the run's statistics."""
        import constriction

        vocab = self.vocab_size
        for d, ids in enumerate(docs_tokens):
            bad = [t for t in ids if not 0 <= t < vocab]
            if bad:
                raise CodecError(f"document {d} has token id {bad[0]}, outside the model's vocabulary of {vocab}")
        family = constriction.stream.model.Categorical(perfect=False)
        stats = RunStats(model_bits=[0.0] * len(docs_tokens))
        cache = self.model.new_cache(1, self.max_len)
        out = []
        for stream in plan_streams([len(ids) for ids in docs_tokens], streams):
            encoder = constriction.stream.queue.RangeEncoder()
            for d in stream:
                seq = [self.prefix] + docs_tokens[d]
                for window in self._windows(len(docs_tokens[d])):
                    inputs = self._inputs(window, seq)
                    hidden = self.model.forward(self._tensor([inputs]), cache, [0], [0])
                    stats.context_passes += 1
                    first = len(inputs) - window.n_scored
                    targets = seq[window.scored_start : window.end + 1]
                    for r0 in range(0, window.n_scored, ROWS):
                        probs = self.model.probabilities(hidden[first + r0 : first + r0 + ROWS]).cpu().numpy()
                        symbols = np.asarray(targets[r0 : r0 + ROWS], dtype=np.int32)
                        encoder.encode(symbols, family, probs)
                        stats.model_bits[d] -= float(
                            np.log2(np.maximum(probs[np.arange(len(symbols)), symbols], FLOOR)).sum()
                        )
            out.append(closed_stream(encoder))
        return out, stats

    # ----------------------------------------------------------------- decoder
    def decode(
        self, streams: list[bytes], token_counts: list[int], batch: int | None = None, graph: bool | None = None
    ) -> tuple[list[list[int]], RunStats]:
        """The documents' tokens from each stream's bytes; ``batch`` streams step together (default: up to
        ``BATCH``), each with a preallocated cache slot. ``graph``: step every slot in one fixed-shape step,
        replayed as a CUDA graph on a GPU (:mod:`.step_graph`; default: on a CUDA device)."""
        import constriction

        plan = plan_streams(token_counts, len(streams))
        batch = max(1, min(BATCH if batch is None else batch, len(streams)))
        family = constriction.stream.model.Categorical(perfect=False)
        tokens: list[list[int]] = [[] for _ in token_counts]
        stats = RunStats(model_bits=[0.0] * len(token_counts))
        cache = self.model.new_cache(batch, self.max_len)
        fixed = self.model.device.type == "cuda" if graph is None else graph
        stepper = SlotStepper(self.model, cache) if fixed else None  # it captures a graph on CUDA devices only
        for g0 in range(0, len(streams), batch):
            group = [
                _Lane(docs, constriction.stream.queue.RangeDecoder(stream_words(data)))
                for docs, data in zip(plan[g0 : g0 + batch], streams[g0 : g0 + batch], strict=True)
            ]
            self._decode_group(group, token_counts, tokens, stats, cache, family, stepper)
        return tokens, stats

    def _decode_group(self, lanes, token_counts, tokens, stats, cache, family, stepper) -> None:
        for slot, lane in enumerate(lanes):
            lane.slot = slot
            self._next_window(lane, token_counts, tokens, stats, cache)
        while active := [lane for lane in lanes if lane.doc is not None]:
            chosen = []
            for lane in active:
                t = int(lane.decoder.decode(family, lane.pending[None, :])[0])
                tokens[lane.doc].append(t)
                stats.model_bits[lane.doc] -= math.log2(max(float(lane.pending[t]), FLOOR))
                lane.scored += 1
                chosen.append(t)
            stepping = [(lane, t) for lane, t in zip(active, chosen, strict=True) if lane.scored < lane.window.n_scored]
            if stepping:
                probs = self._step(stepping, cache, stepper)
                stats.steps += 1
                for row, (lane, _) in enumerate(stepping):
                    lane.length += 1
                    lane.pending = probs[row]
            for lane in active:
                if lane.scored == lane.window.n_scored:
                    self._next_window(lane, token_counts, tokens, stats, cache)

    def _step(self, stepping: list[tuple[_Lane, int]], cache, stepper) -> np.ndarray:
        """The distributions after each stepping lane takes its token (rows in ``stepping``'s order)."""
        if stepper is None:
            ids = self._tensor([[t] for _, t in stepping])
            hidden = self.model.forward(ids, cache, [ln.slot for ln, _ in stepping], [ln.length for ln, _ in stepping])
            return self.model.probabilities(hidden).cpu().numpy()
        ids, positions = [0] * stepper.slots, [0] * stepper.slots
        for lane, t in stepping:
            ids[lane.slot], positions[lane.slot] = t, lane.length
        return stepper(ids, positions)[[lane.slot for lane, _ in stepping]]

    def _next_window(self, lane: _Lane, token_counts, tokens, stats, cache) -> None:
        """Move the lane to its next window (or next document): a context pass fills its cache slot and gives
        the distribution of the window's first scored token."""
        lane.window = next(lane.windows, None) if lane.windows is not None else None
        while lane.window is None:
            if not lane.docs:
                lane.doc = None
                return
            lane.doc = lane.docs.pop(0)
            lane.windows = self._windows(token_counts[lane.doc])
            lane.window = next(lane.windows, None)
        w = lane.window
        inputs = self._inputs(w, [self.prefix] + tokens[lane.doc])
        context = inputs[: w.input_len - w.n_scored + 1]
        hidden = self.model.forward(self._tensor([context]), cache, [lane.slot], [0])
        stats.context_passes += 1
        lane.pending = self.model.probabilities(hidden[-1:]).cpu().numpy()[0]
        lane.length, lane.scored = len(context), 0

    def probe(self) -> str:
        """Fingerprint (8 hex digits) of the distributions of a fixed two-lane run: two context passes of
        different lengths, then one batched step. The arithmetic makes it the same on every machine, so a
        difference can only be a bug."""
        vocab, length = self.vocab_size, min(PROBE_TOKENS, self.max_len - 1)
        cache = self.model.new_cache(2, self.max_len)
        digest = hashlib.sha256()
        for slot in range(2):
            ids = [self.prefix] + [(7919 * (slot + 1) * (j + 1)) % vocab for j in range(length - slot - 1)]
            hidden = self.model.forward(self._tensor([ids]), cache, [slot], [0])
            digest.update(self.model.probabilities(hidden).cpu().numpy().tobytes())
        hidden = self.model.forward(self._tensor([[31], [62 % vocab]]), cache, [0, 1], [length, length - 1])
        digest.update(self.model.probabilities(hidden).cpu().numpy().tobytes())
        return digest.hexdigest()[:8]


@dataclass
class _Lane:
    docs: list[int]
    decoder: object
    slot: int = 0
    doc: int | None = None
    windows: Iterator[Window] | None = None
    window: Window | None = None
    scored: int = 0
    length: int = 0
    pending: np.ndarray | None = None
