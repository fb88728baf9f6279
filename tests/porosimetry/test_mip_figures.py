"""Curve figures: pyplot-free ``Figure`` objects with a unit on every axis, written by
``microstructure.plot.save_figure``; no minor tick labels on the logarithmic diameter axes."""

from __future__ import annotations

import re

import numpy as np
from matplotlib.figure import Figure

from microstructure.plot import save_figure
from microstructure.porosimetry import (
    curve_from_radii,
    mip_comparison_figure,
    mip_curve_figure,
    mip_curves_figure,
)

UNIT = re.compile(r"\([^)]+\)\s*$")


def _curve(scale: float = 1.0):
    rng = np.random.default_rng(0)
    radii = scale * rng.uniform(40.0, 90.0, 500)  # less than a decade: minor ticks matter
    return curve_from_radii(radii, pore_volume=600.0, sample_volume=2000.0, label="test")


def test_figures_have_units_on_every_axis_and_save(tmp_path) -> None:
    figs = [
        mip_curve_figure(_curve(), extrusion=_curve(0.9), markers_nm={"D50": 120.0}),
        mip_curves_figure([_curve(), _curve(1.2)]),
        mip_comparison_figure(_curve(), _curve(1.1)),
    ]
    for i, fig in enumerate(figs):
        assert isinstance(fig, Figure)
        for ax in fig.axes:
            assert UNIT.search(ax.get_xlabel()), ax.get_xlabel()
            assert UNIT.search(ax.get_ylabel()), ax.get_ylabel()
            fig.canvas.draw() if fig.canvas is not None else None
            minor = [t.get_text() for t in ax.xaxis.get_minorticklabels() if t.get_text()]
            assert not minor
        path = save_figure(fig, tmp_path / f"f{i}.png")
        assert path.stat().st_size > 10_000
