"""Hooks into the harness: compression requests of the HF and vLLM wrappers are scored by the plugin.

:func:`install` wraps the wrappers' ``loglikelihood_rolling`` so that compression requests
(:mod:`.requests`) are scored here, on the wrapper's own model, device and batch size, while every other
request goes down the untouched stock path; it gives ``bpc`` its standard error, refuses model types
that cannot score compression tasks before any request runs, and, with ``--use_cache``, hands each compression
task the identity of the model (:mod:`.identity`) before it builds its requests, so that the cache keys include it.
"""

from __future__ import annotations

import functools
import sys

from ..engine import resume
from ..engine.planning import CompressionRequestError
from . import compat, identity, metrics
from .requests import CompressionRequest, is_compression_request
from .runner import score_requests

# Model types (harness registry names) whose wrappers score compression requests.
SUPPORTED_MODELS = ("hf", "hf-auto", "huggingface", "vllm")
# Wrappers hooked once their module is loaded (the harness loads it when it builds such a model).
OPTIONAL_WRAPPERS = (("lm_eval.models.vllm_causallms", "VLLM"),)


def model_type_name(lm) -> str:
    """The ``--model`` name under which the harness registers ``lm``'s class, else the class name."""
    from lm_eval.api import registry

    cls = type(lm)
    for alias, target in getattr(registry.model_registry, "_objs", {}).items():
        if target is cls or target == f"{cls.__module__}:{cls.__name__}":
            return alias
    return cls.__name__


def scores_compression(lm) -> bool:
    """Whether ``lm``'s wrapper routes compression requests to the plugin."""
    return getattr(getattr(type(lm), "loglikelihood_rolling", None), "_lm_eval_compression", False)


def compression_task_objects(task_dict) -> list:
    """The compression tasks in the harness's (nested) task dict."""
    found = []
    for value in task_dict.values():
        if isinstance(value, dict):
            found += compression_task_objects(value)
        elif getattr(value, "is_compression_task", False):
            found.append(value)
    return found


def compression_tasks(task_dict) -> list[str]:
    """Names of the compression tasks in the harness's (nested) task dict."""
    return [task.config.task for task in compression_task_objects(task_dict)]


def give_model_identity(lm, task_dict) -> None:
    """With ``--use_cache``, tell each compression task which model scores it (computed once per evaluation);
    the task puts it in its requests' arguments, which the cache key hashes."""
    inner = getattr(lm, "lm", lm)  # under --use_cache the harness wraps the model in a CachingLM
    tasks = compression_task_objects(task_dict)
    model = identity.model_identity(inner) if tasks and resume.cache_file(inner) else None
    for task in tasks:
        task.model_identity = model


def check_model_type(lm, task_dict) -> None:
    """Refuse, before any request runs, a model type that cannot score compression requests."""
    inner = getattr(lm, "lm", lm)  # under --use_cache the harness wraps the model in a CachingLM
    tasks = compression_tasks(task_dict)
    if tasks and not scores_compression(inner):
        raise CompressionRequestError(
            f"--model {model_type_name(inner)} ({type(inner).__name__}) cannot score compression tasks "
            f"({', '.join(tasks)}); use --model hf (also: {', '.join(SUPPORTED_MODELS[1:])})"
        )


def _wrap_rolling(original):
    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        compression = [i for i, r in enumerate(requests) if is_compression_request(r.args)]
        if not compression:
            return original(self, requests, disable_tqdm=disable_tqdm)
        chosen = set(compression)
        stock = [i for i in range(len(requests)) if i not in chosen]
        out = [None] * len(requests)
        if stock:
            for i, res in zip(stock, original(self, [requests[i] for i in stock], disable_tqdm=disable_tqdm)):
                out[i] = res
        views = [CompressionRequest.of(requests[i]) for i in compression]
        for i, res in zip(compression, score_requests(self, views, disable_tqdm)):
            out[i] = res
        return out

    loglikelihood_rolling.__wrapped__ = original
    loglikelihood_rolling._lm_eval_compression = True
    return loglikelihood_rolling


def _wrap_stderr(original):
    def stderr_for_metric(metric, bootstrap_iters):
        # The plugin's aggregations carry their own standard error, or none (corpus totals): never a bootstrap.
        if getattr(metric, metrics.MARK, False):
            fn = getattr(metric, "stderr", None)
            return fn if callable(fn) and bootstrap_iters > 0 else None
        return original(metric, bootstrap_iters)

    stderr_for_metric._lm_eval_compression = True
    return stderr_for_metric


def _wrap_evaluate(original):
    @functools.wraps(original)
    def evaluate(lm, task_dict, *args, **kwargs):
        install()  # the model exists now: hook its wrapper if its module was loaded after the tasks'
        check_model_type(lm, task_dict)
        give_model_identity(lm, task_dict)
        return original(lm, task_dict, *args, **kwargs)

    evaluate._lm_eval_compression = True
    return evaluate


def install() -> None:
    """Route compression requests of the HF wrapper (and of the vLLM wrapper once its module is loaded;
    runs without vLLM never import it) here, give bpc a standard error and refuse other model types up
    front (idempotent)."""
    from lm_eval import evaluator
    from lm_eval.models.huggingface import HFLM

    wrappers = [HFLM] + [
        getattr(sys.modules[name], cls) for name, cls in OPTIONAL_WRAPPERS if hasattr(sys.modules.get(name), cls)
    ]
    for wrapper in wrappers:
        if not getattr(wrapper.loglikelihood_rolling, "_lm_eval_compression", False):
            wrapper.loglikelihood_rolling = _wrap_rolling(wrapper.loglikelihood_rolling)
    home = compat.stderr_home()
    if not getattr(home.stderr_for_metric, "_lm_eval_compression", False):
        home.stderr_for_metric = _wrap_stderr(home.stderr_for_metric)
    if not getattr(evaluator.evaluate, "_lm_eval_compression", False):
        evaluator.evaluate = _wrap_evaluate(evaluator.evaluate)
