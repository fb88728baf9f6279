"""A napari dock with matplotlib: MIP curves (simulated, measured, granulometry) and their PSDs.

Left: cumulative intrusion (normalised) against the throat diameter on a reversed log axis, as
porosimeters plot it; right: the normalised dV/dlogD distribution. Each curve's D50 is marked.
Curves come from the ``mip`` / ``granulometry`` stages (through the stage widget), from curve
CSVs, or from measured instrument exports.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from microstructure.porosimetry import MipCurve, load_mip_curve

if TYPE_CHECKING:
    import napari.viewer

__all__ = ["MipDock", "curve_from_columns", "CURVE_TABLES"]

#: stage tables plotted by the dock, with their line style
CURVE_TABLES = (("mip_curve", "-"), ("measured_curve", "--"), ("granulometry_curve", ":"))


def curve_from_columns(columns: dict[str, Any], *, label: str) -> MipCurve:
    """A :class:`MipCurve` from a stage's curve table (contract columns)."""
    missing = {"diameter_nm", "pressure_mpa", "saturation"} - set(columns)
    if missing:
        raise ValueError(f"curve table: missing column(s) {sorted(missing)}")
    n = len(np.asarray(columns["diameter_nm"]))
    frac = columns.get("intruded_fraction", np.full(n, np.nan))
    return MipCurve(
        diameter_nm=columns["diameter_nm"],
        pressure_mpa=columns["pressure_mpa"],
        saturation=columns["saturation"],
        intruded_fraction=frac,
        label=label,
    )


class MipDock(QWidget):
    """Dock widget plotting any number of MIP-type curves."""

    def __init__(
        self, napari_viewer: napari.viewer.Viewer | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.viewer = napari_viewer
        self.curves: list[tuple[MipCurve, str]] = []
        self.figure = Figure(figsize=(8, 3.4), tight_layout=True)
        self.canvas = FigureCanvasQTAgg(self.figure)
        # small minimum: the dock never squeezes the napari canvas
        self.canvas.setMinimumSize(240, 220)
        self.canvas.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.ax_cum, self.ax_psd = self.figure.subplots(1, 2)
        add_csv = QPushButton("Add curve CSV / measured file...")
        add_csv.clicked.connect(self._ask_file)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear)
        buttons = QHBoxLayout()
        buttons.addWidget(add_csv)
        buttons.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.addWidget(self.canvas)
        layout.addLayout(buttons)
        self.redraw()

    # ------------------------------------------------------------------ public API
    def add_curve(self, curve: MipCurve, *, style: str = "-") -> None:
        """Add a curve (its ``label`` names it in the legend) and redraw."""
        if len(curve) == 0:
            raise ValueError(f"curve {curve.label!r}: no points")
        self.curves.append((curve, style))
        self.redraw()

    def add_file(self, path: str | os.PathLike, **kwargs: Any) -> MipCurve:
        """Add a curve CSV or a measured instrument export (kwargs: units, window...)."""
        curve = load_mip_curve(path, **kwargs)
        if not curve.label:
            curve.label = os.path.basename(str(path))
        is_csv = "diameter_nm" in open(path, encoding="utf-8", errors="replace").readline()
        self.add_curve(curve, style="-" if is_csv else "--")
        return curve

    def add_stage_tables(self, stage: str, tables: dict[str, dict[str, Any]]) -> int:
        """Add the curves a ``mip`` or ``granulometry`` stage returned; returns how many."""
        n = 0
        for name, style in CURVE_TABLES:
            if name in tables:
                self.add_curve(
                    curve_from_columns(tables[name], label=f"{stage}: {name}"), style=style
                )
                n += 1
        return n

    def add_run_folder(self, run: str | os.PathLike) -> int:
        """Add the curves stored in a run folder (``NN-mip/mip_curve.csv``, measured and
        granulometry curves), in stage order; returns how many."""
        run = Path(run)
        report = json.loads((run / "report.json").read_text())
        n = 0
        for stage in report.get("stages", []):
            folder = run / str(stage.get("dir"))
            for name, style in CURVE_TABLES:
                csv = folder / f"{name}.csv"
                if csv.is_file():
                    curve = load_mip_curve(csv)
                    curve.label = f"{stage.get('dir')}: {name}"
                    self.add_curve(curve, style=style)
                    n += 1
        return n

    def clear(self) -> None:
        """Remove every curve."""
        self.curves.clear()
        self.redraw()

    # ------------------------------------------------------------------ drawing
    def _arrange(self) -> None:
        """Panels side by side in a wide dock, stacked in a narrow one (docked at the side)."""
        w, h = self.canvas.width(), self.canvas.height()
        rows, cols = (2, 1) if w < 1.4 * h else (1, 2)
        if (rows, cols) != getattr(self, "_grid", None):
            grid = self.figure.add_gridspec(rows, cols)
            self.ax_cum.set_subplotspec(grid[0, 0])
            self.ax_psd.set_subplotspec(grid[1, 0] if rows == 2 else grid[0, 1])
            self._grid = (rows, cols)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._arrange()
        self.canvas.draw_idle()

    def redraw(self) -> None:
        from microstructure.plot import mip_curves_axes

        mip_curves_axes(self.curves, self.ax_cum, self.ax_psd)
        if not self.curves:
            self.ax_cum.set_title("no curves yet: run the mip stage or add a file", fontsize=9)
        self.canvas.draw_idle()

    def _ask_file(self) -> None:  # pragma: no cover - interactive
        path, _ = QFileDialog.getOpenFileName(self, "MIP curve CSV or measured export")
        if path:
            self.add_file(path)
