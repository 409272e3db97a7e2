"""What differs between the harness releases this plugin supports (lm-eval 0.4.13 and 0.5.0.dev1).

- Rolling-request arguments: 0.4 sends ``(text,)``, 0.5 sends ``("", text)`` (context, continuation). A
  compression request appends its settings dict to the stock arguments of the installed release, so
  ``--use_cache`` keys (a hash of the arguments) always include the window settings.
- Rolling responses: 0.4 returns a float per request, 0.5 a ``(loglikelihood, False)`` tuple; compression
  requests answer with a dict on both.
- The standard-error lookup: 0.4 calls ``stderr_for_metric`` through ``lm_eval.evaluator_utils``; 0.5 imports
  it from ``lm_eval.api.metrics`` inside ``lm_eval.scorers._base`` at every aggregation.
- Tasks: 0.5 has one task class per output type (``LoglikelihoodRollingTask``) and passes ``doc_id`` to
  ``construct_requests``; 0.4 has one ``ConfigurableTask`` and passes a ``(task, doc_id, repeats)`` tuple.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from importlib import metadata

SUPPORTED = ">=0.4.13, <0.6 (tested: 0.4.13, 0.5.0.dev1)"


@lru_cache(maxsize=1)
def harness_version() -> tuple[int, int]:
    """(major, minor) of the installed lm-eval."""
    major, minor = metadata.version("lm_eval").split(".")[:2]
    return int(major), int(minor)


def is_next() -> bool:
    """Whether the installed harness is the 0.5 line."""
    return harness_version() >= (0, 5)


def rolling_args(text: str, settings: dict | None = None) -> tuple:
    """Arguments of a ``loglikelihood_rolling`` request for the installed release, ``settings`` appended."""
    stock = ("", text) if is_next() else (text,)
    return stock if settings is None else (*stock, settings)


def rolling_text(args: tuple) -> str:
    """The scored text of a rolling request built by :func:`rolling_args`."""
    return args[1] if is_next() else args[0]


def rolling_settings(args: tuple):
    """The settings dict of a compression request, or None for a stock rolling request."""
    stock_len = 2 if is_next() else 1
    if len(args) == stock_len + 1 and isinstance(args[-1], dict):
        return args[-1]
    return None


def stderr_home():
    """The module whose ``stderr_for_metric`` attribute the installed harness looks up when aggregating."""
    name = "lm_eval.api.metrics" if is_next() else "lm_eval.evaluator_utils"
    module = importlib.import_module(name)
    if not hasattr(module, "stderr_for_metric"):
        raise ImportError(
            f"lm-eval {metadata.version('lm_eval')}: {name}.stderr_for_metric is missing, so bpc would get no "
            f"standard error; lm-eval-compression supports lm-eval {SUPPORTED}"
        )
    return module


def rolling_task_base():
    """The harness class a rolling task subclasses: 0.5 has one per output type, 0.4 one configurable class."""
    from lm_eval.api import task

    return task.LoglikelihoodRollingTask if is_next() else task.ConfigurableTask


def request_placement(construct_kwargs: dict, task_name: str, repeats: int) -> tuple[int, dict]:
    """``(doc_id, Instance keyword arguments)`` from what ``build_all_requests`` passed to ``construct_requests``:
    0.5 passes ``doc_id`` and wants ``task_name``/``doc_id`` fields, 0.4 passes and takes a ``metadata`` tuple."""
    if "doc_id" in construct_kwargs:
        doc_id = construct_kwargs["doc_id"]
        return doc_id, {"task_name": task_name, "doc_id": doc_id, "repeats": repeats}
    placement = construct_kwargs["metadata"]
    return placement[1], {"metadata": placement}


def metric_list(metrics: list[dict]) -> list[dict]:
    """The task's ``metric_list`` for the installed release. 0.5 resolves a metric named by a string in its own
    registry, where ``bpb`` is a log-likelihood metric and refused for rolling tasks; a callable carrying the
    name keeps the name without the lookup (process_results supplies the values, so it is never called)."""
    if not is_next():
        return metrics
    return [{**m, "metric": _named_placeholder(m["metric"])} for m in metrics]


def _named_placeholder(name: str):
    def placeholder(*args, **kwargs):
        raise RuntimeError(f"metric {name} takes its values from process_results and is never computed itself")

    placeholder.__name__ = placeholder.__qualname__ = name
    return placeholder
