"""Scoring planned windows on a causal language model.

The model body runs over each batch of windows; the output head and a float32
log-softmax are applied only to positions whose predictions are scored
(``logits_to_keep``), in chunks that bound memory, and the target
log-probabilities are summed per owner (document) on the device in float64.
Each batch's host data travels in one transfer, asynchronous on CUDA, so the
host never waits for the device until the task's totals are read.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass

import numpy as np
import torch

from .windows import Window, batch_shape, causal_pairs, plan_window_batches

# Most float32 elements materialised at once by the log-softmax (128 MiB): bounds its temporaries.
LOGSOFTMAX_CHUNK_ELEMENTS = 1 << 25


@dataclass
class Job:
    """One window over sequence ``seq`` (index into the sequence list)."""

    seq: int
    window: Window


@dataclass
class ScoreStats:
    windows: int = 0
    batches: int = 0
    input_tokens: int = 0
    padded_tokens: int = 0
    scored_tokens: int = 0
    attention_pairs: int = 0  # causal query-key pairs, sum of n(n+1)/2 over windows of n inputs
    head_rows: int = 0  # positions the output head and log-softmax ran over
    seconds: float = 0.0
    batch_size: int = 0
    token_budget: int = 0

    @property
    def padding_fraction(self) -> float:
        total = self.input_tokens + self.padded_tokens
        return self.padded_tokens / total if total else 0.0

    def as_dict(self) -> dict:
        return {
            "windows": self.windows,
            "batches": self.batches,
            "input_tokens": self.input_tokens,
            "padded_tokens": self.padded_tokens,
            "padding_fraction": round(self.padding_fraction, 6),
            "scored_tokens": self.scored_tokens,
            "attention_pairs": self.attention_pairs,
            "head_rows": self.head_rows,
            "seconds": round(self.seconds, 3),
            "scored_tokens_per_second": round(self.scored_tokens / self.seconds, 2) if self.seconds else None,
            "batch_size": self.batch_size,
            "token_budget": self.token_budget,
        }


class WindowScorer:
    """Runs windows through ``model`` and accumulates log-likelihoods per owner."""

    def __init__(self, model, device, autocast_dtype=None):
        self.model = model
        self.device = torch.device(device)
        self.autocast_dtype = autocast_dtype
        params = inspect.signature(model.forward).parameters
        self.keep_arg = next((n for n in ("logits_to_keep", "num_logits_to_keep") if n in params), None)

    def logits(self, input_ids: torch.Tensor, keep: int) -> torch.Tensor:
        """Logits of the last ``keep`` positions of every row: [rows, keep, vocab]."""
        kwargs = {self.keep_arg: keep} if self.keep_arg else {}
        with torch.no_grad(), torch.autocast(
            device_type=self.device.type,
            dtype=self.autocast_dtype,
            enabled=self.autocast_dtype is not None,
        ):
            out = self.model(input_ids=input_ids, use_cache=False, **kwargs).logits
        return out[:, -keep:] if out.shape[1] != keep else out

    def target_logprobs(self, logits: torch.Tensor, positions, targets: torch.Tensor) -> torch.Tensor:
        """float32 log P(target) at the given flat positions of ``logits``.

        ``positions`` is a ``slice`` when the scored positions are contiguous
        (the rows are then views, not copies) or an index tensor.
        """
        vocab = logits.shape[-1]
        flat = logits.reshape(-1, vocab)
        if isinstance(positions, slice):
            flat, positions = flat[positions], None
        n = targets.numel()
        step = max(1, LOGSOFTMAX_CHUNK_ELEMENTS // vocab)
        parts = []
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            rows = (flat[lo:hi] if positions is None else flat[positions[lo:hi]]).float()
            lse = torch.logsumexp(rows, dim=-1)
            parts.append(rows.gather(1, targets[lo:hi, None]).squeeze(1) - lse)
        return torch.cat(parts) if parts else flat.new_zeros(0, dtype=torch.float32)

    def run_batch(self, sequences, owners, jobs: list[Job], bos_id, totals: torch.Tensor, stats: ScoreStats) -> None:
        lengths = [j.window.input_len for j in jobs]
        width, keep = batch_shape([j.window for j in jobs])
        rows = len(jobs)
        inputs = np.zeros((rows, width), dtype=np.int64)
        targets = np.zeros((rows, keep), dtype=np.int64)
        owner = np.zeros((rows, keep), dtype=np.int64)
        scored = np.zeros((rows, keep), dtype=bool)
        for r, job in enumerate(jobs):
            w, seq = job.window, sequences[job.seq]
            n = w.input_len
            if w.bos:
                inputs[r, 0] = bos_id
            inputs[r, int(w.bos):n] = seq[w.start:w.end]
            # Padded column c holds the prediction of input position c; keep the last ``keep``.
            first_col = width - keep
            lo, hi = n - w.n_scored, n  # scored input positions
            sl = slice(lo - first_col, hi - first_col)
            targets[r, sl] = seq[w.scored_start:w.end + 1]
            owner[r, sl] = owners[job.seq][w.scored_start:w.end + 1]
            scored[r, sl] = True
        stats.input_tokens += sum(lengths)
        stats.padded_tokens += rows * width - sum(lengths)
        stats.scored_tokens += int(scored.sum())
        stats.attention_pairs += causal_pairs(lengths)
        stats.head_rows += rows * keep
        stats.batches += 1
        stats.windows += rows

        index = np.flatnonzero(scored)
        contiguous = index[-1] - index[0] + 1 == len(index)
        parts = [inputs.ravel(), targets[scored], owner[scored]] + ([] if contiguous else [index])
        flat = self.to_device(np.concatenate(parts))
        sizes = [len(p) for p in parts]
        pieces = torch.split(flat, sizes)
        logits = self.logits(pieces[0].view(rows, width), keep)
        positions = slice(int(index[0]), int(index[-1]) + 1) if contiguous else pieces[3]
        lp = self.target_logprobs(logits, positions, pieces[1])
        totals.index_add_(0, pieces[2], lp.double())

    def to_device(self, array: np.ndarray) -> torch.Tensor:
        """``array`` on the scoring device; on CUDA through pinned memory without a host sync.

        A plain ``.to("cuda")`` of pageable memory synchronises the stream, which would make the
        host wait for every batch before it can queue the next one.
        """
        tensor = torch.from_numpy(array)
        if self.device.type == "cuda":
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.device)

    def score(self, sequences, owners, jobs: list[Job], n_owners: int, *, bos_id=None,
              batch_size: int, token_budget: int | None = None, progress=None) -> tuple[np.ndarray, ScoreStats]:
        """Sum of scored log-probabilities (nats) per owner, float64."""
        stats = ScoreStats(batch_size=batch_size)
        lengths = [j.window.input_len for j in jobs]
        if token_budget is None:
            token_budget = batch_size * (max(lengths) if lengths else 1)
        stats.token_budget = token_budget
        totals = torch.zeros(n_owners, dtype=torch.float64, device=self.device)
        start = time.perf_counter()
        # Every window has at least one input, so the token budget alone bounds the rows.
        windows = [j.window for j in jobs]
        for batch in plan_window_batches(windows, max_rows=token_budget, token_budget=token_budget):
            self.run_batch(sequences, owners, [jobs[i] for i in batch], bos_id, totals, stats)
            if progress is not None:
                progress.update(len(batch))
        result = totals.cpu().numpy()
        stats.seconds = time.perf_counter() - start
        return result, stats
