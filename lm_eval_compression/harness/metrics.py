"""Corpus-level compression metrics: bits per character and per UTF-8 byte.

Each document contributes ``(loglikelihood_nats, units)``; the corpus value is
total bits over total units (not a mean of per-document ratios).  Standard
errors use the delta method for a ratio of sums, treating documents as the
sampling unit.
"""

from __future__ import annotations

import math

LN2 = math.log(2.0)


def bits_per_unit(items) -> float:
    """-(sum of log-likelihoods in nats) / (sum of units) / ln 2."""
    nats = math.fsum(ll for ll, _ in items)
    units = sum(n for _, n in items)
    if units <= 0:
        raise ValueError("cannot compute bits per unit over zero characters/bytes")
    return -nats / units / LN2


def bits_per_unit_stderr(items) -> float:
    """Delta-method standard error of the ratio estimator over documents."""
    items = list(items)
    n = len(items)
    if n < 2:
        return float("nan")
    units = sum(u for _, u in items)
    ratio = bits_per_unit(items)
    resid = math.fsum((-ll / LN2 - ratio * u) ** 2 for ll, u in items)
    return math.sqrt(n / (n - 1) * resid) / units


def bpc(items) -> float:
    return bits_per_unit(items)


def bpb(items) -> float:
    return bits_per_unit(items)


def total(items) -> float:
    return math.fsum(items)


# The plugin's aggregations carry MARK, by which the hooks (lm_eval_compression.harness.hooks) recognise
# them, and their standard error as ``stderr`` (none for the totals).
MARK = "_lm_eval_compression_metric"
bpc.stderr = bits_per_unit_stderr
bpb.stderr = bits_per_unit_stderr
for _aggregation in (bpc, bpb, total):
    setattr(_aggregation, MARK, True)


def process_results(doc, results) -> dict:
    """Per-document metric inputs from the scorer's response."""
    (resp,) = results
    ll = resp["loglikelihood"]
    return {
        "bpc": (ll, resp["chars"]),
        "bpb": (ll, resp["bytes"]),
        "total_nats": -ll,
        "total_chars": resp["chars"],
        "total_bytes": resp["bytes"],
        "scored_tokens": resp["tokens"],
    }


METRIC_LIST = [
    {"metric": "bpc", "aggregation": bpc, "higher_is_better": False},
    {"metric": "bpb", "aggregation": bpb, "higher_is_better": False},
    {"metric": "total_nats", "aggregation": total, "higher_is_better": False},
    {"metric": "total_chars", "aggregation": total, "higher_is_better": True},
    {"metric": "total_bytes", "aggregation": total, "higher_is_better": True},
    {"metric": "scored_tokens", "aggregation": total, "higher_is_better": True},
]
