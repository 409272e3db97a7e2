"""Entropy coding of documents' tokens with a causal LM under the ``document``-protocol windows.

Encoder and decoder run one and the same computation, so both see bit-identical
probabilities.  Documents are processed ``lanes`` at a time.  Each window's
context (its inputs up to the one whose prediction is scored first) goes through
the model in one forward pass; its scored tokens then follow one at a time with
the key-value cache, the active lanes batched into one step (caches left-padded,
positions given explicitly).  The schedule depends only on the documents' token
counts, which the file header records, never on token values.

A token's distribution is the float32 softmax of its logits; constriction's
``Categorical`` model (``perfect=False``) quantises it to the range coder's
fixed-point precision, and one range coder codes all tokens in schedule order.
That precision also bounds how many tokens a payload can hold (:func:`max_tokens`),
which the decoder checks before it starts.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from ..engine.model_call import ModelCall
from ..engine.settings import WindowSettings
from ..engine.windows import Window, iter_document_windows

CODER = "constriction.stream.queue.RangeEncoder"
ENTROPY_MODEL = "constriction.stream.model.Categorical(perfect=False), float32 softmax probabilities"
PRECISION = 24  # bits of the coder's fixed-point probabilities: every symbol keeps at least 2**-24
CODER_STATE_BITS = 64  # what the coder's final state can hold beyond its emitted words
PROBE_TOKENS = 96  # context length of the probe step


def max_tokens(payload_bits: int, vocab_size: int) -> int:
    """The most tokens ``payload_bits`` can code: the most probable of ``vocab_size`` symbols has at most
    ``1 - (vocab_size - 1) / 2**PRECISION``, so each token costs at least ``-log2`` of that."""
    least = -math.log2(1 - (vocab_size - 1) / 2**PRECISION)
    return int((payload_bits + CODER_STATE_BITS) / least) + 1


class CodecError(RuntimeError):
    """The documents cannot be coded as asked; the message says why."""


@dataclass
class Lane:
    """One document being coded: its windows, where it stands, and its slice of the key-value cache."""

    doc: int
    windows: Iterator[Window]  # planned lazily: a file's claimed token counts never become a list of windows
    window: Window
    scored: int = 0  # scored tokens of the current window already coded
    length: int = 0  # real (unpadded) positions in this lane's cache
    kv: list | None = None  # per layer (keys, values) of this lane alone, between a context pass and the next merge
    pending: torch.Tensor | None = None  # distribution of the lane's next token


@dataclass
class RunStats:
    steps: int = 0
    context_passes: int = 0
    model_bits: list[float] = field(default_factory=list)  # -log2 p of each document's tokens, float64 sums


class WindowStepper:
    """Runs the documents' windows on ``model`` and hands every token's distribution to a ``choose`` callback.

    ``choose(docs, positions, probs)`` gets, for each active lane, the document index, the index of the
    token within the document and its distribution (a float32 ``[lanes, vocab]`` array), and returns the
    tokens: the known ones when encoding, the decoded ones when decoding.
    """

    def __init__(self, call: ModelCall, windows: WindowSettings, bos_token_id: int | None, lanes: int = 4):
        """``windows``: the document protocol's settings as applied to the model (``use_window_bos`` and
        ``prefix_token_id`` resolved, :func:`..harness.wrapper.windows_for`)."""
        if lanes < 1:
            raise CodecError(f"lanes must be at least 1, got {lanes}")
        if windows.use_window_bos and bos_token_id is None:
            raise CodecError("window_bos is set but the tokenizer has no BOS token")
        self.call = call
        self.model, self.device = call.model, call.device
        self.prefix = int(windows.prefix_token_id)
        self.bos = bos_token_id
        self.block_size, self.stride = windows.block_size, windows.stride
        self.window_bos = bool(windows.use_window_bos)
        self.lanes = lanes

    @property
    def vocab_size(self) -> int:
        return int(self.model.get_output_embeddings().weight.shape[0])

    # ----------------------------------------------------------------- model calls
    def _forward(self, input_ids, cache=None, attention_mask=None, position_ids=None):
        out = self.call(input_ids, 1, cache, attention_mask=attention_mask, position_ids=position_ids, use_cache=True)
        new_cache = getattr(out, "cache", None) or out.past_key_values
        return torch.softmax(out.logits[:, -1].float(), dim=-1), new_cache

    def _start_window(self, lane: Lane, seq: list[int]) -> None:
        """Context pass of the lane's current window: fills its cache and its first distribution."""
        w = lane.window
        inputs = ([self.bos] if w.bos else []) + seq[w.start : w.end]
        context = inputs[: w.input_len - w.n_scored + 1]
        ids = torch.tensor([context], dtype=torch.long, device=self.device)
        probs, cache = self._forward(ids)
        lane.kv = [(layer.keys, layer.values) for layer in cache.layers]
        lane.length = len(context)
        lane.pending = probs[0]
        lane.scored = 0

    @staticmethod
    def _extract(cache, row: int, length: int) -> list:
        """A lane's real positions (the rightmost ``length``) in the merged cache, as views."""
        return [
            (layer.keys[row : row + 1, :, -length:], layer.values[row : row + 1, :, -length:]) for layer in cache.layers
        ]

    def _merge(self, lanes: list[Lane]):
        """One cache over all lanes, each left-padded to the longest, and its attention mask."""
        from transformers import DynamicCache

        width = max(lane.length for lane in lanes)
        mask = torch.zeros((len(lanes), width), dtype=torch.long, device=self.device)
        layers = []
        for i in range(len(lanes[0].kv)):
            k0, v0 = lanes[0].kv[i]
            keys = k0.new_zeros((len(lanes), k0.shape[1], width, k0.shape[3]))
            values = v0.new_zeros((len(lanes), v0.shape[1], width, v0.shape[3]))
            for row, lane in enumerate(lanes):
                k, v = lane.kv[i]
                keys[row, :, width - lane.length :] = k[0]
                values[row, :, width - lane.length :] = v[0]
            layers.append((keys, values))
        for row, lane in enumerate(lanes):
            mask[row, width - lane.length :] = 1
            lane.kv = None
        return DynamicCache(ddp_cache_data=layers), mask

    def probe(self) -> str:
        """Fingerprint (8 hex digits) of the probabilities of one fixed step as decoding makes it: a context
        pass per lane over fixed tokens (lane ``i`` one token shorter than lane ``i - 1``), the lanes' caches
        merged, then one batched step.  Equal fingerprints on two machines mean their arithmetic agrees on it.
        """
        import hashlib

        vocab = self.vocab_size
        length = min(PROBE_TOKENS, self.block_size)
        digest = hashlib.sha256()
        lanes = []
        for i in range(self.lanes):
            ids = [self.prefix] + [(7919 * (i + 1) * (j + 1)) % vocab for j in range(max(1, length - i) - 1)]
            probs, cache = self._forward(torch.tensor([ids], dtype=torch.long, device=self.device))
            digest.update(probs.cpu().numpy().tobytes())
            lane = Lane(i, iter(()), Window(0, len(ids), len(ids)), length=len(ids))
            lane.kv = [(layer.keys, layer.values) for layer in cache.layers]
            lanes.append(lane)
        cache, mask = self._merge(lanes)
        ids = torch.tensor([[(31 * (i + 1)) % vocab] for i in range(self.lanes)], dtype=torch.long, device=self.device)
        positions = torch.tensor([[lane.length] for lane in lanes], dtype=torch.long, device=self.device)
        mask = torch.cat([mask, mask.new_ones((len(lanes), 1))], dim=1)
        probs, _ = self._forward(ids, cache, mask, positions)
        digest.update(probs.cpu().numpy().tobytes())
        return digest.hexdigest()[:8]

    # ----------------------------------------------------------------- schedule
    def run(self, token_counts: list[int], choose: Callable) -> tuple[list[list[int]], RunStats]:
        """Code documents of ``token_counts`` tokens; returns their tokens (as chosen) and statistics."""
        tokens: list[list[int]] = [[] for _ in token_counts]
        stats = RunStats(model_bits=[0.0] * len(token_counts))
        queue = deque(i for i, n in enumerate(token_counts) if n > 0)
        lanes: list[Lane] = []
        cache = mask = None
        dirty = False
        while queue or lanes:
            while len(lanes) < self.lanes and queue:
                d = queue.popleft()
                windows = iter_document_windows(token_counts[d], self.block_size, self.stride, self.window_bos)
                lane = Lane(d, windows, next(windows))
                self._start_window(lane, [self.prefix])
                stats.context_passes += 1
                lanes.append(lane)
                dirty = True
            if dirty:
                cache, mask = self._merge(lanes)
                dirty = False
            probs = torch.stack([lane.pending for lane in lanes])
            probs_np = probs.cpu().numpy()
            docs = [lane.doc for lane in lanes]
            chosen = [int(t) for t in choose(docs, [len(tokens[d]) for d in docs], probs_np)]
            for row, (lane, t) in enumerate(zip(lanes, chosen, strict=True)):
                if not 0 <= t < probs_np.shape[1]:
                    raise CodecError(f"token id {t} of document {lane.doc} is outside the model's vocabulary")
                tokens[lane.doc].append(t)
                stats.model_bits[lane.doc] -= math.log2(max(float(probs_np[row, t]), 1e-45))
                lane.scored += 1
            finished = [lane.scored == lane.window.n_scored for lane in lanes]
            if not all(finished):
                # Every lane takes the step (finished rows are computed and discarded) so that the batch,
                # and with it the arithmetic, depends on the schedule alone.
                ids = torch.tensor([[t] for t in chosen], dtype=torch.long, device=self.device)
                positions = torch.tensor([[lane.length] for lane in lanes], dtype=torch.long, device=self.device)
                mask = torch.cat([mask, mask.new_ones((len(lanes), 1))], dim=1)
                step_probs, cache = self._forward(ids, cache, mask, positions)
                stats.steps += 1
                for row, lane in enumerate(lanes):
                    lane.length += 1
                    lane.pending = step_probs[row]
            if any(finished):
                survivors = []
                for row, lane in enumerate(lanes):
                    if not finished[row]:
                        lane.kv = self._extract(cache, row, lane.length)
                        survivors.append(lane)
                        continue
                    lane.window = next(lane.windows, None)
                    if lane.window is not None:
                        self._start_window(lane, [self.prefix] + tokens[lane.doc])
                        stats.context_passes += 1
                        survivors.append(lane)
                lanes, cache, mask, dirty = survivors, None, None, bool(survivors)
        return tokens, stats


def entropy_family():
    import constriction

    return constriction.stream.model.Categorical(perfect=False)


def encode(stepper: WindowStepper, docs_tokens: list[list[int]]) -> tuple[np.ndarray, RunStats]:
    """Range-code the documents' tokens; returns the compressed words (uint32) and run statistics."""
    import constriction

    vocab = stepper.vocab_size
    for d, ids in enumerate(docs_tokens):
        bad = [t for t in ids if not 0 <= t < vocab]
        if bad:
            raise CodecError(f"document {d} has token id {bad[0]}, outside the model's vocabulary of {vocab}")
    encoder = constriction.stream.queue.RangeEncoder()
    family = entropy_family()

    def choose(docs, positions, probs):
        symbols = np.asarray([docs_tokens[d][p] for d, p in zip(docs, positions, strict=True)], dtype=np.int32)
        encoder.encode(symbols, family, probs)
        return symbols

    _, stats = stepper.run([len(ids) for ids in docs_tokens], choose)
    return encoder.get_compressed(), stats


def decode(stepper: WindowStepper, words: np.ndarray, token_counts: list[int]) -> tuple[list[list[int]], RunStats]:
    """Decode the documents' tokens from the range coder's words."""
    import constriction

    decoder = constriction.stream.queue.RangeDecoder(np.ascontiguousarray(words, dtype=np.uint32))
    family = entropy_family()

    def choose(docs, positions, probs):
        return decoder.decode(family, probs)

    return stepper.run(token_counts, choose)
