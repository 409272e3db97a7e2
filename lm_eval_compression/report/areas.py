"""What to fit: benchmark metrics (``task/metric[,filter]``) averaged per area against one compression task.

The paper's pairings are presets: knowledge & commonsense against ``compression_cc``,
coding against ``compression_python``, mathematical reasoning against
``compression_arxiv_math``; ``NAME:BPC_TASK=...`` pairs any task or group.
"""

from __future__ import annotations

from dataclasses import dataclass

COMPRESSION_GROUP = "compression"
CORPUS_TASKS = ("compression_cc", "compression_python", "compression_arxiv_math")
AREA_PRESETS = {
    "knowledge": "compression_cc",
    "commonsense": "compression_cc",
    "coding": "compression_python",
    "code": "compression_python",
    "math": "compression_arxiv_math",
    "mathematics": "compression_arxiv_math",
}


@dataclass(frozen=True)
class ScoreSpec:
    """A benchmark metric named ``task/metric`` or ``task/metric,filter`` (filter defaults to ``none``)."""

    task: str
    metric: str
    filter: str = "none"

    @property
    def key(self) -> str:
        """The metric's key in a results file, e.g. ``acc,none``."""
        return f"{self.metric},{self.filter}"

    def __str__(self) -> str:
        return f"{self.task}/{self.metric}" + ("" if self.filter == "none" else f",{self.filter}")

    @classmethod
    def parse(cls, text: str) -> ScoreSpec:
        task, slash, rest = text.strip().partition("/")
        metric, _, filter_name = rest.partition(",")
        if not slash or not task or not metric.strip():
            raise ValueError(f"bad score {text!r}: expected task/metric or task/metric,filter")
        return cls(task.strip(), metric.strip(), filter_name.strip() or "none")


def parse_score_list(text: str) -> tuple[ScoreSpec, ...]:
    """Split ``a/m1,b/m2,filter,c/m3``: an item without ``/`` is the filter of the score before it."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    specs: list[str] = []
    for item in items:
        if "/" in item:
            specs.append(item)
        elif specs and "," not in specs[-1]:
            specs[-1] = f"{specs[-1]},{item}"
        else:
            raise ValueError(f"bad score list {text!r}: {item!r} is neither task/metric nor a filter")
    if not specs:
        raise ValueError(f"bad score list {text!r}: no task/metric")
    return tuple(ScoreSpec.parse(s) for s in specs)


@dataclass(frozen=True)
class Area:
    """Scores (averaged, unweighted) fitted against the bpc of one compression task or group."""

    name: str
    bpc_task: str
    scores: tuple[ScoreSpec, ...]

    @property
    def score_names(self) -> str:
        return ", ".join(str(s) for s in self.scores)

    @classmethod
    def parse(cls, text: str) -> Area:
        """``knowledge=hellaswag/acc_norm,arc_easy/acc`` (preset) or ``NAME:BPC_TASK=task/metric,...``."""
        head, eq, tail = text.partition("=")
        if not eq:
            raise ValueError(f"bad area {text!r}: expected NAME=task/metric[,filter],...")
        name, colon, bpc_task = head.partition(":")
        name, bpc_task = name.strip(), bpc_task.strip()
        if not colon:
            if name.lower() not in AREA_PRESETS:
                presets = ", ".join(sorted(AREA_PRESETS))
                raise ValueError(f"unknown area {name!r}: use one of {presets} or NAME:BPC_TASK=...")
            bpc_task = AREA_PRESETS[name.lower()]
        if not name or not bpc_task:
            raise ValueError(f"bad area {text!r}")
        return cls(name, bpc_task, parse_score_list(tail))
