"""Scoring planned windows through the harness's vLLM wrapper (``--model vllm``).

Each window is sent as a token prompt: its model input followed by its last
target, so that vLLM's prompt log-probabilities (``prompt_logprobs=0``: the
log-probability of each prompt token given the tokens before it) hold every
target of the window.  Only the window's scored targets are summed, per owner
(document), in float64.  The windows go through the wrapper's own engine, so
its tensor- and data-parallel settings apply and vLLM schedules the batch;
they are sent in groups of ``windows_in_flight``, because vLLM returns the
prompt log-probabilities of every prompt position and all outputs of one call
are held in host memory until the call returns.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from .context import add_logprobs, scored_context
from .membership import MembershipCollector
from .planning import ScoringPlan, TokenSequence
from .records import TokenRecords
from .scoring import Checkpoint, NonFiniteScore, ScoreStats
from .windows import Window, causal_pairs

# Windows sent to vLLM per call: with 1900-token windows about 0.5 GB of host memory for their outputs.
DEFAULT_WINDOWS_IN_FLIGHT = 1024


class VLLMScoringError(RuntimeError):
    """The vLLM engine cannot score the planned windows; the message says why."""


def is_vllm(lm) -> bool:
    """Whether ``lm`` is the harness's vLLM wrapper (or a subclass), without importing vLLM."""
    return any(c.__module__ == "lm_eval.models.vllm_causallms" and c.__name__ == "VLLM" for c in type(lm).__mro__)


def window_prompt(seq: TokenSequence, window: Window, bos_id) -> list[int]:
    """The window's model input followed by its last target: ``[bos] + tokens[start:end + 1]``."""
    ids = seq.tokens[window.start : window.end + 1].tolist()
    return [int(bos_id)] + ids if window.bos else ids


def sampling_params():
    """Prompt log-probabilities of the prompt tokens themselves, one generated token (vLLM's minimum)."""
    from vllm import SamplingParams

    extra = {}
    fields = getattr(SamplingParams, "__struct_fields__", None) or getattr(SamplingParams, "__dataclass_fields__", {})
    # Flat outputs keep a constant number of Python objects per window instead of a dict per position.
    if "flat_logprobs" in fields:
        extra["flat_logprobs"] = True
    return SamplingParams(prompt_logprobs=0, max_tokens=1, temperature=0.0, detokenize=False, **extra)


def scored_logprobs(output, prompt: list[int], n_scored: int) -> np.ndarray:
    """float64 log-probabilities of the last ``n_scored`` prompt tokens from one vLLM output."""
    logprobs = output.prompt_logprobs
    if logprobs is None or len(logprobs) != len(prompt):
        raise VLLMScoringError(
            f"vLLM returned {0 if logprobs is None else len(logprobs)} prompt log-probabilities "
            f"for a {len(prompt)}-token prompt (prefix caching or prompt truncation?)"
        )
    n = len(prompt)
    if hasattr(logprobs, "start_indices"):  # FlatLogprobs: position p holds entries start[p]..end[p]
        first = [logprobs.start_indices[p] for p in range(n - n_scored, n)]
        ids = np.asarray([logprobs.token_ids[i] for i in first])
        values = np.asarray([logprobs.logprobs[i] for i in first], dtype=np.float64)
    else:  # a list of {token id: Logprob}, one dict per position
        entries = [next(iter(logprobs[p].items())) for p in range(n - n_scored, n)]
        ids = np.asarray([t for t, _ in entries])
        values = np.asarray([getattr(lp, "logprob", lp) for _, lp in entries], dtype=np.float64)
    if not np.array_equal(ids, np.asarray(prompt[n - n_scored :])):
        raise VLLMScoringError("vLLM's prompt log-probabilities are not those of the prompt tokens")
    return values


def check_lengths(lm, plan: ScoringPlan, task) -> None:
    """Every prompt (window input + 1 target) plus the one generated token must fit the engine."""
    longest = max((j.window.input_len for j in plan.jobs), default=0)
    if longest + 2 > lm.max_length:
        raise VLLMScoringError(
            f"task {task}: a {longest}-token window needs max_model_len >= {longest + 2} with --model vllm "
            f"(window input, its last target and one generated token); the engine has {lm.max_length}. "
            "Lower block_size in --metadata or raise max_model_len in --model_args"
        )


def score(
    lm,
    plan: ScoringPlan,
    *,
    bos_id=None,
    windows_in_flight: int = DEFAULT_WINDOWS_IN_FLIGHT,
    progress=None,
    membership: MembershipCollector | None = None,
    records: TokenRecords | None = None,
) -> tuple[Checkpoint, ScoreStats]:
    """Sum of scored log-probabilities (nats) per request of ``plan`` (and per request and context-length
    bucket when the plan has buckets), float64, through ``lm``'s vLLM engine; ``membership`` collects the
    log-probabilities for Min-K% (vLLM gives no distribution moments, so no Min-K%++).

    Raises :class:`NonFiniteScore` for the first window with a NaN or infinite log-probability.
    """
    params = sampling_params()
    stats = ScoreStats(batch_size=windows_in_flight)
    totals = np.zeros(len(plan.scored_tokens), dtype=np.float64)
    context = None if plan.context is None else np.zeros(plan.context.tokens.shape, dtype=np.float64)
    start = time.perf_counter()
    for lo in range(0, len(plan.jobs), windows_in_flight):
        group = plan.jobs[lo : lo + windows_in_flight]
        prompts = [window_prompt(plan.sequences[j.seq], j.window, bos_id) for j in group]
        outputs = lm._model_generate(requests=prompts, generate=True, sampling_params=params)
        for k, (job, prompt, output) in enumerate(zip(group, prompts, outputs, strict=True)):
            w = job.window
            values = scored_logprobs(output, prompt, w.n_scored)
            owners = plan.sequences[job.seq].owners_of(w.scored_start, w.end + 1)
            if not np.isfinite(values).all():
                raise NonFiniteScore(lo + k, int(owners[np.flatnonzero(~np.isfinite(values))[0]]))
            np.add.at(totals, owners, values)
            if context is not None:
                add_logprobs(context, owners, w, values)
            if membership is not None:
                membership.add(torch.from_numpy(owners), torch.from_numpy(values), None)
            if records is not None:
                positions = np.arange(w.scored_start, w.end + 1)
                rows = np.zeros(w.n_scored, dtype=np.int64)
                records.add([job], rows, positions, scored_context(w), (torch.from_numpy(values), None, None))
        lengths = [len(p) for p in prompts]
        call = ScoreStats(
            windows=len(group),
            batches=1,
            input_tokens=sum(lengths),
            scored_tokens=sum(j.window.n_scored for j in group),
            attention_pairs=causal_pairs(lengths),
            head_rows=sum(lengths) - len(group),  # vLLM computes a log-softmax for every prompt position
        )
        stats.add(call)
        if progress is not None:
            progress.update(len(group))
    stats.seconds = time.perf_counter() - start
    if membership is not None:
        membership.flush()
    return Checkpoint(totals, np.ones(len(plan.jobs), dtype=bool), context, membership), stats
