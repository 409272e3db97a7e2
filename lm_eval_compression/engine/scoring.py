"""Scoring planned windows on a causal language model.

The model body runs over each batch of windows; the output head and a float32
log-softmax are applied only to positions whose predictions are scored
(``logits_to_keep``), in chunks that bound memory, and the target
log-probabilities are summed per owner (document) on the device in float64.
Each batch's host data travels in one transfer, asynchronous on CUDA, so the
host never waits for the device until the task's totals are read.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .context import bucket_of
from .membership import MembershipCollector, moments
from .model_call import ModelCall
from .planning import BatchLayout, ScoringPlan, WindowJob
from .records import TokenRecords
from .windows import causal_pairs, plan_window_batches

log = logging.getLogger(__name__)

# Most float32 elements materialised at once by the log-softmax (128 MiB): bounds its temporaries.
LOGSOFTMAX_CHUNK_ELEMENTS = 1 << 25


class OutOfMemory(RuntimeError):
    """A batch did not fit and the batch size is fixed; the message says what to change."""


class NonFiniteScore(RuntimeError):
    """A window produced a NaN or infinite log-probability."""

    def __init__(self, job: int, owner: int):
        super().__init__(f"non-finite log-probability in window {job} (request {owner})")
        self.job, self.owner = job, owner


def is_out_of_memory(error: BaseException) -> bool:
    from accelerate.utils.memory import should_reduce_batch_size

    return isinstance(error, torch.OutOfMemoryError) or should_reduce_batch_size(error)


# The ScoreStats fields that add up over batches.
COUNTS = ("windows", "batches", "input_tokens", "padded_tokens", "scored_tokens", "attention_pairs", "head_rows")


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
    out_of_memory_retries: int = 0
    resumed_windows: int = 0  # windows already scored by an earlier, interrupted run

    @property
    def padding_fraction(self) -> float:
        total = self.input_tokens + self.padded_tokens
        return self.padded_tokens / total if total else 0.0

    def add(self, other: ScoreStats) -> None:
        """Add another batch's (or call's) counts to these run statistics."""
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict:
        out = asdict(self)
        out["padding_fraction"] = round(self.padding_fraction, 6)
        out["seconds"] = round(self.seconds, 3)
        out["scored_tokens_per_second"] = round(self.scored_tokens / self.seconds, 2) if self.seconds else None
        return out


@dataclass(frozen=True)
class Checkpoint:
    """Scoring state handed to the caller every ``interval`` seconds: totals per request so far
    (float64), which jobs are done, and the totals per request and context-length bucket
    (:mod:`.context`; ``None`` when the plan has no buckets)."""

    totals: np.ndarray
    done: np.ndarray
    context: np.ndarray | None = None
    membership: MembershipCollector | None = None  # per-document Min-K% and Min-K%++ (read back)


@dataclass(frozen=True)
class BatchPolicy:
    """How windows are batched: at most ``token_budget`` padded tokens per batch (default: ``batch_size``
    windows of the longest input); with ``auto``, a batch that runs out of memory is split and the budget
    halved, otherwise :class:`OutOfMemory` is raised."""

    batch_size: int
    token_budget: int | None = None
    auto: bool = False


@dataclass(frozen=True)
class Checkpointing:
    """Resuming and saving progress: ``resume`` skips the jobs an earlier run finished and starts from its
    totals; every ``interval`` seconds the totals go to ``on_checkpoint``."""

    resume: Checkpoint | None = None
    on_checkpoint: Callable[[Checkpoint], None] | None = None
    interval: float = 60.0


class WindowScorer:
    """Runs windows through ``model`` and accumulates log-likelihoods per owner."""

    def __init__(self, model, device, autocast_dtype=None, bos_id: int | None = None):
        self.call = ModelCall(model, device, autocast_dtype)
        self.device = self.call.device
        self.bos_id = bos_id  # the token of windows that start with BOS

    def logits(self, input_ids: torch.Tensor, keep: int) -> torch.Tensor:
        """Logits of the last ``keep`` positions of every row: [rows, keep, vocab]."""
        out = self.call(input_ids, keep).logits
        return out[:, -keep:] if out.shape[1] != keep else out

    def target_logprobs(self, logits: torch.Tensor, positions, targets: torch.Tensor, moments_too: bool = False):
        """float32 log P(target) at the given flat positions of ``logits``; with ``moments_too``, the tuple
        of it and the mean and standard deviation of log p under p at each (:func:`.membership.moments`).

        ``positions`` is a ``slice`` when the scored positions are contiguous
        (the rows are then views, not copies) or an index tensor.
        """
        vocab = logits.shape[-1]
        flat = logits.reshape(-1, vocab)
        if isinstance(positions, slice):
            flat, positions = flat[positions], None
        n = targets.numel()
        step = max(1, LOGSOFTMAX_CHUNK_ELEMENTS // vocab // (4 if moments_too else 1))
        parts, mus, sds = [], [], []
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            rows = (flat[lo:hi] if positions is None else flat[positions[lo:hi]]).float()
            lse = torch.logsumexp(rows, dim=-1)
            parts.append(rows.gather(1, targets[lo:hi, None]).squeeze(1) - lse)
            if moments_too:
                mu, sigma = moments(rows - lse[:, None])
                mus.append(mu)
                sds.append(sigma)
        empty = flat.new_zeros(0, dtype=torch.float32)
        lp, mu, sd = (torch.cat(x) if x else empty for x in (parts, mus, sds))
        return (lp, mu, sd) if moments_too else lp

    def run_batch(
        self,
        plan: ScoringPlan,
        jobs: list[WindowJob],
        totals: torch.Tensor,
        context: torch.Tensor | None = None,
        membership: MembershipCollector | None = None,
        records: TokenRecords | None = None,
    ) -> ScoreStats:
        """Score one batch of windows into ``totals`` (and, flattened [request, bucket], ``context``;
        its per-token values into ``membership`` and ``records``); the batch's statistics."""
        lay = BatchLayout.of(plan, jobs, self.bos_id, with_positions=records is not None)
        lengths, width, keep, rows, scored = lay.lengths, lay.width, lay.keep, len(jobs), lay.scored
        first_col = width - keep  # padded column c holds the prediction of input position c
        index = np.flatnonzero(scored)
        contiguous = index[-1] - index[0] + 1 == len(index)
        host = {"inputs": lay.inputs.ravel(), "targets": lay.targets[scored], "owners": lay.owners[scored]}
        if context is not None:  # padded column c predicts from c + 1 inputs
            buckets = len(context) // len(totals)
            host["cells"] = host["owners"] * buckets + bucket_of(first_col + index % keep + 1)
        if not contiguous:
            host["positions"] = index
        dev = dict(
            zip(host, torch.split(self.to_device(np.concatenate(list(host.values()))), [len(a) for a in host.values()]))
        )
        logits = self.logits(dev["inputs"].view(rows, width), keep)
        positions = slice(int(index[0]), int(index[-1]) + 1) if contiguous else dev["positions"]
        lp, mu, sd = self.scored_values(logits, positions, dev["targets"], membership, records)
        if membership is not None:
            z = None if mu is None else (lp - mu) / sd.clamp_min(torch.finfo(torch.float32).tiny)
            membership.add(dev["owners"], lp, z)
        if records is not None:
            records.add(jobs, index // keep, lay.positions[scored], first_col + index % keep + 1, (lp, mu, sd))
        totals.index_add_(0, dev["owners"], lp.double())
        if context is not None:
            context.index_add_(0, dev["cells"], lp.double())
        return ScoreStats(
            windows=rows,
            batches=1,
            input_tokens=sum(lengths),
            padded_tokens=rows * width - sum(lengths),
            scored_tokens=len(index),
            attention_pairs=causal_pairs(lengths),
            head_rows=rows * keep,
        )

    def scored_values(self, logits, positions, targets, membership, records) -> tuple:
        """(log-probability, mean, std) of the scored positions; mean and std ``None`` when no Min-K%++
        or records want them."""
        want = (membership is not None and membership.with_plus_plus) or (records is not None and records.moments)
        if want:
            return self.target_logprobs(logits, positions, targets, moments_too=True)
        return self.target_logprobs(logits, positions, targets), None, None

    def to_device(self, array: np.ndarray) -> torch.Tensor:
        """``array`` on the scoring device; on CUDA through pinned memory without a host sync.

        A plain ``.to("cuda")`` of pageable memory synchronises the stream, which would make the
        host wait for every batch before it can queue the next one.
        """
        tensor = torch.from_numpy(array)
        if self.device.type == "cuda":
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.device)

    def score(
        self,
        plan: ScoringPlan,
        policy: BatchPolicy,
        progress=None,
        checkpoints: Checkpointing = Checkpointing(),
        membership: MembershipCollector | None = None,
        records: TokenRecords | None = None,
    ) -> tuple[Checkpoint, ScoreStats]:
        """Sum of scored log-probabilities (nats) per request, float64, and per request and context-length
        bucket when the plan has buckets (the final :class:`Checkpoint`).

        Every ``checkpoints.interval`` seconds (one host-device sync each) the totals are checked for
        non-finite values and handed to ``checkpoints.on_checkpoint``; ``membership`` (if given) collects
        each scored token's values and is read back at the same moments, when ``records`` (if given)
        writes its pending rows.
        """
        token_budget = policy.token_budget or policy.batch_size * max(
            (j.window.input_len for j in plan.jobs), default=1
        )
        stats = ScoreStats(batch_size=policy.batch_size, token_budget=token_budget)
        resume = checkpoints.resume
        done = np.zeros(len(plan.jobs), dtype=bool) if resume is None else resume.done.copy()
        initial = np.zeros(len(plan.scored_tokens)) if resume is None else resume.totals
        totals = torch.from_numpy(np.array(initial, dtype=np.float64)).to(self.device)
        context = self.initial_context(plan, resume)
        stats.resumed_windows = int(done.sum())
        if membership is not None and stats.resumed_windows:
            membership.incomplete = True  # the earlier run's per-token values were not saved
        if progress is not None and stats.resumed_windows:
            progress.update(stats.resumed_windows)
        start = last = time.perf_counter()
        queue = deque(self.batches(plan, np.flatnonzero(~done), token_budget))
        while queue:
            batch = queue.popleft()
            try:
                jobs = [plan.jobs[i] for i in batch]
                stats.add(self.run_batch(plan, jobs, totals, context, membership, records))
            except Exception as error:  # only out-of-memory errors are handled here
                if not is_out_of_memory(error):
                    raise
                token_budget = self.shrink(error, batch, token_budget, policy.auto, plan)
                stats.out_of_memory_retries += 1
                stats.token_budget = token_budget
                queue = deque(self.batches(plan, np.concatenate([batch] + list(queue)), token_budget))
                continue
            done[batch] = True
            if progress is not None:
                progress.update(len(batch))
            if checkpoints.on_checkpoint and queue and time.perf_counter() - last >= checkpoints.interval:
                checkpoints.on_checkpoint(self.checkpoint(plan, totals, done, context, (membership, records)))
                last = time.perf_counter()
        result = self.checkpoint(plan, totals, done, context, (membership, records))
        stats.seconds = time.perf_counter() - start
        return result, stats

    def initial_context(self, plan: ScoringPlan, resume: Checkpoint | None) -> torch.Tensor | None:
        """Flat [request * bucket] float64 totals on the device, from ``resume`` when it has them."""
        if plan.context is None:
            return None
        shape = plan.context.tokens.shape
        start = np.zeros(shape) if resume is None or resume.context is None else resume.context
        return torch.from_numpy(np.array(start, dtype=np.float64).reshape(-1)).to(self.device)

    @staticmethod
    def batches(plan: ScoringPlan, job_ids: np.ndarray, token_budget: int) -> list[np.ndarray]:
        """Batches (arrays of job indices) of the given jobs under a token budget."""
        windows = [plan.jobs[i].window for i in job_ids]
        return [job_ids[b] for b in plan_window_batches(windows, max_rows=token_budget, token_budget=token_budget)]

    def shrink(self, error, batch, token_budget: int, auto_batch: bool, plan: ScoringPlan) -> int:
        """The halved token budget after ``error``, or an :class:`OutOfMemory` naming the fix."""
        width = max(plan.jobs[i].window.input_len for i in batch)
        if not auto_batch:
            raise OutOfMemory(
                f"out of memory scoring a batch of {len(batch)} windows of up to {width} tokens: "
                "use --batch_size auto (halves the batch and retries) or a smaller --batch_size"
            ) from error
        if len(batch) == 1:
            raise OutOfMemory(
                f"out of memory scoring a single window of {width} tokens: lower block_size in --metadata, "
                "or use a smaller dtype or a device with more memory"
            ) from error
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        halved = max(width, token_budget // 2)
        log.warning(
            "compression: out of memory on a batch of %d windows; retrying with a token budget of %d "
            "(about %d windows of %d tokens)",
            len(batch),
            halved,
            halved // width,
            width,
        )
        return halved

    def checkpoint(
        self, plan: ScoringPlan, totals: torch.Tensor, done: np.ndarray, context=None, collectors=(None, None)
    ) -> Checkpoint:
        """Totals read back from the device (one sync), checked to be finite; the collectors (membership,
        records) flushed first, so that what the checkpoint saves as done is already in the records."""
        membership = collectors[0]
        for collector in collectors:
            if collector is not None:
                collector.flush()
        values = totals.cpu().numpy()
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise NonFiniteScore(self.first_nonfinite_job(plan, int(bad[0]), done), int(bad[0]))
        by_context = None if context is None else context.cpu().numpy().reshape(plan.context.tokens.shape)
        return Checkpoint(values, done.copy(), by_context, membership)

    def first_nonfinite_job(self, plan: ScoringPlan, owner: int, done: np.ndarray) -> int:
        """The first scored window of ``owner`` whose log-probabilities are not all finite (rescored one by one)."""
        for i in np.flatnonzero(done):
            job = plan.jobs[i]
            w, seq = job.window, plan.sequences[job.seq]
            if owner not in seq.owners_of(w.scored_start, w.end + 1):
                continue
            probe = torch.zeros(len(plan.scored_tokens), dtype=torch.float64, device=self.device)
            self.run_batch(plan, [job], probe)
            if not torch.isfinite(probe).all():
                return int(i)
        return -1
