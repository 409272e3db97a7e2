"""Plotting the fits: one panel per area with the models, both forms' fits, their bands, and predictions.

The only module of the report that imports matplotlib.  It draws on an Agg
canvas of its own (no pyplot figure), so the caller's backend is untouched.
Model labels are placed by :mod:`.label_layout` so that close points stay
readable; a title lists the area's benchmarks on as many lines as needed, up to
:data:`TITLE_LINES`, then says how many more there are.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from .fit import AreaFit
from .forms import FORMS
from .label_layout import place_labels
from .predict import Prediction
from .render import fmt

# each panel is PANEL_SIZE inches at PLOT_DPI
PANEL_SIZE = (6.0, 5.5)
PLOT_DPI = 120
FONT_SIZE = 9
LABEL_SIZE = 7
TITLE_LINES = 4  # the area's name and up to three lines of benchmarks
TITLE_WIDTH = 0.8  # of the panel's width: about the width of its axes
MARKER_SIZE = 4  # points
LEADER_MIN = 6  # pixels between a label and its point from which a line joins them
LABEL_GID = "model-label"
FORM_STYLES = {"linear": {"color": "tab:blue", "linestyle": "-"}, "log": {"color": "tab:orange", "linestyle": "--"}}
TITLE_GID = "area-title"


def title_lines(name: str, items: Sequence[str], fits_width, max_lines: int = TITLE_LINES) -> list[str]:
    """``name``, then ``items`` joined by ', ' on lines that ``fits_width(line)`` accepts.

    An item too long for a line is cut with an ellipsis; items that do not fit in
    ``max_lines`` are summarised as '+ N more'.
    """
    lines = [name]
    current = ""
    for index, item in enumerate(items):
        while not fits_width(item + ",") and len(item) > 4:
            item = item[:-2] + "…"
        candidate = f"{current}, {item}" if current else item
        if not current or fits_width(candidate + ","):
            current = candidate
            continue
        if len(lines) + 1 >= max_lines:  # no room for another line: close this one with a count
            rest = len(items) - index
            while current and not fits_width(f"{current}, + {rest} more"):
                current = current.rpartition(", ")[0]
                rest += 1
            current = f"{current}, + {rest} more" if current else f"+ {rest} more"
            break
        lines.append(current + ",")
        current = item
    if current:
        lines.append(current)
    return lines


def _text_fits(renderer, max_width: float, size: float):
    prop = FontProperties(size=size)

    def fits(text: str) -> bool:
        width, _, _ = renderer.get_text_width_height_descent(text, prop, ismath=False)
        return width <= max_width

    return fits


def _draw_form(ax, fit: AreaFit, form: str, grid: np.ndarray) -> None:
    """One form's line (solid over the fitted bpc range, dotted beyond it) and its confidence band."""
    line, style = fit.lines[form], FORM_STYLES[form]
    low, high = fit.confidence_band(grid, form=form)
    band = f"{fit.stats.confidence * 100:g}% confidence bands of the fits" if form == FORMS[0] else None
    ax.fill_between(grid, low, high, color=style["color"], alpha=0.12, linewidth=0, label=band)
    lo, hi = fit.bpc_range
    inside = (grid >= lo) & (grid <= hi)
    best = " (lower LOO error)" if form == fit.better_form else ""
    label = f"{form}: R² = {line.r_squared:.2f}, LOO RMSE = {fmt(line.loo_rmse)}{best}"
    ax.plot(grid, fit.predict(grid, form), color=style["color"], linestyle=":", linewidth=1.0)
    ax.plot(grid[inside], fit.predict(grid[inside], form), linewidth=1.5, label=label, **style)


def _draw_predictions(ax, fit: AreaFit, predictions: Sequence[Prediction]) -> None:
    """Models to predict: at the better form's prediction, with its prediction interval."""
    if not predictions:
        return
    form = fit.better_form
    x = np.array([p.bpc for p in predictions])
    y = np.array([p.forms[form].predicted for p in predictions])
    half = np.array([p.forms[form].high - p.forms[form].predicted for p in predictions])
    ax.errorbar(
        x,
        y,
        yerr=half,
        fmt="D",
        markerfacecolor="white",
        color=FORM_STYLES[form]["color"],
        markersize=MARKER_SIZE + 1,
        elinewidth=0.8,
        capsize=3,
        label=f"predicted by the {form} fit, {fit.stats.confidence * 100:g}% prediction interval",
    )


def _draw_panel(ax, fit: AreaFit, predictions: Sequence[Prediction], renderer, title_width: float) -> None:
    x = np.array([r.bpc for r in fit.rows])
    y = np.array([r.score for r in fit.rows])
    all_x = np.concatenate([x, [p.bpc for p in predictions]])
    span = all_x.max() - all_x.min() or 1.0
    grid = np.linspace(all_x.min() - 0.06 * span, all_x.max() + 0.06 * span, 300)
    grid = grid[grid > 0]  # the log form needs bpc above zero
    for form in FORMS:
        _draw_form(ax, fit, form, grid)
    s = fit.stats
    xerr = [r.bpc_stderr or 0.0 for r in fit.rows]
    ax.errorbar(
        x,
        y,
        xerr=xerr if any(xerr) else None,
        fmt="o",
        color="tab:red",
        markersize=MARKER_SIZE,
        elinewidth=0.8,
        label=f"models (n = {s.n}), r = {s.pearson_r:.3f} [{fmt(s.pearson_ci_low, 2)}, {fmt(s.pearson_ci_high, 2)}]",
    )
    _draw_predictions(ax, fit, predictions)
    ax.set_xlabel(f"bits per character ({fit.area.bpc_task})")
    ax.set_ylabel("score" if len(fit.area.scores) == 1 else "average score")
    lines = title_lines(
        fit.area.name, [str(spec) for spec in fit.area.scores], _text_fits(renderer, title_width, FONT_SIZE)
    )
    ax.set_title("\n".join(lines), fontsize=FONT_SIZE, gid=TITLE_GID)
    ax.grid(True, alpha=0.3)
    shown_y = np.concatenate([y] + [[p.forms[fit.better_form].low, p.forms[fit.better_form].high] for p in predictions])
    yspan = shown_y.max() - shown_y.min() or 1.0
    ax.set_xlim(all_x.min() - 0.12 * span, all_x.max() + 0.12 * span)
    ax.set_ylim(shown_y.min() - 0.12 * yspan, shown_y.max() + 0.12 * yspan)
    # the legend sits under the panel, so it never covers a point or a label
    ax.legend(fontsize=LABEL_SIZE, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)


def _place_labels(ax, fit: AreaFit, predictions: Sequence[Prediction], renderer) -> None:
    """Label every point (fitted and predicted) where the label overlaps no other label and no point; a thin
    line joins a label to its point when it sits away from it."""
    marks = [(r.label, r.bpc, r.score) for r in fit.rows]
    marks += [(p.label, p.bpc, p.forms[fit.better_form].predicted) for p in predictions]
    points = ax.transData.transform(np.array([[bpc, score] for _, bpc, score in marks]))
    texts = [ax.text(0, 0, name, fontsize=LABEL_SIZE, gid=LABEL_GID, ha="left", va="bottom") for name, _, _ in marks]
    sizes = [(box.width, box.height) for box in (t.get_window_extent(renderer) for t in texts)]
    frame = ax.bbox
    boxes = place_labels(
        points,
        sizes,
        (frame.x0 + 2, frame.y0 + 2, frame.x1 - 2, frame.y1 - 2),
        point_radius=MARKER_SIZE * ax.figure.dpi / 72,
    )
    to_data = ax.transData.inverted()
    for text, point, box in zip(texts, points, boxes, strict=True):
        text.set_position(to_data.transform(box[:2]))
        nearest = np.clip(point, box[:2], box[2:])
        if np.hypot(*(nearest - point)) > LEADER_MIN:
            ends = to_data.transform(np.array([point, nearest]))
            ax.plot(ends[:, 0], ends[:, 1], color="0.5", linewidth=0.5, zorder=1.5)


def _predictions_of(fit: AreaFit, predictions: Sequence[Prediction]) -> list[Prediction]:
    return [p for p in predictions if p.fit is fit]


def draw_fits(
    fits: Sequence[AreaFit],
    *,
    predictions: Sequence[Prediction] = (),
    dpi: int = PLOT_DPI,
    panel_size: tuple[float, float] = PANEL_SIZE,
) -> Figure:
    """The figure of :func:`plot_fits`, drawn and laid out, for saving or inspecting."""
    with matplotlib.rc_context({"font.size": FONT_SIZE}):
        fig = Figure(figsize=(panel_size[0] * len(fits), panel_size[1]), dpi=dpi, layout="constrained")
        canvas = FigureCanvasAgg(fig)
        renderer = canvas.get_renderer()
        axes = fig.subplots(1, len(fits), squeeze=False)[0]
        title_width = TITLE_WIDTH * panel_size[0] * dpi
        for ax, fit in zip(axes, fits, strict=True):
            _draw_panel(ax, fit, _predictions_of(fit, predictions), renderer, title_width)
        canvas.draw()  # settle the constrained layout before placing labels in display space
        fig.set_layout_engine("none")
        for ax, fit in zip(axes, fits, strict=True):
            _place_labels(ax, fit, _predictions_of(fit, predictions), renderer)
        canvas.draw()
    return fig


def plot_fits(
    fits: Sequence[AreaFit],
    stem: str | Path,
    *,
    predictions: Sequence[Prediction] = (),
    dpi: int = PLOT_DPI,
    panel_size: tuple[float, float] = PANEL_SIZE,
) -> list[Path]:
    """One panel per area: the models, both forms' fits with their confidence bands, and the models to
    predict with their prediction intervals; writes ``stem``.png and ``stem``.svg."""
    stem = Path(stem)
    with matplotlib.rc_context({"svg.hashsalt": "lm-eval-compression"}):
        fig = draw_fits(fits, predictions=predictions, dpi=dpi, panel_size=panel_size)
        written = []
        for suffix in (".png", ".svg"):
            target = stem.with_suffix(suffix)
            fig.savefig(target, format=suffix[1:], metadata={"Date": None} if suffix == ".svg" else None)
            written.append(target)
    return written
