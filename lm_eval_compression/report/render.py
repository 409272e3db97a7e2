"""Writing fits and leaderboards as markdown tables and CSV files (no plotting, no scipy)."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .forms import FORM_NAMES, FORMS, TERMS

if TYPE_CHECKING:
    from .fit import AreaFit
    from .leaderboard import Leaderboard
    from .line import Line
    from .predict import Prediction

POINT_COLUMNS = ("predicted", "residual", "loo_predicted", "loo_error")  # per model and form
LINE_COLUMNS = (  # per area and form
    "intercept",
    "slope",
    "intercept_stderr",
    "slope_stderr",
    "r_squared",
    "residual_sd",
    "loo_rmse",
    "loo_mae",
)


def fmt(value, digits: int = 4) -> str:
    """``value`` with ``digits`` decimals; 'n/a' for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def fmt_signed(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:+.{digits}f}"


def fmt_p(value: float) -> str:
    """'p = 0.012', 'p = 3.0e-07', 'p < 1e-300' (a perfect rank order gives p = 0)."""
    if math.isnan(value):
        return "p = n/a"
    if value < 1e-300:
        return "p < 1e-300"
    return f"p = {value:.2g}" if value >= 1e-4 else f"p = {value:.1e}"


def _table_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _equation(line: Line) -> str:
    """'score = 1.8322 - 1.8936 × bpc (se 0.0803, 0.1184)', with ln(bpc) for the log form."""
    sign = "-" if line.slope < 0 else "+"
    return (
        f"score = {line.intercept:.4f} {sign} {abs(line.slope):.4f} × {TERMS[line.form]} "
        f"(se {line.intercept_stderr:.4f}, {line.slope_stderr:.4f})"
    )


def _fit_table(fit: AreaFit) -> list[str]:
    """The area's table: one row per model, by bpc, with each form's prediction and leave-one-out error."""
    area = fit.area
    several = len(area.scores) > 1
    has_se = any(r.bpc_stderr is not None for r in fit.rows)
    head = ["Model", f"BPC ({area.bpc_task})"] + (["± se"] if has_se else [])
    head += [str(spec) for spec in area.scores] if several else []
    head += ["Score" + (" (mean)" if several else f" ({area.scores[0]})")]
    head += [f"{FORM_NAMES[form]}: {what}" for form in FORMS for what in ("predicted", "LOO error")]
    lines = [_table_row(head), _table_row([":---"] + ["---:"] * (len(head) - 1))]
    for row in fit.rows:
        cells = [row.label, fmt(row.bpc)] + ([fmt(row.bpc_stderr)] if has_se else [])
        cells += [fmt(row.components.get(str(spec))) for spec in area.scores] if several else []
        cells.append(fmt(row.score))
        for form in FORMS:
            cells += [fmt(row.forms[form].predicted), fmt_signed(row.forms[form].loo_error)]
        lines.append(_table_row(cells))
    return lines


def _fit_summary(fit: AreaFit) -> list[str]:
    s, pct = fit.stats, f"{fit.stats.confidence * 100:g} %"
    lines = [
        f"- models: {s.n}",
        f"- Pearson r = {s.pearson_r:.3f} ({pct} CI {fmt(s.pearson_ci_low, 3)} to {fmt(s.pearson_ci_high, 3)}), "
        f"{fmt_p(s.pearson_p)}",
        f"- Spearman rho = {s.spearman_rho:.3f}, {fmt_p(s.spearman_p)} (scipy's t approximation, rough for few models)",
    ]
    for form in FORMS:
        line = fit.lines[form]
        lines.append(
            f"- {form}: {_equation(line)}, R² = {line.r_squared:.3f}; "
            f"leave-one-out RMSE = {fmt(line.loo_rmse)}, MAE = {fmt(line.loo_mae)}"
        )
    best = fit.better_form
    other = next(form for form in FORMS if form != best)
    lines.append(
        f"- lower leave-one-out error: {best} (RMSE {fmt(fit.lines[best].loo_rmse)} against "
        f"{fmt(fit.lines[other].loo_rmse)} for {other})"
    )
    return lines


def fit_markdown(fit: AreaFit) -> str:
    """Markdown table (models by bpc) and statistics of one area."""
    lines = [f"### {fit.area.name}: {fit.area.bpc_task} vs {fit.area.score_names}", "", *_fit_table(fit), ""]
    lines += _fit_summary(fit)
    lines += [
        "",
        "Predicted is the score of each form's fit on all models; LOO error is the score minus the prediction "
        "of that form fitted without the model.",
    ]
    return "\n".join(lines) + "\n"


def fits_markdown(fits: Sequence[AreaFit]) -> str:
    return "\n".join(fit_markdown(f) for f in fits)


def _write_csv(path: str | Path, columns: Sequence[str], rows) -> Path:
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def _fit_rows(fits: Sequence[AreaFit], specs: Sequence[str]):
    for fit in fits:
        for r in fit.rows:
            per_form = [getattr(r.forms[form], name) for form in FORMS for name in POINT_COLUMNS]
            yield (
                [fit.area.name, fit.area.bpc_task, fit.area.score_names, r.label, r.model_name, r.bpc]
                + ["" if r.bpc_stderr is None else r.bpc_stderr, r.score]
                + per_form
                + [r.components.get(s, "") for s in specs]
                + [";".join(r.files)]
            )


def write_fit_csv(fits: Sequence[AreaFit], path: str | Path) -> Path:
    """One row per model and area: bpc, score, each form's prediction, residual and leave-one-out error,
    and each benchmark's score as its own column."""
    specs: list[str] = []
    for fit in fits:
        specs += [str(spec) for spec in fit.area.scores if str(spec) not in specs]
    columns = ["area", "bpc_task", "scores", "model", "model_name", "bpc", "bpc_stderr", "score"]
    columns += [f"{form}_{name}" for form in FORMS for name in POINT_COLUMNS]
    return _write_csv(path, columns + specs + ["files"], _fit_rows(fits, specs))


def write_stats_csv(fits: Sequence[AreaFit], path: str | Path) -> Path:
    """One row of statistics per area: the correlations, each form's line and leave-one-out errors."""
    names = [f.name for f in dataclasses.fields(fits[0].stats)] if fits else []
    columns = ["area", "bpc_task", "scores", *names]
    columns += [f"{form}_{name}" for form in FORMS for name in LINE_COLUMNS]
    columns += ["better_form", "bpc_min", "bpc_max"]
    rows = (
        [fit.area.name, fit.area.bpc_task, fit.area.score_names]
        + [getattr(fit.stats, n) for n in names]
        + [getattr(fit.lines[form], name) for form in FORMS for name in LINE_COLUMNS]
        + [fit.better_form, *fit.bpc_range]
        for fit in fits
    )
    return _write_csv(path, columns, rows)


def _prediction_table(predictions: Sequence[Prediction]) -> list[str]:
    fit = predictions[0].fit
    pct = f"{fit.stats.confidence * 100:g} %"
    has_se = any(p.bpc_stderr is not None for p in predictions)
    head = ["Model", f"BPC ({fit.area.bpc_task})"] + (["± se"] if has_se else [])
    head += [f"{FORM_NAMES[form]}: {what}" for form in FORMS for what in ("predicted", f"{pct} interval")]
    lines = [_table_row(head + ["Fitted BPC range"]), _table_row([":---"] + ["---:"] * (len(head) - 1) + [":---"])]
    for p in predictions:
        cells = [p.label, fmt(p.bpc)] + ([fmt(p.bpc_stderr)] if has_se else [])
        for form in FORMS:
            guess = p.forms[form]
            cells += [fmt(guess.predicted), f"{fmt(guess.low)} to {fmt(guess.high)}"]
        cells.append(f"**extrapolation** ({p.position})" if p.extrapolation else "within")
        lines.append(_table_row(cells))
    return lines


def predictions_markdown(predictions: Sequence[Prediction]) -> str:
    """One table per area: each model's bpc, each form's predicted score and prediction interval, and
    whether the bpc lies outside the fitted range (an extrapolation)."""
    by_area: dict[str, list[Prediction]] = {}
    for p in predictions:
        by_area.setdefault(p.area.name, []).append(p)
    blocks = []
    for group in by_area.values():
        fit = group[0].fit
        low, high = fit.bpc_range
        lines = [f"### {fit.area.name}: predicted {fit.area.score_names}", ""]
        lines += _prediction_table(group)
        lines += [
            "",
            f"- fitted on {fit.stats.n} models with bpc from {fmt(low)} to {fmt(high)}; outside that range a "
            "prediction is an extrapolation of the fitted form",
            f"- the interval is the {fit.stats.confidence * 100:g} % prediction interval of one model's score "
            f"(t distribution, {fit.stats.n - 2} degrees of freedom)",
            f"- lower leave-one-out error on the fitted models: {fit.better_form}",
        ]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def write_predictions_csv(predictions: Sequence[Prediction], path: str | Path) -> Path:
    """One row per model and area: bpc, the fitted range, each form's prediction and interval."""
    columns = ["area", "bpc_task", "scores", "model", "model_name", "bpc", "bpc_stderr"]
    columns += ["fitted_models", "fitted_bpc_min", "fitted_bpc_max", "position", "extrapolation", "confidence"]
    columns += [f"{form}_{name}" for form in FORMS for name in ("predicted", "interval_low", "interval_high")]
    columns += ["better_form", "files"]
    rows = (
        [p.area.name, p.area.bpc_task, p.area.score_names, p.label, p.model_name, p.bpc]
        + ["" if p.bpc_stderr is None else p.bpc_stderr, p.fit.stats.n, *p.fit.bpc_range]
        + [p.position, p.extrapolation, p.fit.stats.confidence]
        + [getattr(p.forms[form], name) for form in FORMS for name in ("predicted", "low", "high")]
        + [p.fit.better_form, ";".join(p.files)]
        for p in predictions
    )
    return _write_csv(path, columns, rows)


def _json_number(value: float | None) -> float | None:
    """JSON has no NaN: a value that is not finite is written as null."""
    return value if value is None or math.isfinite(value) else None


def prediction_record(prediction: Prediction) -> dict:
    """A prediction as plain values for JSON: the model, the area, the fitted range, each form's interval."""
    fit = prediction.fit
    return {
        "model": prediction.label,
        "model_name": prediction.model_name,
        "area": prediction.area.name,
        "bpc_task": prediction.area.bpc_task,
        "scores": [str(spec) for spec in prediction.area.scores],
        "bpc": prediction.bpc,
        "bpc_stderr": prediction.bpc_stderr,
        "fitted_models": fit.stats.n,
        "fitted_bpc_min": fit.bpc_range[0],
        "fitted_bpc_max": fit.bpc_range[1],
        "position": prediction.position,
        "extrapolation": prediction.extrapolation,
        "confidence": fit.stats.confidence,
        "better_form": fit.better_form,
        "forms": {
            form: {
                "predicted": p.predicted,
                "interval_low": p.low,
                "interval_high": p.high,
                "loo_rmse": _json_number(fit.lines[form].loo_rmse),
            }
            for form, p in prediction.forms.items()
        },
        "files": list(prediction.files),
    }


def write_predictions_json(predictions: Sequence[Prediction], path: str | Path) -> Path:
    """``{"predictions": [...]}``, one :func:`prediction_record` per model and area."""
    path = Path(path)
    records = [prediction_record(p) for p in predictions]
    path.write_text(json.dumps({"predictions": records}, indent=2) + "\n", encoding="utf-8")
    return path


def leaderboard_markdown(board: Leaderboard) -> str:
    head = ["Model"] + [board.column(t) for t in board.tasks] + ["Average"]
    lines = [_table_row(head), _table_row([":---"] + ["---:"] * (len(head) - 1))]
    for row in board.rows:
        lines.append(_table_row([row.label] + [fmt(row.bpc[t]) for t in board.tasks] + [fmt(row.mean)]))
    note = "the unweighted mean of the columns"
    if board.mean_source == "group":
        note += " (equal to the compression group's value in the results files)"
    lines += ["", f"BPC, lower is better; Average is {note}."]
    return "\n".join(lines) + "\n"


def write_leaderboard_csv(board: Leaderboard, path: str | Path) -> Path:
    columns = ["model", "model_name"] + [board.column(t) for t in board.tasks] + ["average"]
    rows = ([row.label, row.model_name] + [row.bpc[t] for t in board.tasks] + [row.mean] for row in board.rows)
    return _write_csv(path, columns, rows)
