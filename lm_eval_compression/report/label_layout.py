"""Placing point labels so that they overlap neither each other nor the points (pure geometry, in pixels).

Each label tries positions around its point, nearest first, in rings of growing
radius and sixteen directions, and takes the first one inside the bounds that
touches no label placed before it and no point, whose leader line (point to
label) crosses no label, whose box covers no other label's leader, and which is
nearer to its own point than to any other (so that it reads as that point's).  Labels of points with the most
close neighbours go first, since they have the fewest free positions.  Where no
position is free (a very crowded panel) the one overlapping least is taken, so
every point keeps its label; :func:`overlaps` tells whether that happened.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RADII = (0.0, 5.0, 11.0, 19.0, 29.0, 41.0, 55.0, 71.0, 89.0, 109.0, 132.0, 157.0)  # beyond the marker
DIRECTIONS = 16
PAD = 1.5  # free pixels kept around a label
LEADER_SAMPLES = 12  # points along a leader line tested against the labels


def _candidates(point: np.ndarray, size: np.ndarray, gap: float) -> np.ndarray:
    """Lower-left corners of the label box around ``point``: rings of ``gap`` + RADII, DIRECTIONS angles each.

    The angles start to the right and alternate up and down, so a label prefers the
    right of its point, then above/below, then the left.
    """
    order = [0]
    for step in range(1, DIRECTIONS // 2):
        order += [step, -step]
    order.append(DIRECTIONS // 2)
    angles = np.array(order) * (2 * np.pi / DIRECTIONS)
    corners = []
    for radius in RADII:
        dx, dy = np.cos(angles), np.sin(angles)
        centre_x = point[0] + dx * (gap + radius + size[0] / 2)
        centre_y = point[1] + dy * (gap + radius + size[1] / 2)
        corners.append(np.stack([centre_x - size[0] / 2, centre_y - size[1] / 2], axis=1))
    return np.concatenate(corners)


def _overlap_area(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Overlap area of ``box`` (x0, y0, x1, y1) with each of ``boxes``."""
    if len(boxes) == 0:
        return np.zeros(0)
    width = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])
    height = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])
    return np.clip(width, 0, None) * np.clip(height, 0, None)


def _leader(point: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Points along the segment from ``point`` to the nearest point of ``box``, ends excluded."""
    nearest = np.clip(point, box[:2], box[2:])
    steps = np.linspace(0.0, 1.0, LEADER_SAMPLES + 2)[1:-1, None]
    return point + steps * (nearest - point)


def _inside(samples: np.ndarray, boxes: np.ndarray) -> int:
    """How many of ``samples`` (x, y) fall in any of ``boxes``."""
    if len(samples) == 0 or len(boxes) == 0:
        return 0
    x, y = samples[:, None, 0], samples[:, None, 1]
    hit = (x > boxes[:, 0]) & (x < boxes[:, 2]) & (y > boxes[:, 1]) & (y < boxes[:, 3])
    return int(hit.any(axis=1).sum())


def _distances(box: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Distance from ``box`` to each of ``points`` (0 inside)."""
    return np.hypot(*(np.clip(points, box[:2], box[2:]) - points).T)


def _crowding(points: np.ndarray, reach: float) -> np.ndarray:
    distances = np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
    return (distances < reach).sum(axis=1)


def place_labels(
    points: Sequence[Sequence[float]],
    sizes: Sequence[Sequence[float]],
    bounds: Sequence[float],
    point_radius: float = 4.0,
) -> np.ndarray:
    """Boxes (x0, y0, x1, y1) for the labels of ``points``, each ``sizes[i]`` = (width, height) pixels.

    ``bounds`` (x0, y0, x1, y1) is the area the labels must stay in; a point counts as a
    square of ``point_radius``.  Returns one box per point, in the order given.
    """
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    sizes = np.asarray(sizes, dtype=float).reshape(-1, 2)
    x0, y0, x1, y1 = bounds
    markers = np.concatenate([points - point_radius, points + point_radius], axis=1)
    placed = np.full((len(points), 4), np.nan)
    crowding = _crowding(points, 60.0)
    order = sorted(range(len(points)), key=lambda i: (-crowding[i], i))
    for i in order:
        corners = _candidates(points[i], sizes[i], point_radius + PAD + 0.5)
        boxes = np.concatenate([corners, corners + sizes[i]], axis=1)
        inside = (boxes[:, 0] >= x0) & (boxes[:, 1] >= y0) & (boxes[:, 2] <= x1) & (boxes[:, 3] <= y1)
        done = ~np.isnan(placed[:, 0])
        taken = placed[done]
        leaders = np.concatenate([_leader(points[j], placed[j]) for j in np.flatnonzero(done)] or [np.empty((0, 2))])
        best, best_cost = None, np.inf
        for box, fits in zip(boxes, inside, strict=True):
            if not fits:
                continue
            padded = box + np.array([-PAD, -PAD, PAD, PAD])
            cost = _overlap_area(padded, taken).sum() + _overlap_area(padded, markers).sum()
            cost += _inside(_leader(points[i], box), taken) + _inside(leaders, padded[None, :])
            distances = _distances(box, points)
            cost += int((np.delete(distances, i) < distances[i]).sum())
            if cost == 0:
                best = box
                break
            if cost < best_cost:
                best, best_cost = box, cost
        if best is None:  # not even inside the bounds: keep it next to its point, clipped in
            box = boxes[0]
            shift_x = max(x0 - box[0], 0) - max(box[2] - x1, 0)
            shift_y = max(y0 - box[1], 0) - max(box[3] - y1, 0)
            best = box + np.array([shift_x, shift_y, shift_x, shift_y])
        placed[i] = best
    return placed


def overlaps(boxes: np.ndarray) -> list[tuple[int, int]]:
    """Pairs of boxes (x0, y0, x1, y1) that overlap."""
    pairs = []
    for i in range(len(boxes)):
        area = _overlap_area(boxes[i], boxes[i + 1 :])
        pairs += [(i, i + 1 + j) for j in np.flatnonzero(area > 0)]
    return pairs
