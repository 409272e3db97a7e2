"""Writing fits and leaderboards as markdown tables and CSV files (no plotting, no scipy)."""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .fit import AreaFit
    from .leaderboard import Leaderboard


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


def fit_markdown(fit: AreaFit) -> str:
    """Markdown table (models by bpc) and statistics of one area."""
    area, s = fit.area, fit.stats
    several = len(area.scores) > 1
    has_se = any(r.bpc_stderr is not None for r in fit.rows)
    head = ["Model", f"BPC ({area.bpc_task})"] + (["± se"] if has_se else [])
    head += [str(spec) for spec in area.scores] if several else []
    head += ["Score" + (" (mean)" if several else f" ({area.scores[0]})"), "Predicted", "Residual", "LOO error"]
    lines = [
        f"### {area.name}: {area.bpc_task} vs {area.score_names}",
        "",
        _table_row(head),
        _table_row([":---"] + ["---:"] * (len(head) - 1)),
    ]
    for row in fit.rows:
        cells = [row.label, fmt(row.bpc)] + ([fmt(row.bpc_stderr)] if has_se else [])
        cells += [fmt(row.components.get(str(spec))) for spec in area.scores] if several else []
        cells += [fmt(row.score), fmt(row.predicted), fmt_signed(row.residual), fmt_signed(row.loo_error)]
        lines.append(_table_row(cells))
    pct = f"{s.confidence * 100:g} %"
    lines += [
        "",
        f"- models: {s.n}",
        f"- Pearson r = {s.pearson_r:.3f} ({pct} CI {fmt(s.pearson_ci_low, 3)} to {fmt(s.pearson_ci_high, 3)}), "
        f"{fmt_p(s.pearson_p)}",
        f"- Spearman rho = {s.spearman_rho:.3f}, {fmt_p(s.spearman_p)} (scipy's t approximation, rough for few models)",
        f"- least squares: score = {s.intercept:.4f} {'-' if s.slope < 0 else '+'} {abs(s.slope):.4f} × bpc "
        f"(se {s.intercept_stderr:.4f}, {s.slope_stderr:.4f}), R² = {s.r_squared:.3f}",
        f"- leave-one-out prediction error: RMSE = {fmt(s.loo_rmse)}, MAE = {fmt(s.loo_mae)}",
        "",
        "Residual and LOO error are score minus prediction (of the fit on all models, "
        "and of the fit without that model).",
    ]
    return "\n".join(lines) + "\n"


def fits_markdown(fits: Sequence[AreaFit]) -> str:
    return "\n".join(fit_markdown(f) for f in fits)


def write_fit_csv(fits: Sequence[AreaFit], path: str | Path) -> Path:
    """One row per model and area, with each benchmark's score as its own column."""
    path = Path(path)
    specs: list[str] = []
    for fit in fits:
        for spec in fit.area.scores:
            if str(spec) not in specs:
                specs.append(str(spec))
    columns = (
        [
            "area",
            "bpc_task",
            "scores",
            "model",
            "model_name",
            "bpc",
            "bpc_stderr",
            "score",
            "predicted",
            "residual",
            "loo_predicted",
            "loo_error",
        ]
        + specs
        + ["files"]
    )
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for fit in fits:
            for r in fit.rows:
                writer.writerow(
                    [
                        fit.area.name,
                        fit.area.bpc_task,
                        fit.area.score_names,
                        r.label,
                        r.model_name,
                        r.bpc,
                        "" if r.bpc_stderr is None else r.bpc_stderr,
                        r.score,
                        r.predicted,
                        r.residual,
                        r.loo_predicted,
                        r.loo_error,
                    ]
                    + [r.components.get(s, "") for s in specs]
                    + [";".join(r.files)]
                )
    return path


def write_stats_csv(fits: Sequence[AreaFit], path: str | Path) -> Path:
    """One row of statistics per area."""
    path = Path(path)
    names = [f.name for f in dataclasses.fields(fits[0].stats)] if fits else []
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["area", "bpc_task", "scores"] + names)
        for fit in fits:
            writer.writerow(
                [fit.area.name, fit.area.bpc_task, fit.area.score_names] + [getattr(fit.stats, n) for n in names]
            )
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
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["model", "model_name"] + [board.column(t) for t in board.tasks] + ["average"])
        for row in board.rows:
            writer.writerow([row.label, row.model_name] + [row.bpc[t] for t in board.tasks] + [row.mean])
    return path
