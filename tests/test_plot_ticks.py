"""Plain-number log-axis labels never overlap, however narrow the axes (a napari dock)."""

from __future__ import annotations

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from microstructure.plot import plain_log_axis


def _labels(width_in: float, lo: float, hi: float) -> list:
    fig = Figure(figsize=(width_in, 2.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot([lo, hi], [0.0, 1.0])
    plain_log_axis(ax, "x")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [
        (t.get_text(), t.get_window_extent(renderer))
        for t in ax.get_xticklabels()
        if t.get_text() and t.get_visible()
    ]


@pytest.mark.parametrize("width_in", [1.2, 2.0, 3.0, 6.0])
@pytest.mark.parametrize(("lo", "hi"), [(3.0, 3e5), (5.0, 2e3), (80.0, 900.0)])
def test_log_tick_labels_do_not_overlap(width_in, lo, hi):
    labels = _labels(width_in, lo, hi)
    assert len(labels) >= 2, labels
    boxes = sorted((b.x0, b.x1, text) for text, b in labels)
    for (_, right, a), (left, _, b) in zip(boxes, boxes[1:], strict=False):
        assert left > right, f"{a!r} overlaps {b!r} at {width_in} in"
    assert all("10^" not in t and "x" not in t for t, _ in labels)


def test_wide_axes_keep_every_decade():
    texts = [t for t, _ in _labels(8.0, 3.0, 3e5)]
    assert {"10", "100", "1000", "10000", "100000"} <= set(texts)
