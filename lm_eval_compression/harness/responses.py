"""What the scorer answers for each compression request, and the message when a score is not finite.

Every response is a :class:`ScoredDocument`: the document's log-likelihood, characters, bytes, scored
tokens and bpc, plus how the model applied the window settings.  Its ``run`` attribute carries the
statistics of the run that scored it to the task, never into the cache.
"""

from __future__ import annotations

import math

from ..engine.planning import ScoringPlan
from ..engine.scoring import Checkpoint, NonFiniteScore
from ..engine.settings import WindowSettings


class ScoredDocument(dict):
    """One document's response.  ``run`` (the scoring run's statistics) is dropped when pickled,
    so a response read back from the harness's cache never reports an old run."""

    def __init__(self, fields: dict, run: dict | None = None):
        super().__init__(fields)
        self.run = run

    def __reduce__(self):
        return dict, (dict(self),)


def scored_document(
    text: str, loglikelihood: float, tokens: int, windows: WindowSettings, run=None, extra=None
) -> ScoredDocument:
    chars = len(text)
    fields = {
        "loglikelihood": loglikelihood,
        "tokens": tokens,
        "chars": chars,
        "bytes": len(text.encode("utf-8")),
        "bpc": -loglikelihood / chars / math.log(2) if chars else None,
        **windows.model_facts(),
    }
    fields.update(extra or {})
    return ScoredDocument(fields, run)


def extra_fields(plan: ScoringPlan, point: Checkpoint, i: int) -> dict:
    """Request ``i``'s scored tokens, characters and log-likelihood per context-length bucket
    (``by_context``) and its membership signals (Min-K%, Min-K%++), where the run has them."""
    out = {}
    if plan.context is not None and point.context is not None:
        chars = plan.context.chars
        out["by_context"] = {
            "tokens": plan.context.tokens[i].tolist(),
            "chars": None if chars is None else chars[i].tolist(),
            "loglikelihood": point.context[i].tolist(),
        }
    if point.membership is not None:
        out.update(point.membership.signals(i).fields(point.membership.k))
    return out


def responses_for(requests, idx, point: Checkpoint, plan: ScoringPlan, windows: WindowSettings, run=None):
    """The responses (:class:`ScoredDocument`) of requests ``idx`` from their float64 totals in ``point``."""
    return [
        scored_document(
            requests[i].text,
            float(point.totals[i]),
            int(plan.scored_tokens[i]),
            windows,
            run,
            extra_fields(plan, point, i),
        )
        for i in idx
    ]


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
        f"({req.text[:60]!r}){where}; the model's outputs are not usable (a broken checkpoint, "
        "or float16 overflow: try dtype=bfloat16 or float32); no results were written"
    )
