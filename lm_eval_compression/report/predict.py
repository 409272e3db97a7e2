"""Predicted scores of models outside the fit: each model's bpc placed on every area's lines.

A model to predict needs only the area's compression task (or the group's corpora),
computed with the same settings on the same documents as the fitted models; its
benchmark scores are not read.  Each form gives the predicted score and the
prediction interval of one model's score (:meth:`.line.Line.prediction_interval`).
A bpc outside the fitted models' range is an extrapolation, and is marked so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .areas import Area
from .comparable import check_comparable, check_document_sets
from .fit import AreaFit
from .forms import FORMS
from .results import ModelResults, ResultsError
from .values import bpc_tasks, bpc_values, require_bpc


@dataclass(frozen=True)
class FormPrediction:
    """The score one form predicts, and its prediction interval (``low``, ``high``)."""

    predicted: float
    low: float
    high: float


@dataclass(frozen=True)
class Prediction:
    """One model's predicted score in one area, under each form (``forms['linear']``, ``forms['log']``)."""

    label: str
    model_name: str
    files: tuple[str, ...]
    area: Area
    bpc: float
    bpc_stderr: float | None
    forms: Mapping[str, FormPrediction]
    fit: AreaFit = field(repr=False, compare=False)

    @property
    def position(self) -> str:
        """'below', 'within' or 'above' the fitted models' bpc range."""
        low, high = self.fit.bpc_range
        return "below" if self.bpc < low else "above" if self.bpc > high else "within"

    @property
    def extrapolation(self) -> bool:
        """True when the bpc lies outside the fitted models' range."""
        return self.position != "within"


def _check_inputs(fits: Sequence[AreaFit], fitted: Sequence[ModelResults], targets: Sequence[ModelResults]):
    """Refuse a results file both fitted and predicted, a missing or unusable bpc, and other settings."""
    fitted_files = {f.path.resolve(): f.path for m in fitted for f in m.files}
    both = [str(f.path) for m in targets for f in m.files if f.path.resolve() in fitted_files]
    if both:
        raise ResultsError(
            f"--predict: {', '.join(both)} is also among the fitted results; "
            "pass the results of the models to predict apart from those of the fitted models"
        )
    tasks = sorted({t for fit in fits for t in bpc_tasks(fitted, fit.area.bpc_task)})
    for fit in fits:
        for model in targets:
            for task in bpc_tasks(fitted, fit.area.bpc_task):
                require_bpc(model, task, f"the prediction of area {fit.area.name!r}")
        check_document_sets(targets, bpc_tasks(fitted, fit.area.bpc_task), f"the bpc of {fit.area.bpc_task}")
    check_comparable([*fitted, *targets], tasks)


def _prediction(fit: AreaFit, model: ModelResults, bpc: tuple[float, float | None], files: tuple[str, ...]):
    value, stderr = bpc
    if not value > 0:
        raise ResultsError(
            f"--predict: model {model.label!r} has bpc {value:g} for {fit.area.bpc_task} ({', '.join(files)}); "
            "the log fit needs bits per character above zero"
        )
    forms = {}
    for form in FORMS:
        low, high = fit.prediction_interval(value, form=form)
        forms[form] = FormPrediction(float(fit.predict(value, form)), float(low), float(high))
    return Prediction(model.label, model.model_name, files, fit.area, value, stderr, forms, fit)


def predict_scores(
    fits: Sequence[AreaFit], fitted: Sequence[ModelResults], targets: Sequence[ModelResults]
) -> list[Prediction]:
    """Each target model's predicted score per area (in the order of ``fits``, then by bpc).

    ``fitted`` are the models the fits were made from; the targets' compression tasks must match theirs.
    """
    if not targets:
        raise ResultsError("--predict: no models to predict")
    _check_inputs(fits, fitted, targets)
    predictions = []
    for fit in fits:
        tasks = bpc_tasks(fitted, fit.area.bpc_task)
        area = []
        for model, bpc in zip(targets, bpc_values(targets, fit.area.bpc_task), strict=True):
            files = tuple(sorted({str(model.source(t).path) for t in tasks}))
            area.append(_prediction(fit, model, bpc, files))
        predictions += sorted(area, key=lambda p: (p.bpc, p.label))
    return predictions
