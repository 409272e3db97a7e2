"""Scoring compression requests on the harness's wrappers: one task at a time, plan -> scorer -> responses.

Requests are scored task by task, so each task's run statistics are its own.  The HF wrapper's model is
scored by :class:`~lm_eval_compression.engine.scoring.WindowScorer` (with resume through ``--use_cache``),
the vLLM wrapper's engine by :mod:`~lm_eval_compression.engine.vllm_scoring`; both take the same plan.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from ..engine import resume, vllm_scoring
from ..engine.membership import MembershipCollector
from ..engine.planning import CompressionRequestError, ScoringPlan, encode, plan_documents, plan_stream
from ..engine.records import TokenRecords
from ..engine.scoring import BatchPolicy, Checkpoint, Checkpointing, NonFiniteScore, WindowScorer
from ..engine.settings import WindowSettings
from . import identity
from .requests import CompressionRequest, RequestSettings, shared_settings
from .responses import ScoredDocument, nonfinite_message, responses_for
from .wrapper import check_model, detect_batch_size, windows_for

log = logging.getLogger(__name__)


def plan_task(
    lm, requests: list[CompressionRequest], task, settings: RequestSettings
) -> tuple[ScoringPlan, WindowSettings]:
    """The scoring plan of one task's requests, and the window settings as this model applies them."""
    n = len(requests)
    windows = windows_for(lm, settings.windows)
    keep = settings.records is not None
    if keep and not getattr(lm.tokenizer, "is_fast", False):
        raise CompressionRequestError(
            f"task {task}: token_records need a fast tokenizer (character offsets); this one is slow"
        )
    if windows.protocol == "document":
        enc = encode(lm.tokenizer, [r.text for r in requests], add_special_tokens=False)
        return plan_documents(enc.ids, list(range(n)), n, windows, enc.chars, keep), windows
    order = sorted(range(n), key=lambda i: requests[i].position)
    if [requests[i].position for i in order] != list(range(settings.count)):
        raise CompressionRequestError(
            f"task {task}: the paper protocol needs all {settings.count} documents of its stream in one call, "
            f"got {n} (a partial --use_cache entry?); delete the cache or rerun without --use_cache"
        )
    enc = encode(lm.tokenizer, [requests[i].text for i in order], add_special_tokens=True)
    return plan_stream(enc.ids, order, n, windows, f"task {task}", enc.chars, keep), windows


def progress_bar(lm, plan: ScoringPlan, task, disable_tqdm: bool) -> tqdm:
    return tqdm(total=len(plan.jobs), desc=f"Scoring {task} windows", disable=disable_tqdm or lm.rank != 0)


def records_for(requests, plan: ScoringPlan, settings: RequestSettings, moments: bool) -> TokenRecords | None:
    """The task's per-token records writer, when they are on."""
    if settings.records is None:
        return None
    doc_ids = [r.doc_id if r.doc_id is not None else i for i, r in enumerate(requests)]
    unit = "doc" if settings.windows.protocol == "document" else "window"
    return TokenRecords(Path(settings.records), plan, doc_ids, unit, moments)


def finished(task, requests, point: Checkpoint, plan, windows: WindowSettings, stats, records=None):
    """Every request's response, each carrying the run's statistics (and where the records are); the
    statistics go to the log too."""
    run = stats.as_dict()
    if records is not None:
        run["records"] = asdict(records.finish())
    log.info("compression: %s %s", task, run)
    return responses_for(requests, range(len(requests)), point, plan, windows, run)


def membership_for(plan: ScoringPlan, settings: RequestSettings, plus_plus: bool) -> MembershipCollector | None:
    """The collector of Min-K% (and, with ``plus_plus``, Min-K%++) values, unless they are off."""
    return MembershipCollector(plan.scored_tokens, settings.min_k, plus_plus) if settings.min_k else None


def score_task_vllm(lm, requests, task, disable_tqdm: bool) -> list[ScoredDocument]:
    """The same plan and responses, scored through the harness's vLLM wrapper (no resume)."""
    settings = shared_settings(requests, task)
    plan, windows = plan_task(lm, requests, task, settings)
    vllm_scoring.check_lengths(lm, plan, task)
    progress = progress_bar(lm, plan, task, disable_tqdm)
    in_flight = settings.windows_in_flight or vllm_scoring.DEFAULT_WINDOWS_IN_FLIGHT
    records = records_for(requests, plan, settings, moments=False)
    try:
        point, stats = vllm_scoring.score(
            lm,
            plan,
            bos_id=lm.tokenizer.bos_token_id,
            progress=progress,
            windows_in_flight=in_flight,
            membership=membership_for(plan, settings, plus_plus=False),
            records=records,
        )
    except NonFiniteScore as error:
        raise CompressionRequestError(nonfinite_message(task, requests, plan, error)) from None
    finally:
        progress.close()
    return finished(task, requests, point, plan, windows, stats, records)


def checkpointing(lm, requests, plan: ScoringPlan, settings: RequestSettings, windows: WindowSettings):
    """Saving and resuming progress through ``--use_cache`` (nothing without it): finished documents go
    into the harness's cache as they finish; a ``paper`` stream saves its running totals beside it."""
    cache = resume.cache_file(lm)
    if not cache:
        return Checkpointing(), None
    interval = resume.checkpoint_interval()
    if windows.protocol == "paper":
        model = settings.model or identity.model_identity(lm)
        buckets = None if plan.context is None else plan.context.tokens.shape[1]
        store = resume.StreamCheckpoints(cache, settings.stream, model, len(plan.jobs), len(requests), buckets)
        return Checkpointing(store.load(), store.save, interval), store.save
    finished_docs = resume.FinishedDocuments(plan, len(requests))

    def save_finished(point: Checkpoint) -> None:
        new = finished_docs.newly_finished(point.done)
        responses = responses_for(requests, new, point, plan, windows)
        resume.write_cached(lm, [(requests[i].cache_args, r) for i, r in zip(new, responses)])

    return Checkpointing(None, save_finished, interval), None


def score_task(lm, requests, task, disable_tqdm: bool) -> list[ScoredDocument]:
    if vllm_scoring.is_vllm(lm):
        return score_task_vllm(lm, requests, task, disable_tqdm)
    settings = shared_settings(requests, task)
    plan, windows = plan_task(lm, requests, task, settings)
    autocast = getattr(lm, "mixed_precision_dtype", None)
    scorer = WindowScorer(lm.model, lm.device, autocast, bos_id=lm.tokenizer.bos_token_id)
    width = max((j.window.input_len for j in plan.jobs), default=1)
    auto = str(lm.batch_size).startswith("auto")
    batch_size = detect_batch_size(lm, scorer, width) if auto else int(lm.batch_size)
    if auto:
        log.info("compression: batch size %d for %d-token windows", batch_size, width)
    checkpoints, save_stream = checkpointing(lm, requests, plan, settings, windows)
    progress = progress_bar(lm, plan, task, disable_tqdm)
    try:
        policy = BatchPolicy(batch_size, batch_size * width, auto)
        membership = membership_for(plan, settings, plus_plus=True)
        records = records_for(requests, plan, settings, moments=True)
        point, stats = scorer.score(plan, policy, progress, checkpoints, membership, records)
    except NonFiniteScore as error:
        raise CompressionRequestError(nonfinite_message(task, requests, plan, error)) from None
    finally:
        progress.close()
    if save_stream is not None:
        save_stream(point)
    return finished(task, requests, point, plan, windows, stats, records)


def score_requests(lm, requests: list[CompressionRequest], disable_tqdm: bool = False) -> list[ScoredDocument]:
    """Score compression requests on ``lm`` (an HFLM or VLLM); one response per request, in order."""
    by_task = defaultdict(list)
    for i, r in enumerate(requests):
        by_task[r.task_name].append(i)
    for task, members in by_task.items():
        check_model(lm, task, shared_settings([requests[i] for i in members], task).windows)
    responses: list = [None] * len(requests)
    for task, members in by_task.items():
        for i, resp in zip(members, score_task(lm, [requests[i] for i in members], task, disable_tqdm)):
            responses[i] = resp
    return responses
