"""Glue to the harness's HF wrapper: the strided ``loglikelihood_rolling`` extension.

Compression tasks send ``(text, settings)`` as the arguments of their
``loglikelihood_rolling`` requests, where ``settings`` is a dict marked with
:data:`REQUEST_KEY`.  :func:`install` wraps ``HFLM.loglikelihood_rolling`` so
that such requests are scored here (on the wrapper's own model, device and
batch size) while every other request goes down the untouched stock path.
Because the settings are part of the request arguments, ``--use_cache`` keys
include them and never mix window settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sys
from collections import defaultdict

import numpy as np
import torch
from tqdm import tqdm

from . import vllm_scoring
from .scoring import Job, WindowScorer
from .windows import WindowSettingsError, document_windows, paper_windows

log = logging.getLogger(__name__)

REQUEST_KEY = "lm_eval_compression"
REQUEST_VERSION = 1

# Per task name: statistics of the last scoring run in this process (not cached).
RUN_STATS: dict[str, dict] = {}


class CompressionRequestError(RuntimeError):
    """Requests cannot be scored as asked; the message says why."""


def is_compression_request(args) -> bool:
    return len(args) == 2 and isinstance(args[1], dict) and args[1].get(REQUEST_KEY) == REQUEST_VERSION


def corpus_sha256(texts) -> str:
    """Identity of an ordered list of documents."""
    digest = hashlib.sha256()
    for t in texts:
        digest.update(hashlib.sha256(t.encode("utf-8")).digest())
    return digest.hexdigest()


def stream_fingerprint(corpus_sha256: str, settings: dict) -> str:
    """Identity of a ``paper`` stream: the hash of its documents in order plus the window settings."""
    return hashlib.sha256((json.dumps(settings, sort_keys=True) + corpus_sha256).encode()).hexdigest()


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
    bos = tok.bos_token_id
    adds = tokenizer_adds_bos(lm)
    if setting == "auto":
        if adds:
            return True, f"auto: the tokenizer adds BOS {tok.bos_token!r} (id {bos}) by default"
        return False, "auto: the tokenizer adds no BOS token by default"
    if setting is True:
        if bos is None:
            raise CompressionRequestError("window_bos=true, but the model's tokenizer has no BOS token")
        return True, "set: window_bos=true"
    return False, "set: window_bos=false"


def check_model(lm, settings_list) -> None:
    if getattr(lm, "backend", "causal") != "causal":
        raise CompressionRequestError("compression tasks need a causal (decoder-only) model; got a seq2seq backend")
    for task, s in settings_list:
        if s["block_size"] > lm.max_length:
            raise WindowSettingsError(
                f"block_size ({s['block_size']}) is larger than the model's maximum length ({lm.max_length}) "
                f"for task {task}; lower block_size in --metadata or raise max_length in --model_args"
            )


def detect_batch_size(lm, scorer: WindowScorer, width: int) -> int:
    """Largest batch of ``width``-token windows (all positions scored) that fits."""
    from accelerate.utils import find_executable_batch_size

    @find_executable_batch_size(starting_batch_size=lm.max_batch_size)
    def probe(batch_size):
        ids = torch.ones((batch_size, width), dtype=torch.long, device=scorer.device)
        logits = scorer.logits(ids, width)
        scorer.target_logprobs(logits, slice(0, batch_size * width),
                               torch.ones(batch_size * width, dtype=torch.long, device=scorer.device))
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


def score_requests(lm, requests, disable_tqdm: bool = False) -> list[dict]:
    """Score compression requests on ``lm`` (an HFLM); one response dict per request.

    Requests are scored task by task, so each task's run statistics (time,
    padding, batches) are its own.
    """
    check_model(lm, [(getattr(r, "task_name", None), r.args[1]) for r in requests])
    by_task = defaultdict(list)
    for i, r in enumerate(requests):
        by_task[getattr(r, "task_name", None)].append(i)
    responses: list = [None] * len(requests)
    for task, members in by_task.items():
        for i, resp in zip(members, _score_task(lm, [requests[i] for i in members], task, disable_tqdm)):
            responses[i] = resp
    return responses


def _plan_document(lm, requests, idx, sequences, owners, jobs, info) -> None:
    tok = lm.tokenizer
    prefix = lm.prefix_token_id
    prefix_text = tok.convert_ids_to_tokens(prefix)
    encoded = tok([requests[i].args[0] for i in idx], add_special_tokens=False)["input_ids"]
    resolved: dict = {}
    for i, ids in zip(idx, encoded):
        s = requests[i].args[1]
        if s["window_bos"] not in resolved:
            resolved[s["window_bos"]] = resolve_window_bos(lm, s["window_bos"])
        use_bos, reason = resolved[s["window_bos"]]
        seq = np.asarray([prefix] + ids, dtype=np.int64)
        sequences.append(seq)
        owners.append(np.full(len(seq), i, dtype=np.int64))
        jobs += [Job(len(sequences) - 1, w) for w in document_windows(len(ids), s["block_size"], s["stride"], use_bos)]
        info[i] = {"prefix_token_id": int(prefix), "prefix_token": prefix_text,
                   "window_bos": use_bos, "window_bos_reason": reason}


def _plan_paper(lm, requests, idx, task, sequences, owners, jobs, info) -> None:
    if lm.world_size > 1:
        raise CompressionRequestError(
            "the paper protocol scores one stream over all documents and cannot be split across "
            f"{lm.world_size} data-parallel processes; run it in one process or use protocol=document"
        )
    streams = defaultdict(list)
    for i in idx:
        streams[requests[i].args[1]["stream"]].append(i)
    for members in streams.values():
        s = requests[members[0]].args[1]
        members.sort(key=lambda i: requests[i].args[1]["position"])
        positions = [requests[i].args[1]["position"] for i in members]
        if positions != list(range(s["count"])):
            raise CompressionRequestError(
                f"task {task}: the paper protocol needs all {s['count']} documents of its stream in one call, "
                f"got {len(members)} (a partial --use_cache entry?); delete the cache or rerun without --use_cache"
            )
        encoded = lm.tokenizer([requests[i].args[0] for i in members])["input_ids"]
        seq = np.asarray([t for ids in encoded for t in ids], dtype=np.int64)
        windows = paper_windows(len(seq), s["block_size"], s["stride"])
        if not windows:
            raise CompressionRequestError(
                f"task {task}: the paper protocol needs more than block_size ({s['block_size']}) tokens "
                f"in the stream; the corpus has {len(seq)}"
            )
        sequences.append(seq)
        owners.append(np.repeat(np.asarray(members, dtype=np.int64), [len(ids) for ids in encoded]))
        jobs += [Job(len(sequences) - 1, w) for w in windows]
        for i in members:
            info[i] = {"prefix_token_id": None, "prefix_token": None,
                       "window_bos": False, "window_bos_reason": "paper protocol: no window BOS"}


def _score_task(lm, requests, task, disable_tqdm: bool) -> list[dict]:
    sequences: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    jobs: list[Job] = []
    info: list[dict] = [{} for _ in requests]
    doc_idx = [i for i, r in enumerate(requests) if r.args[1]["protocol"] == "document"]
    paper_idx = [i for i, r in enumerate(requests) if r.args[1]["protocol"] == "paper"]
    if doc_idx:
        _plan_document(lm, requests, doc_idx, sequences, owners, jobs, info)
    if paper_idx:
        _plan_paper(lm, requests, paper_idx, task, sequences, owners, jobs, info)

    # Scored tokens per request, from the plan (no model needed).
    n_tokens = np.zeros(len(requests), dtype=np.int64)
    for job in jobs:
        w = job.window
        np.add.at(n_tokens, owners[job.seq][w.scored_start:w.end + 1], 1)

    progress = tqdm(total=len(jobs), desc=f"Scoring {task} windows", disable=disable_tqdm or lm.rank != 0)
    if vllm_scoring.is_vllm(lm):
        vllm_scoring.check_lengths(lm, jobs, task)
        in_flight = requests[0].args[1].get("windows_in_flight") or vllm_scoring.DEFAULT_WINDOWS_IN_FLIGHT
        totals, stats = vllm_scoring.score(lm, sequences, owners, jobs, len(requests),
                                           bos_id=lm.tokenizer.bos_token_id, windows_in_flight=in_flight,
                                           progress=progress)
    else:
        totals, stats = _score_hf(lm, sequences, owners, jobs, len(requests), progress)
    progress.close()
    log.info("compression: %s %s", task, stats.as_dict())
    RUN_STATS[task] = stats.as_dict()

    responses = []
    for i, req in enumerate(requests):
        text = req.args[0]
        chars, nbytes, ll = len(text), len(text.encode("utf-8")), float(totals[i])
        responses.append({
            "loglikelihood": ll,
            "tokens": int(n_tokens[i]),
            "chars": chars,
            "bytes": nbytes,
            "bpc": -ll / chars / math.log(2) if chars else None,
            **info[i],
        })
    return responses


def _score_hf(lm, sequences, owners, jobs, n_requests, progress):
    scorer = WindowScorer(lm.model, lm.device, getattr(lm, "mixed_precision_dtype", None))
    width = max((j.window.input_len for j in jobs), default=1)
    if lm.batch_size == "auto":
        batch_size = detect_batch_size(lm, scorer, width)
        log.info("compression: detected batch size %d for %d-token windows", batch_size, width)
    else:
        batch_size = int(lm.batch_size)
    return scorer.score(sequences, owners, jobs, n_requests, bos_id=lm.tokenizer.bos_token_id,
                        batch_size=batch_size, token_budget=batch_size * width, progress=progress)


def _wrap_rolling(original):
    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        ours = [i for i, r in enumerate(requests) if is_compression_request(r.args)]
        if not ours:
            return original(self, requests, disable_tqdm=disable_tqdm)
        mine = set(ours)
        others = [i for i in range(len(requests)) if i not in mine]
        out = [None] * len(requests)
        if others:
            for i, res in zip(others, original(self, [requests[i] for i in others], disable_tqdm=disable_tqdm)):
                out[i] = res
        for i, res in zip(ours, score_requests(self, [requests[i] for i in ours], disable_tqdm)):
            out[i] = res
            self.cache_hook.add_partial("loglikelihood_rolling", requests[i].args, res)
        return out

    loglikelihood_rolling.__wrapped__ = original
    loglikelihood_rolling._lm_eval_compression = True
    return loglikelihood_rolling


def _wrap_stderr(original):
    def stderr_for_metric(metric, bootstrap_iters):
        fn = getattr(metric, "stderr", None)
        if callable(fn) and getattr(metric, "__module__", "") == "lm_eval_compression.metrics":
            return fn if bootstrap_iters > 0 else None
        return original(metric, bootstrap_iters)

    stderr_for_metric._lm_eval_compression = True
    return stderr_for_metric


def install() -> None:
    """Route compression requests of the HF and vLLM wrappers here and give bpc a standard error (idempotent).

    The vLLM wrapper is hooked only once its module is loaded (the harness loads it when it builds
    a ``--model vllm``), so runs without vLLM never import it.
    """
    from lm_eval import evaluator_utils
    from lm_eval.models.huggingface import HFLM

    wrappers = [HFLM]
    vllm_module = sys.modules.get("lm_eval.models.vllm_causallms")
    if vllm_module is not None and hasattr(vllm_module, "VLLM"):
        wrappers.append(vllm_module.VLLM)
    for cls in wrappers:
        if not getattr(cls.loglikelihood_rolling, "_lm_eval_compression", False):
            cls.loglikelihood_rolling = _wrap_rolling(cls.loglikelihood_rolling)
    if not getattr(evaluator_utils.stderr_for_metric, "_lm_eval_compression", False):
        evaluator_utils.stderr_for_metric = _wrap_stderr(evaluator_utils.stderr_for_metric)
