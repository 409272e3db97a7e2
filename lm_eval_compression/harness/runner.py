"""Scoring compression requests on the harness's HF wrapper: plan, batch size, scorer, resume, responses.

Requests are scored task by task, so each task's run statistics are its own.
Every response is a :class:`ScoredDocument`, whose ``run`` attribute carries the
statistics of the run that scored it to the task (never into the cache).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict

import numpy as np
import torch
from tqdm import tqdm

from ..engine import resume, vllm_scoring
from ..engine.planning import CompressionRequestError, ScoringPlan, encode, merge_plans, plan_documents, plan_stream
from ..engine.scoring import Checkpoint, NonFiniteScore, WindowScorer
from ..engine.windows import WindowSettingsError

log = logging.getLogger(__name__)

# On CPU, ``--batch_size auto`` sizes the batch from free memory (a too-large allocation there swaps
# or gets the process killed instead of raising); this many bytes are allowed per window position.
CPU_BATCH_MEMORY_FRACTION = 0.5
CPU_MAX_BATCH = 64


class ScoredDocument(dict):
    """One document's response.  ``run`` (the scoring run's statistics) is dropped when pickled,
    so a response read back from the harness's cache never reports an old run."""

    run: dict | None = None

    def __reduce__(self):
        return dict, (dict(self),)


def tokenizer_adds_bos(lm) -> bool:
    """Whether the wrapper's tokenizer puts a BOS token before text by default."""
    tok = lm.tokenizer
    if tok.bos_token_id is None:
        return False
    if getattr(lm, "add_bos_token", None) is not None:
        return bool(lm.add_bos_token)
    ids = tok("a")["input_ids"]
    return bool(ids) and ids[0] == tok.bos_token_id


def resolve_window_bos(lm, setting) -> tuple[bool, str]:
    tok = lm.tokenizer
    if setting == "auto":
        if tokenizer_adds_bos(lm):
            return True, f"auto: the tokenizer adds BOS {tok.bos_token!r} (id {tok.bos_token_id}) by default"
        return False, "auto: the tokenizer adds no BOS token by default"
    if setting is True:
        if tok.bos_token_id is None:
            raise CompressionRequestError("window_bos=true, but the model's tokenizer has no BOS token")
        return True, "set: window_bos=true"
    return False, "set: window_bos=false"


def task_settings(requests, task) -> dict:
    """The window settings shared by a task's requests (stream position aside)."""
    first = {k: v for k, v in requests[0].args[1].items() if k != "position"}
    for r in requests[1:]:
        if {k: v for k, v in r.args[1].items() if k != "position"} != first:
            raise CompressionRequestError(f"task {task}: its requests carry different window settings")
    return first


def plan_task(lm, requests, task, s: dict) -> tuple[ScoringPlan, list[dict]]:
    """The scoring plan of one task's requests and the per-request facts for the results."""
    n = len(requests)
    if s["protocol"] == "document":
        use_bos, reason = resolve_window_bos(lm, s["window_bos"])
        prefix = lm.prefix_token_id
        ids = encode(lm.tokenizer, [r.args[0] for r in requests], add_special_tokens=False)
        plan = plan_documents(ids, list(range(n)), n, s["block_size"], s["stride"], prefix, use_bos)
        facts = {
            "prefix_token_id": int(prefix),
            "prefix_token": lm.tokenizer.convert_ids_to_tokens(prefix),
            "window_bos": use_bos,
            "window_bos_reason": reason,
        }
        return plan, [facts] * n
    order = sorted(range(n), key=lambda i: requests[i].args[1]["position"])
    if [requests[i].args[1]["position"] for i in order] != list(range(s["count"])):
        raise CompressionRequestError(
            f"task {task}: the paper protocol needs all {s['count']} documents of its stream in one call, "
            f"got {n} (a partial --use_cache entry?); delete the cache or rerun without --use_cache"
        )
    ids = encode(lm.tokenizer, [requests[i].args[0] for i in order], add_special_tokens=True)
    plan = plan_stream(ids, order, n, s["block_size"], s["stride"], where=f"task {task}")
    facts = {
        "prefix_token_id": None,
        "prefix_token": None,
        "window_bos": False,
        "window_bos_reason": "paper protocol: no window BOS",
    }
    return merge_plans([plan], n), [facts] * n


def cpu_batch_size(lm, width: int) -> int:
    """Windows per batch that fit in half the free memory: the head's logits of every position in
    the model dtype plus a float32 log-softmax chunk and the body's activations, per token."""
    import psutil

    config = lm.model.config
    item = torch.tensor([], dtype=lm.model.dtype).element_size()
    hidden = getattr(config, "hidden_size", 0) or 0
    inner = getattr(config, "intermediate_size", 4 * hidden) or 4 * hidden
    per_token = item * (len(lm.tokenizer) + 8 * hidden + 2 * inner)
    free = psutil.virtual_memory().available * CPU_BATCH_MEMORY_FRACTION
    return int(max(1, min(CPU_MAX_BATCH, lm.max_batch_size or CPU_MAX_BATCH, free // (2 * per_token * width))))


def detect_batch_size(lm, scorer: WindowScorer, width: int) -> int:
    """``--batch_size auto``: on CPU from free memory; on accelerators, the largest batch of
    ``width``-token windows (all positions scored) that runs.  The minimum across ranks."""
    if scorer.device.type == "cpu":
        batch_size = cpu_batch_size(lm, width)
    else:
        from accelerate.utils import find_executable_batch_size

        @find_executable_batch_size(starting_batch_size=lm.max_batch_size)
        def probe(batch_size):
            ids = torch.ones((batch_size, width), dtype=torch.long, device=scorer.device)
            targets = torch.ones(batch_size * width, dtype=torch.long, device=scorer.device)
            scorer.target_logprobs(scorer.logits(ids, width), slice(0, batch_size * width), targets)
            return batch_size

        try:
            batch_size = probe()
        except RuntimeError as e:
            if "No executable batch size found" not in str(e):
                raise
            batch_size = 1
    if lm.world_size > 1:
        gathered = lm.all_gather(torch.tensor([batch_size], device=lm.device))
        batch_size = int(gathered.min().item())
    return batch_size


def responses_for(requests, idx, totals, plan: ScoringPlan, facts: list[dict]) -> list[ScoredDocument]:
    out = []
    for i in idx:
        text, ll = requests[i].args[0], float(totals[i])
        chars = len(text)
        out.append(
            ScoredDocument(
                loglikelihood=ll,
                tokens=int(plan.scored_tokens[i]),
                chars=chars,
                bytes=len(text.encode("utf-8")),
                bpc=-ll / chars / math.log(2) if chars else None,
                **facts[i],
            )
        )
    return out


def nonfinite_message(task, requests, plan: ScoringPlan, error: NonFiniteScore) -> str:
    req = requests[error.owner]
    doc = req.doc_id if getattr(req, "doc_id", None) is not None else error.owner
    where = ""
    if error.job >= 0:
        job = plan.jobs[error.job]
        w = job.window
        same_seq = [k for k, j in enumerate(plan.jobs) if j.seq == job.seq]
        where = (
            f", window {same_seq.index(error.job) + 1} of {len(same_seq)} "
            f"(tokens {w.scored_start}..{w.end} of its sequence)"
        )
    return (
        f"task {task}: non-finite log-probability (NaN or infinity) in document {doc} "
        f"({req.args[0][:60]!r}){where}; the model's outputs are not usable (a broken checkpoint, "
        "or float16 overflow: try dtype=bfloat16 or float32); no results were written"
    )


def finished(task, requests, totals, plan, facts, stats) -> list[ScoredDocument]:
    """Every request's response, each carrying the run's statistics; the statistics go to the log too."""
    run = stats.as_dict()
    log.info("compression: %s %s", task, run)
    responses = responses_for(requests, range(len(requests)), totals, plan, facts)
    for r in responses:
        r.run = run
    return responses


def score_task_vllm(lm, requests, task, disable_tqdm: bool) -> list[ScoredDocument]:
    """The same plan and responses, scored through the harness's vLLM wrapper (no resume)."""
    s = task_settings(requests, task)
    plan, facts = plan_task(lm, requests, task, s)
    vllm_scoring.check_lengths(lm, plan, task)
    progress = tqdm(total=len(plan.jobs), desc=f"Scoring {task} windows", disable=disable_tqdm or lm.rank != 0)
    try:
        totals, stats = vllm_scoring.score(
            lm,
            plan,
            bos_id=lm.tokenizer.bos_token_id,
            progress=progress,
            windows_in_flight=s.get("windows_in_flight") or vllm_scoring.DEFAULT_WINDOWS_IN_FLIGHT,
        )
    except NonFiniteScore as error:
        raise CompressionRequestError(nonfinite_message(task, requests, plan, error)) from None
    finally:
        progress.close()
    return finished(task, requests, totals, plan, facts, stats)


def score_task(lm, requests, task, disable_tqdm: bool) -> list[ScoredDocument]:
    if vllm_scoring.is_vllm(lm):
        return score_task_vllm(lm, requests, task, disable_tqdm)
    s = task_settings(requests, task)
    plan, facts = plan_task(lm, requests, task, s)
    scorer = WindowScorer(
        lm.model, lm.device, getattr(lm, "mixed_precision_dtype", None), bos_id=lm.tokenizer.bos_token_id
    )
    width = max((j.window.input_len for j in plan.jobs), default=1)
    auto = str(lm.batch_size).startswith("auto")
    batch_size = detect_batch_size(lm, scorer, width) if auto else int(lm.batch_size)
    if auto:
        log.info("compression: batch size %d for %d-token windows", batch_size, width)

    cache, start, on_checkpoint = resume.cache_file(lm), None, None
    if cache and s["protocol"] == "paper":
        store = resume.StreamCheckpoints(cache, s["stream"], resume.model_identity(lm), len(plan.jobs), len(requests))
        start, on_checkpoint = store.load(), store.save
    elif cache:
        owner_of_job = np.fromiter((plan.sequences[j.seq].owners[0] for j in plan.jobs), np.int64, len(plan.jobs))
        written = np.zeros(len(requests), dtype=bool)

        def on_checkpoint(point):
            left = np.bincount(owner_of_job[~point.done], minlength=len(requests))
            new = np.flatnonzero((left == 0) & ~written)
            resume.write_cached(
                lm,
                [
                    (getattr(requests[i], "cache_args", requests[i].args), r)
                    for i, r in zip(new, responses_for(requests, new, point.totals, plan, facts))
                ],
            )
            written[new] = True

    progress = tqdm(total=len(plan.jobs), desc=f"Scoring {task} windows", disable=disable_tqdm or lm.rank != 0)
    try:
        totals, stats = scorer.score(
            plan,
            batch_size=batch_size,
            token_budget=batch_size * width,
            auto_batch=auto,
            progress=progress,
            resume=start,
            on_checkpoint=on_checkpoint,
            interval=resume.checkpoint_interval(),
        )
    except NonFiniteScore as error:
        raise CompressionRequestError(nonfinite_message(task, requests, plan, error)) from None
    finally:
        progress.close()
    if on_checkpoint is not None and s["protocol"] == "paper":
        on_checkpoint(Checkpoint(totals, np.ones(len(plan.jobs), dtype=bool)))
    return finished(task, requests, totals, plan, facts, stats)


def check_model(lm, task, s: dict) -> None:
    if getattr(lm, "backend", "causal") != "causal":
        raise CompressionRequestError("compression tasks need a causal (decoder-only) model; got a seq2seq backend")
    if s["block_size"] > lm.max_length:
        raise WindowSettingsError(
            f"block_size ({s['block_size']}) is larger than the model's maximum length ({lm.max_length}) "
            f"for task {task}; lower block_size in --metadata or raise max_length in --model_args"
        )


def score_requests(lm, requests, disable_tqdm: bool = False) -> list[ScoredDocument]:
    """Score compression requests on ``lm`` (an HFLM or VLLM); one response per request, in order."""
    by_task = defaultdict(list)
    for i, r in enumerate(requests):
        by_task[getattr(r, "task_name", None)].append(i)
    for task, members in by_task.items():
        check_model(lm, task, task_settings([requests[i] for i in members], task))
    responses: list = [None] * len(requests)
    for task, members in by_task.items():
        for i, resp in zip(members, score_task(lm, [requests[i] for i in members], task, disable_tqdm)):
            responses[i] = resp
    return responses
