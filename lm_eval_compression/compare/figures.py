"""The two figures of a comparison (matplotlib, Agg): both models' context-length curves, one panel per
task, and every document's bpc under A against under B with the diagonal."""

from __future__ import annotations

from pathlib import Path

COLOURS = ("#1f77b4", "#d62728")
TASK_MARKERS = ("o", "s", "^", "D", "v", "P")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def context_figure(comparison: dict, path: Path) -> Path:
    """bpc per context-length bucket (log scale), A and B on each task's panel."""
    plt = _pyplot()
    tasks = list(comparison["tasks"])
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for side, colour in zip(("a", "b"), COLOURS):
            buckets = [b for b in comparison["tasks"][task]["context"][side] or [] if b.get("bpc") is not None]
            x = [(b["min_context"] * b["max_context"]) ** 0.5 for b in buckets]
            ax.plot(x, [b["bpc"] for b in buckets], marker="o", ms=3, color=colour, label=comparison[side]["label"])
        ax.set_xscale("log")
        ax.set_xlabel("context length (tokens)")
        ax.set_ylabel("bpc")
        ax.set_title(task, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def scatter_figure(comparison: dict, path: Path) -> Path:
    """Each document's bpc, A on x and B on y; points below the diagonal are documents B does better on."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.8, 4.6))
    values = []
    for task, marker in zip(comparison["tasks"], TASK_MARKERS):
        rows = [r for r in comparison["tasks"][task]["documents"] if r["bpc_a"] is not None]
        xs, ys = [r["bpc_a"] for r in rows], [r["bpc_b"] for r in rows]
        values += xs + ys
        ax.scatter(xs, ys, s=18, marker=marker, alpha=0.75, label=task)
    if values:
        lo, hi = min(values), max(values)
        pad = 0.05 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="grey", lw=1, ls="--")
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel(f"bpc, {comparison['a']['label']}")
    ax.set_ylabel(f"bpc, {comparison['b']['label']}")
    ax.set_title("per document (below the line: B better)", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
