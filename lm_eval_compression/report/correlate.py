"""The correlate report: check that the models can share a line, then fit each area.

Huang et al. (2024), "Compression Represents Intelligence Linearly", found that
across base models the average benchmark score falls almost linearly with
bits-per-character, per area (see :mod:`.areas`).  This gathers each model's bpc
and averaged score per area from its results files and fits them (:mod:`.fit`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .areas import Area
from .comparable import check_comparable, check_document_sets, check_tasks
from .fit import CONFIDENCE, AreaFit, check_model_count, fit_area
from .results import ModelResults, ResultsError, as_models
from .values import bpc_tasks, bpc_values, require_metric


def correlate(
    models: Sequence[ModelResults] | Iterable[str | Path],
    areas: Area | Sequence[Area],
    *,
    labels: Mapping[str, str] | None = None,
    confidence: float = CONFIDENCE,
) -> list[AreaFit]:
    """Check comparability, then fit each area; ``models`` may also be results paths."""
    models = as_models(models, labels)
    areas = [areas] if isinstance(areas, Area) else list(areas)
    if not areas:
        raise ResultsError("nothing to correlate: name an --area or --score")
    check_model_count([f"{m.label} ({m.file_list()})" for m in models])
    check_tasks(models, areas)
    check_comparable(models, sorted({t for a in areas for t in bpc_tasks(models, a.bpc_task)}))
    for area in areas:
        check_document_sets(models, bpc_tasks(models, area.bpc_task), f"the bpc of {area.bpc_task}")
    return [_fit(models, area, confidence) for area in areas]


def _fit(models: Sequence[ModelResults], area: Area, confidence: float) -> AreaFit:
    bpc = bpc_values(models, area.bpc_task)
    components = [
        {str(spec): require_metric(m, spec.task, spec.key, str(spec)) for spec in area.scores} for m in models
    ]
    files = [
        sorted(
            {str(m.source(t).path) for t in bpc_tasks(models, area.bpc_task)}
            | {str(m.source(s.task).path) for s in area.scores}
        )
        for m in models
    ]
    return fit_area(
        [m.label for m in models],
        [b for b, _ in bpc],
        [sum(c.values()) / len(c) for c in components],
        area,
        bpc_stderr=[e for _, e in bpc],
        components=components,
        model_names=[m.model_name for m in models],
        files=files,
        confidence=confidence,
    )
