"""Membership signals per document: Min-K% (Shi et al., 2023) and Min-K%++ (Zhang et al., 2024).

Min-K% is the mean of the lowest ``k`` fraction of a document's token log-probabilities; Min-K%++ the mean of
the lowest ``k`` fraction of the per-token scores ``(log p(x_t) - mu_t) / sigma_t``, where ``mu_t`` and
``sigma_t`` are the mean and standard deviation of ``log p`` under the predicted distribution ``p`` at that
position.  A document's count of scored tokens ``n`` is known from the plan, so only its lowest
``m = max(1, floor(k * n))`` values of each kind are kept as scoring goes (about ``2 k`` float32 values per
scored token on the host), merged at every flush.  The scorers hand values over on the device; they are
read back only when the scorer syncs anyway (checkpoints and the end of a task).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

DEFAULT_K = 0.2
# Scored positions whose values may wait on the device before they are read back (12 bytes each).
FLUSH_POSITIONS = 1 << 22


def moments(logp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of ``log p`` under ``p`` for each row of float32 log-probabilities."""
    p = logp.exp()
    mu = (p * logp).sum(-1)
    centered = logp - mu[:, None]
    var = (p * centered.square_()).sum(-1)
    return mu, var.clamp_min_(0).sqrt_()


@dataclass(frozen=True)
class Signals:
    """One document's signals (``None`` where not computed)."""

    min_k: float | None
    min_k_plus_plus: float | None

    def fields(self, k: float) -> dict:
        return {"min_k_fraction": k, "min_k": self.min_k, "min_k_plus_plus": self.min_k_plus_plus}


def lowest(kept: np.ndarray | None, new: np.ndarray, m: int) -> np.ndarray:
    """The ``m`` lowest of ``kept`` and ``new`` together (unordered)."""
    values = new if kept is None else np.concatenate([kept, new])
    return np.partition(values, m - 1)[:m] if len(values) > m else values


class MembershipCollector:
    """Keeps each request's lowest ``k`` fraction of log-probabilities and of Min-K%++ scores."""

    def __init__(self, scored_tokens: np.ndarray, k: float = DEFAULT_K, with_plus_plus: bool = True):
        self.k = k
        self.keep = np.maximum(1, np.floor(k * np.asarray(scored_tokens)).astype(np.int64))
        self.with_plus_plus = with_plus_plus
        self.logprobs: dict[int, np.ndarray] = {}
        self.scores: dict[int, np.ndarray] = {}
        self.pending: list[tuple] = []
        self.incomplete = False  # some windows were scored by an earlier run whose values are gone

    def add(self, owners: torch.Tensor, logprobs: torch.Tensor, scores: torch.Tensor | None) -> None:
        """Values of scored positions, on the device; read back at the next :meth:`flush` (or now, when
        many are waiting)."""
        self.pending.append((owners.to(torch.int32), logprobs, scores))
        if sum(o.numel() for o, _, _ in self.pending) >= FLUSH_POSITIONS:
            self.flush()

    def flush(self) -> None:
        """Read the pending values back and keep each request's lowest ones."""
        if not self.pending:
            return
        owners = torch.cat([o for o, _, _ in self.pending]).cpu().numpy()
        logprobs = torch.cat([lp for _, lp, _ in self.pending]).float().cpu().numpy()
        scores = None
        if self.with_plus_plus:
            scores = torch.cat([s for _, _, s in self.pending]).float().cpu().numpy()
        self.pending = []
        order = np.argsort(owners, kind="stable")
        cuts = np.flatnonzero(np.diff(owners[order])) + 1
        for part in np.split(order, cuts):
            owner = int(owners[part[0]])
            m = int(self.keep[owner])
            self.logprobs[owner] = lowest(self.logprobs.get(owner), logprobs[part], m)
            if scores is not None:
                self.scores[owner] = lowest(self.scores.get(owner), scores[part], m)

    def signals(self, owner: int) -> Signals:
        """Min-K% and Min-K%++ of request ``owner`` (``None`` when it has no values or lost some)."""
        if self.incomplete or owner not in self.logprobs:
            return Signals(None, None)
        plus = self.scores.get(owner)
        return Signals(
            float(np.mean(self.logprobs[owner], dtype=np.float64)),
            None if plus is None else float(np.mean(plus, dtype=np.float64)),
        )
