"""Figures that read: on 24 models in tight clusters with several benchmarks per area, no model label
overlaps another label or a point, every label stays in its panel, and titles wrap instead of being cut.

Overlaps are measured on the drawn figure, from the renderer's bounding boxes of the text artists.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lm_eval_compression.report import label_layout, plot
from lm_eval_compression.report import synthetic as fx
from lm_eval_compression.report.areas import Area
from lm_eval_compression.report.correlate import correlate
from lm_eval_compression.report.forms import FORMS
from lm_eval_compression.report.predict import predict_scores
from lm_eval_compression.report.results import load_results
from tests.report.helpers import AREA_ARGS, NEW


@pytest.fixture(scope="module")
def crowded(tmp_path_factory):
    root = tmp_path_factory.mktemp("crowded")
    models = fx.crowded_models()
    fx.write_suite(root, models)
    areas = [Area.parse(f"{name}={','.join(specs)}") for name, specs in fx.CROWDED_AREAS.items()]
    fits = correlate(load_results(root), areas)
    return models, fits, plot.draw_fits(fits)


def test_crowded_example_has_close_points(crowded):
    models, fits, _ = crowded
    assert len(models) >= 20 and all(len(f.area.scores) >= 2 for f in fits)
    for fit in fits:  # points closer than a label is wide: without placement, labels would collide
        x = np.array([r.bpc for r in fit.rows])
        gaps = np.diff(np.sort(x)) / (x.max() - x.min())
        assert gaps.min() < 0.01


def test_labels_do_not_overlap_each_other_or_points(crowded):
    _, fits, fig = crowded
    renderer = fig.canvas.get_renderer()
    for ax, fit in zip(fig.axes, fits, strict=True):
        texts = [t for t in ax.texts if t.get_gid() == plot.LABEL_GID]
        assert sorted(t.get_text() for t in texts) == sorted(r.label for r in fit.rows)
        boxes = [t.get_window_extent(renderer) for t in texts]
        pairs = [
            (texts[i].get_text(), texts[j].get_text())
            for i, j in itertools.combinations(range(len(boxes)), 2)
            if boxes[i].overlaps(boxes[j])
        ]
        assert pairs == []
        frame = ax.bbox
        for box in boxes:
            assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
        points = ax.transData.transform([[r.bpc, r.score] for r in fit.rows])
        for text, box in zip(texts, boxes, strict=True):
            covered = [tuple(p) for p in points if box.contains(*p)]
            assert covered == [], f"label {text.get_text()!r} covers a point"


def test_titles_wrap_within_their_panel(crowded):
    _, fits, fig = crowded
    renderer = fig.canvas.get_renderer()
    width = fig.bbox.width / len(fits)
    for index, (ax, fit) in enumerate(zip(fig.axes, fits, strict=True)):
        title = ax.title
        box = title.get_window_extent(renderer)
        assert index * width <= box.x0 and box.x1 <= (index + 1) * width  # within its own panel
        assert box.y1 <= fig.bbox.y1  # not cut at the top
        shown = title.get_text().replace("\n", " ")
        assert all(str(spec) in shown for spec in fit.area.scores)  # wrapped, nothing dropped
    knowledge = fig.axes[0].title.get_text().splitlines()
    assert knowledge[0] == "knowledge" and len(knowledge) > 2


def test_title_lines_wrap_shorten_and_count():
    def fits(text):
        return len(text) <= 22

    assert plot.title_lines("math", ["a/b", "c/d"], fits) == ["math", "a/b, c/d"]
    lines = plot.title_lines("k", [f"task{i}/acc" for i in range(12)], fits, max_lines=3)
    assert len(lines) == 3 and all(fits(line) for line in lines[1:])
    assert lines[1] == "task0/acc, task1/acc,"
    assert lines[-1].endswith("more")
    shown = sum(line.count("/acc") for line in lines)
    assert lines[-1].endswith(f"+ {12 - shown} more")
    [_, only] = plot.title_lines("k", ["averyveryverylongtask/metric"], fits)
    assert fits(only) and only.endswith("…") and only.startswith("averyvery")


def test_layout_separates_identical_points():
    points = [(100.0, 100.0)] * 6 + [(300.0, 300.0)]
    boxes = label_layout.place_labels(points, [(80.0, 12.0)] * 7, (0.0, 0.0, 500.0, 500.0))
    assert label_layout.overlaps(boxes) == []
    assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2:] <= 500)
    # an isolated point keeps its label right next to it, on its right
    assert 300.0 < boxes[6, 0] < 300.0 + 10 and boxes[6, 1] < 300.0 < boxes[6, 3]


def test_overlaps_finds_overlapping_pairs():
    boxes = np.array([[0, 0, 10, 10], [5, 5, 15, 15], [20, 20, 30, 30], [10, 0, 20, 10]], dtype=float)
    assert label_layout.overlaps(boxes) == [(0, 1), (1, 3)]


def test_panels_show_both_forms_and_the_predicted_models(suite, new_models):
    """Each panel draws the linear and the log fit (their curves equal the fits' predictions, the legend gives
    each form's leave-one-out RMSE and marks the lower), and each model to predict at the better form's
    prediction with its prediction interval, labelled without overlaps."""
    fitted = load_results(suite["root"])
    fits = correlate(fitted, [Area.parse(a) for a in AREA_ARGS])
    predictions = predict_scores(fits, fitted, load_results(new_models))
    fig = plot.draw_fits(fits, predictions=predictions)
    renderer = fig.canvas.get_renderer()
    for ax, fit in zip(fig.axes, fits, strict=True):
        for form in FORMS:
            [curve] = [line for line in ax.get_lines() if line.get_label().startswith(f"{form}: ")]
            assert f"LOO RMSE = {fit.lines[form].loo_rmse:.4f}" in curve.get_label()
            assert ("(lower LOO error)" in curve.get_label()) == (form == fit.better_form)
            np.testing.assert_allclose(curve.get_ydata(), fit.predict(curve.get_xdata(), form), atol=1e-12)
        [marks] = [c for c in ax.containers if str(c.get_label()).startswith("predicted by the")]
        mine = [p for p in predictions if p.area == fit.area]
        best = [p.forms[fit.better_form] for p in mine]
        np.testing.assert_allclose(marks.lines[0].get_xdata(), [p.bpc for p in mine])
        np.testing.assert_allclose(marks.lines[0].get_ydata(), [b.predicted for b in best])
        bars = np.array(marks.lines[2][0].get_segments())
        np.testing.assert_allclose(bars[:, :, 1], [[b.low, b.high] for b in best], atol=1e-12)
        texts = [t for t in ax.texts if t.get_gid() == plot.LABEL_GID]
        assert sorted(t.get_text() for t in texts) == sorted([r.label for r in fit.rows] + list(NEW))
        assert label_layout.overlaps(np.array([list(t.get_window_extent(renderer).extents) for t in texts])) == []
