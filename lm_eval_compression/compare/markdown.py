"""The comparison's summary as markdown: what ``compare`` prints and writes as ``compare.md``."""

from __future__ import annotations

import math


def shown(value, template: str) -> str:
    """``value`` formatted by ``template``, or ``n/a`` for a missing or non-finite number."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return template.format(value)


def row(name: str, p: dict) -> str:
    return (
        f"| {name} | {p['documents']} | {shown(p['bpc_a'], '{:.4f}')} | {shown(p['bpc_b'], '{:.4f}')} "
        f"| {shown(p['difference'], '{:+.4f}')} ± {shown(p['stderr'], '{:.4f}')} "
        f"| [{shown(p['low'], '{:+.4f}')}, {shown(p['high'], '{:+.4f}')}] | {shown(p['unpaired_stderr'], '{:.4f}')} "
        f"| {shown(p['error_ratio'], '{:.1f}')} | {shown(p['a_better'], '{:.0%}')} |"
    )


HEADER = (
    "| {what} | documents | bpc A | bpc B | A − B ± paired se | 95 % interval | unpaired se | unpaired / paired "
    "| A better on |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def summary(comparison: dict) -> str:
    a, b = comparison["a"], comparison["b"]
    lines = [f"# {a['label']} (A) vs {b['label']} (B)", "", HEADER.format(what="task")]
    lines += [row(task, entry["paired"]) for task, entry in comparison["tasks"].items()]
    if comparison.get("mean"):
        lines.append(row("**mean**", comparison["mean"]))
    for task, entry in comparison["tasks"].items():
        if entry.get("groups"):
            lines += ["", f"## {task} by {entry['group_by']}", "", HEADER.format(what=entry["group_by"])]
            lines += [row(value, p) for value, p in entry["groups"].items()]
    for key, text in (("only_in_a", a["label"]), ("only_in_b", b["label"])):
        if comparison.get(key):
            lines += ["", f"Only in {text} (not compared): {', '.join(comparison[key])}"]
    lines += ["", f"A − B < 0: A compresses better. {comparison['method']['stderr']}.", ""]
    return "\n".join(lines)
