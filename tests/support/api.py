"""Running compression tasks through the harness's Python API in tests."""

from __future__ import annotations

import functools

from tests.support.cli import TASKS_DIR


def new_lm(path: str, batch_size="1", max_length=None):
    """The harness's HF wrapper on a local model, float32 on the CPU. A run with ``use_cache`` leaves the
    wrapper bound to its cache file (the harness sets a cache hook on it), so such runs take a new one."""
    from lm_eval.models.huggingface import HFLM

    kwargs = {"pretrained": path, "dtype": "float32", "device": "cpu", "batch_size": batch_size}
    if max_length:
        kwargs["max_length"] = max_length
    return HFLM(**kwargs)


# One wrapper per model and settings, shared by the tests that never pass use_cache.
load_lm = functools.lru_cache(maxsize=4)(new_lm)


def evaluate(lm, tasks, metadata: dict, **kwargs) -> dict:
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    tm = TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata=metadata)
    return simple_evaluate(
        model=lm, tasks=list(tasks), task_manager=tm, log_samples=True, bootstrap_iters=1000, **kwargs
    )


def per_doc(results: dict, task: str) -> list[dict]:
    """Scorer responses in document order."""
    samples = sorted(results["samples"][task], key=lambda s: s["doc_id"])
    return [s["resps"][0][0] for s in samples]
