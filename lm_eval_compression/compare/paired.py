"""The paired difference of two models' bpc over the same documents, with documents as the sampling unit.

Each model's bpc is a ratio of sums, ``sum(bits_i) / sum(chars_i)``; so is the difference,
``sum(bits_a_i - bits_b_i) / sum(chars_i)``.  Its standard error is the delta-method error of that ratio
(the one the harness reports for ``bpc``) computed on the per-document differences: what both models find
hard cancels, which is why it is far smaller than the unpaired ``sqrt(se_a^2 + se_b^2)`` shown beside it.
The 95 % interval uses Student's t with n - 1 degrees of freedom (scipy.stats).  The mean over corpora
(the ``compression`` group's number) averages the corpora's values with ``sqrt(sum se^2) / k``, its
interval with Welch-Satterthwaite degrees of freedom.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

LEVEL = 0.95


@dataclass(frozen=True)
class Paired:
    """Two models on the same documents; ``difference`` is A's bpc minus B's (negative: A compresses better)."""

    documents: int
    chars: int
    bpc_a: float
    bpc_b: float
    stderr_a: float
    stderr_b: float
    difference: float
    stderr: float
    low: float
    high: float
    unpaired_stderr: float
    a_better: float
    dof: float

    @property
    def error_ratio(self) -> float | None:
        """How many times smaller the paired error is than the unpaired one (None for a zero paired error)."""
        return self.unpaired_stderr / self.stderr if self.stderr > 0 else None

    def as_dict(self) -> dict:
        return {**asdict(self), "error_ratio": self.error_ratio}


def ratio_stderr(bits: np.ndarray, chars: np.ndarray) -> float:
    """Delta-method standard error of ``sum(bits) / sum(chars)`` over documents (nan for one document)."""
    n = len(bits)
    if n < 2:
        return math.nan
    total = chars.sum()
    ratio = bits.sum() / total
    return math.sqrt(n / (n - 1) * float(np.sum((bits - ratio * chars) ** 2))) / total


def t_interval(centre: float, stderr: float, dof: float) -> tuple[float, float]:
    from scipy import stats

    if not (dof > 0 and math.isfinite(stderr)):
        return math.nan, math.nan
    half = float(stats.t.ppf(0.5 + LEVEL / 2, dof)) * stderr
    return centre - half, centre + half


def paired(bits_a: np.ndarray, bits_b: np.ndarray, chars: np.ndarray) -> Paired:
    """The paired comparison of per-document bits of A and B over documents of ``chars`` characters."""
    bits_a, bits_b = np.asarray(bits_a, dtype=np.float64), np.asarray(bits_b, dtype=np.float64)
    chars = np.asarray(chars, dtype=np.float64)
    total = chars.sum()
    if total <= 0:
        raise ValueError("cannot compare over documents without characters")
    diff = bits_a - bits_b
    difference = diff.sum() / total
    stderr = ratio_stderr(diff, chars)
    se_a, se_b = ratio_stderr(bits_a, chars), ratio_stderr(bits_b, chars)
    dof = float(len(chars) - 1)
    low, high = t_interval(difference, stderr, dof)
    return Paired(
        documents=len(chars),
        chars=int(total),
        bpc_a=float(bits_a.sum() / total),
        bpc_b=float(bits_b.sum() / total),
        stderr_a=se_a,
        stderr_b=se_b,
        difference=float(difference),
        stderr=stderr,
        low=low,
        high=high,
        unpaired_stderr=math.sqrt(se_a**2 + se_b**2),
        a_better=float(np.mean(bits_a < bits_b)),
        dof=dof,
    )


def mean_of(parts: Sequence[Paired]) -> Paired:
    """The unweighted mean over corpora, as the ``compression`` group averages them."""
    k = len(parts)

    def combine(name: str) -> float:
        return math.sqrt(sum(getattr(p, name) ** 2 for p in parts)) / k

    stderr = combine("stderr")
    terms = [(p.stderr / k) ** 4 / p.dof for p in parts if p.dof > 0]
    dof = (stderr**4 / sum(terms)) if terms and len(terms) == k and stderr > 0 else math.nan
    difference = sum(p.difference for p in parts) / k
    low, high = t_interval(difference, stderr, dof)
    return Paired(
        documents=sum(p.documents for p in parts),
        chars=sum(p.chars for p in parts),
        bpc_a=sum(p.bpc_a for p in parts) / k,
        bpc_b=sum(p.bpc_b for p in parts) / k,
        stderr_a=combine("stderr_a"),
        stderr_b=combine("stderr_b"),
        difference=difference,
        stderr=stderr,
        low=low,
        high=high,
        unpaired_stderr=combine("unpaired_stderr"),
        a_better=sum(p.a_better * p.documents for p in parts) / sum(p.documents for p in parts),
        dof=dof,
    )
