"""The correlate report: check that the models can share a line, then fit each area.

Huang et al. (2024), "Compression Represents Intelligence Linearly", found that
across base models the average benchmark score falls almost linearly with
bits-per-character, per area (see :mod:`.areas`).  This gathers each model's bpc
and averaged score per area from its results files and fits them, linear in bpc and
in ln(bpc) (:mod:`.fit`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .areas import Area
from .comparable import check_comparable, check_document_sets, check_tasks
from .fit import CONFIDENCE, AreaFit, ModelPoint, check_model_count, fit_area
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


def _point(models: Sequence[ModelResults], model: ModelResults, area: Area, bpc: tuple[float, float | None]):
    """One model's point of ``area``: its bpc (and error), its benchmark scores and their mean, its files."""
    components = {str(spec): require_metric(model, spec.task, spec.key, str(spec)) for spec in area.scores}
    files = {str(model.source(t).path) for t in bpc_tasks(models, area.bpc_task)}
    files |= {str(model.source(s.task).path) for s in area.scores}
    return ModelPoint(
        label=model.label,
        bpc=bpc[0],
        score=sum(components.values()) / len(components),
        bpc_stderr=bpc[1],
        components=components,
        model_name=model.model_name,
        files=tuple(sorted(files)),
    )


def _fit(models: Sequence[ModelResults], area: Area, confidence: float) -> AreaFit:
    bpc = bpc_values(models, area.bpc_task)
    points = [_point(models, m, area, b) for m, b in zip(models, bpc, strict=True)]
    return fit_area(points, area, confidence)
