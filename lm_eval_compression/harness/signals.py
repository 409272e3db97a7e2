"""A task's membership signals in summary: the distribution of its documents' Min-K% and Min-K%++.

The per-document values are in each response (:mod:`..engine.membership`); the ``compression`` block of the
results gets their mean and 10th, 50th and 90th percentiles, so that corpora (or models) can be compared
without reading the samples.
"""

from __future__ import annotations

import numpy as np

SIGNALS = ("min_k", "min_k_plus_plus")


class SignalSummary:
    """The signals of the documents seen so far."""

    def __init__(self):
        self.k: float | None = None
        self.values: dict[str, list[float]] = {name: [] for name in SIGNALS}

    def add(self, response: dict) -> None:
        if "min_k_fraction" not in response:
            return
        self.k = response["min_k_fraction"]
        for name in SIGNALS:
            if response.get(name) is not None:
                self.values[name].append(float(response[name]))

    def summary(self) -> dict | None:
        """The ``membership`` entry of the results, or ``None`` when the signals were off."""
        if self.k is None:
            return None
        out = {"min_k_fraction": self.k}
        for name, values in self.values.items():
            if not values:
                out[name] = None
                continue
            p10, p50, p90 = np.percentile(values, [10, 50, 90])
            out[name] = {
                "documents": len(values),
                "mean": float(np.mean(values)),
                "p10": float(p10),
                "median": float(p50),
                "p90": float(p90),
            }
        return out
