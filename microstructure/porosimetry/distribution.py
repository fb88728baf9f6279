"""Cumulative intrusion curves, log-differential pore size distributions and D-values.

A :class:`MipCurve` is the table the command line writes: one row per pressure step with
``diameter_nm, pressure_mpa, saturation, intruded_fraction`` and, when phase densities are
known, ``specific_volume_mm3_per_g``. Rows are ordered by increasing pressure (decreasing
diameter) for intrusion. Diameters are Washburn throat diameters (twice the invasion radius).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.porosimetry.washburn import (
    CONTACT_ANGLE_DEG,
    SURFACE_TENSION_N_PER_M,
    washburn_pressure_mpa,
)

__all__ = [
    "MipCurve",
    "PsdTable",
    "CURVE_COLUMNS",
    "curve_from_radii",
    "d_values",
    "log_differential",
]

#: default number of dV/dlogD bins per decade of diameter
BINS_PER_DECADE = 10

#: Column order of a curve CSV (the last one only when densities are known).
CURVE_COLUMNS = (
    "diameter_nm",
    "pressure_mpa",
    "saturation",
    "intruded_fraction",
    "specific_volume_mm3_per_g",
)


def _fmt(v: float) -> str:
    return repr(float(v)) if math.isfinite(v) else ""


def _write_table(path: str | os.PathLike, columns: dict[str, np.ndarray]) -> Path:
    target = Path(path)
    if target.parent and not target.parent.exists():
        raise ValueError(f"{path}: the output folder does not exist")
    from microstructure.io.tables import atomic_open

    # temporary file beside the target, fsync, rename; removed on error; errors name the path
    with atomic_open(target, "w") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(list(columns))
        for row in zip(*columns.values(), strict=True):
            writer.writerow([_fmt(v) for v in row])
    return target


@dataclass
class PsdTable:
    """Log-differential pore size distribution ``dV/dlog10(D)``.

    Attributes
    ----------
    diameter_nm
        Geometric bin centres (nm), ascending.
    edges_nm
        Bin edges (nm), ascending, one more than the centres.
    dv_dlogd
        Volume per decade of diameter, in the units of ``quantity`` (e.g. mm3/g).
    quantity
        Which cumulative column was differentiated.
    """

    diameter_nm: np.ndarray
    edges_nm: np.ndarray
    dv_dlogd: np.ndarray
    quantity: str

    def columns(self) -> dict[str, np.ndarray]:
        """Columns ``diameter_nm, dv_dlogd_<quantity>`` for a CSV."""
        return {"diameter_nm": self.diameter_nm, f"dv_dlogd_{self.quantity}": self.dv_dlogd}

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write the PSD as CSV (one row per bin) and return the path."""
        return _write_table(path, self.columns())

    def mode_nm(self) -> float:
        """Diameter (nm) of the highest bin (the PSD peak); NaN when empty."""
        if self.dv_dlogd.size == 0 or not np.any(self.dv_dlogd > 0):
            return float("nan")
        return float(self.diameter_nm[int(np.argmax(self.dv_dlogd))])


@dataclass
class MipCurve:
    """A cumulative mercury intrusion (or extrusion) curve.

    Attributes
    ----------
    diameter_nm
        Washburn throat diameter of each step (nm).
    pressure_mpa
        Mercury pressure of each step (MPa).
    saturation
        Intruded pore volume / total pore volume (for a measured curve whose pore volume is
        unknown: / total intruded volume of the pressure window).
    intruded_fraction
        Intruded volume / sample (bulk) volume; NaN where unknown.
    specific_volume_mm3_per_g
        Intruded volume per sample mass (mm3/g), or ``None`` when densities are unknown.
    porosity
        Total pore volume / sample volume, NaN when unknown.
    label
        Name used in figures and reports.
    metadata
        JSON-serialisable extras (inlets, voxel size, source file, ...).
    """

    diameter_nm: np.ndarray
    pressure_mpa: np.ndarray
    saturation: np.ndarray
    intruded_fraction: np.ndarray
    specific_volume_mm3_per_g: np.ndarray | None = None
    porosity: float = float("nan")
    label: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.diameter_nm = np.asarray(self.diameter_nm, dtype=float)
        n = self.diameter_nm.size
        for name in ("pressure_mpa", "saturation", "intruded_fraction"):
            arr = np.asarray(getattr(self, name), dtype=float)
            if arr.shape != (n,):
                raise ValueError(f"{name}: expected {n} values, got shape {arr.shape}")
            setattr(self, name, arr)
        if self.specific_volume_mm3_per_g is not None:
            arr = np.asarray(self.specific_volume_mm3_per_g, dtype=float)
            if arr.shape != (n,):
                raise ValueError(f"specific_volume_mm3_per_g: expected {n} values")
            self.specific_volume_mm3_per_g = arr

    def __len__(self) -> int:
        return int(self.diameter_nm.size)

    def columns(self) -> dict[str, np.ndarray]:
        """The contract's CSV columns (``specific_volume_mm3_per_g`` only when known)."""
        cols = {
            "diameter_nm": self.diameter_nm,
            "pressure_mpa": self.pressure_mpa,
            "saturation": self.saturation,
            "intruded_fraction": self.intruded_fraction,
        }
        if self.specific_volume_mm3_per_g is not None:
            cols["specific_volume_mm3_per_g"] = self.specific_volume_mm3_per_g
        return cols

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write the curve as CSV (one row per step; unknown values as empty cells)."""
        return _write_table(path, self.columns())

    def quantity(self, name: str | None = None) -> tuple[str, np.ndarray]:
        """The cumulative column ``name`` (default: the most physical one available)."""
        if name is None:
            if self.specific_volume_mm3_per_g is not None:
                name = "specific_volume_mm3_per_g"
            elif np.all(np.isfinite(self.intruded_fraction)) and len(self):
                name = "intruded_fraction"
            else:
                name = "saturation"
        if name not in CURVE_COLUMNS[2:]:
            raise ValueError(f"quantity: expected one of {CURVE_COLUMNS[2:]}, got {name!r}")
        values = getattr(self, name)
        if values is None or not np.all(np.isfinite(values)):
            raise ValueError(f"quantity: {name} is not known for curve {self.label or ''!r}")
        return name, values

    def normalized(self) -> np.ndarray:
        """Cumulative intrusion as a fraction (0..1) of the curve's total intruded volume."""
        sat = self.saturation
        total = float(sat.max()) if sat.size else 0.0
        return sat / total if total > 0 else np.zeros_like(sat)

    @property
    def total_saturation(self) -> float:
        """Largest saturation of the curve (fraction of the pore volume intruded)."""
        return float(self.saturation.max()) if len(self) else 0.0

    @property
    def total_intruded_fraction(self) -> float:
        """Largest intruded volume / sample volume (NaN when unknown)."""
        if not len(self) or not np.all(np.isfinite(self.intruded_fraction)):
            return float("nan")
        return float(self.intruded_fraction.max())

    def d_values(self, percents: Sequence[float] = (10, 50, 90)) -> dict[str, float]:
        """D-values in nm, see :func:`d_values`; keys ``d10_nm``, ``d50_nm``, ``d90_nm``."""
        return d_values(self.diameter_nm, self.saturation, percents=percents)

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers of the curve (snake_case keys with units; NaN where unknown).

        ``intruded_porosity`` is the largest intruded volume / sample volume (NaN for a
        measured curve without bulk density), ``total_specific_volume_mm3_per_g`` the
        largest specific volume (None when unknown), ``psd_mode_nm`` the peak of the
        dV/dlogD distribution (10 bins per decade).
        """
        n = len(self)
        out: dict[str, Any] = {
            "label": self.label,
            "n_steps": n,
            "min_diameter_nm": float(self.diameter_nm.min()) if n else float("nan"),
            "max_diameter_nm": float(self.diameter_nm.max()) if n else float("nan"),
            "min_pressure_mpa": float(self.pressure_mpa.min()) if n else float("nan"),
            "max_pressure_mpa": float(self.pressure_mpa.max()) if n else float("nan"),
            **self.d_values(),
            "total_saturation": self.total_saturation,
            "intruded_porosity": self.total_intruded_fraction,
            "porosity": float(self.porosity),
            "total_specific_volume_mm3_per_g": (
                float(self.specific_volume_mm3_per_g.max())
                if self.specific_volume_mm3_per_g is not None and n
                else None
            ),
            "psd_mode_nm": self.psd(quantity="saturation").mode_nm() if n else float("nan"),
        }
        return out

    def psd(
        self,
        *,
        quantity: str | None = None,
        bins_per_decade: int = BINS_PER_DECADE,
        edges_nm: np.ndarray | None = None,
    ) -> PsdTable:
        """Log-differential PSD of this curve, see :func:`log_differential`."""
        name, values = self.quantity(quantity)
        return log_differential(
            self.diameter_nm,
            values,
            bins_per_decade=bins_per_decade,
            edges_nm=edges_nm,
            quantity=name,
        )


def _increments(diameter_nm: np.ndarray, cumulative: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Volume increments located at each diameter, from the large-diameter end."""
    d = np.asarray(diameter_nm, dtype=float)
    c = np.asarray(cumulative, dtype=float)
    if d.shape != c.shape or d.ndim != 1:
        raise ValueError("diameter_nm and cumulative values must be 1D arrays of equal length")
    ok = np.isfinite(d) & np.isfinite(c) & (d > 0)
    d, c = d[ok], c[ok]
    order = np.argsort(-d, kind="stable")
    d, c = d[order], c[order]
    c = np.maximum.accumulate(c) if c.size else c
    inc = np.diff(np.concatenate(([0.0], c)))
    return d, inc


def d_values(
    diameter_nm: np.ndarray, cumulative: np.ndarray, *, percents: Sequence[float] = (10, 50, 90)
) -> dict[str, float]:
    """Volume-weighted diameter percentiles of an intrusion curve.

    ``D_x`` is the diameter such that ``x`` % of the intruded volume lies in pores (throats)
    of diameter <= ``D_x`` (so D10 < D50 < D90, as for particle sizes); interpolated linearly
    in log10(D) between steps, each step's volume sitting at its own diameter.

    Parameters
    ----------
    diameter_nm
        Step diameters (nm), any order.
    cumulative
        Cumulative intruded volume (any unit) at each step: volume in pores >= that diameter.
    percents
        Percentiles in (0, 100).

    Returns
    -------
    ``{"d10_nm": ..., "d50_nm": ..., "d90_nm": ...}``; NaN when nothing was intruded.
    """
    d, inc = _increments(diameter_nm, cumulative)
    out: dict[str, float] = {}
    total = float(inc.sum()) if inc.size else 0.0
    for p in percents:
        p = float(p)
        if not 0.0 < p < 100.0:
            raise ValueError(f"percents: expected values in (0, 100), got {p}")
        key = f"d{p:g}_nm".replace(".", "_")
        if total <= 0:
            out[key] = float("nan")
            continue
        # fraction of volume at diameters <= D, ascending in D
        asc_d = d[::-1]
        # below[i] = fraction of the volume in pores with diameter <= asc_d[i]
        below = np.cumsum(inc[::-1]) / total
        target = p / 100.0
        logd = np.log10(asc_d)
        if target <= below[0]:
            out[key] = float(asc_d[0])
        else:
            out[key] = float(10 ** np.interp(target, below, logd))
    return out


def log_differential(
    diameter_nm: np.ndarray,
    cumulative: np.ndarray,
    *,
    bins_per_decade: int = BINS_PER_DECADE,
    edges_nm: np.ndarray | None = None,
    quantity: str = "volume",
) -> PsdTable:
    """Log-differential distribution ``dV/dlog10(D)`` of a cumulative intrusion curve.

    The volume intruded at each step is attributed to that step's diameter and histogrammed
    in log10(D) bins; each bin's volume is divided by its width in decades. The integral of
    the PSD over log10(D) equals the total intruded volume (conservation).

    Parameters
    ----------
    diameter_nm
        Step diameters (nm).
    cumulative
        Cumulative intruded volume at each step (volume in pores >= that diameter).
    bins_per_decade
        Bin density when ``edges_nm`` is not given; edges are aligned to powers of ten.
    edges_nm
        Explicit ascending bin edges (nm).
    quantity
        Name of the cumulative quantity (used in the CSV column name).
    """
    d, inc = _increments(diameter_nm, cumulative)
    if edges_nm is None:
        if not isinstance(bins_per_decade, int | np.integer) or bins_per_decade < 1:
            raise ValueError(f"bins_per_decade: expected a positive integer, got {bins_per_decade}")
        if d.size == 0:
            edges = np.array([1.0, 10.0])
        else:
            lo = math.floor(math.log10(d.min()) * bins_per_decade + 1e-9)
            hi = math.floor(math.log10(d.max()) * bins_per_decade + 1e-9) + 1
            edges = 10.0 ** (np.arange(lo, hi + 1) / bins_per_decade)
    else:
        edges = np.asarray(edges_nm, dtype=float)
        if edges.ndim != 1 or edges.size < 2 or np.any(edges <= 0) or np.any(np.diff(edges) <= 0):
            raise ValueError("edges_nm: expected at least two positive ascending bin edges")
    logd = np.log10(d) if d.size else d
    loge = np.log10(edges)
    hist, _ = np.histogram(logd, bins=loge, weights=inc)
    widths = np.diff(loge)
    centres = 10 ** (0.5 * (loge[:-1] + loge[1:]))
    return PsdTable(diameter_nm=centres, edges_nm=edges, dv_dlogd=hist / widths, quantity=quantity)


def curve_from_radii(
    radius_nm: np.ndarray,
    *,
    pore_volume: float,
    sample_volume: float,
    weights: np.ndarray | None = None,
    steps_radius_nm: np.ndarray | None = None,
    mm3_per_g_per_unit: float | None = None,
    contact_angle_deg: float = CONTACT_ANGLE_DEG,
    surface_tension_n_per_m: float = SURFACE_TENSION_N_PER_M,
    label: str = "",
    descending: bool = True,
    levels_nm: np.ndarray | None = None,
) -> MipCurve:
    """Cumulative curve from the radii (nm) at which volume elements are intruded.

    Parameters
    ----------
    radius_nm
        1D radii (nm, > 0) of the intruded volume elements (voxels).
    pore_volume, sample_volume
        Total pore volume and sample volume in the same unit as the element volumes
        (voxel counts by default).
    weights
        Volume of each element (default 1 voxel).
    steps_radius_nm
        Radii of the curve's steps; default: every distinct radius.
    mm3_per_g_per_unit
        Factor turning one volume unit into mm3/g of sample (None: no specific volume).
    descending
        True for intrusion (rows by decreasing radius: volume with radius >= r); False for
        extrusion (rows by increasing radius: volume with radius >= r still filled).
    levels_nm
        Optional ascending array holding every distinct value of ``radius_nm`` (e.g. the EDT
        levels the radii were painted from): counting by binary search instead of sorting
        the radii (the same result, several times faster on 10^7+ elements).
    """
    r = np.asarray(radius_nm).ravel()
    if not np.issubdtype(r.dtype, np.floating):
        r = r.astype(np.float64)
    w = None if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if steps_radius_nm is None:
        vol = None
        if levels_nm is not None and r.size:
            lv = np.asarray(levels_nm, dtype=r.dtype).ravel()
            idx = np.minimum(np.searchsorted(lv, r), max(lv.size - 1, 0))
            if lv.size and np.array_equal(lv[idx], r):
                counts = np.bincount(idx, weights=w, minlength=lv.size).astype(float)
                present = np.bincount(idx, minlength=lv.size) > 0
                steps, vol = lv[present].astype(np.float64), counts[present]
        if vol is None:  # general path: every distinct radius
            uniq, inverse = np.unique(r.astype(np.float64), return_inverse=True)
            vol = np.bincount(inverse, weights=w, minlength=uniq.size).astype(float)
            steps = uniq
        # volume with radius >= steps[i]
        cum = np.cumsum(vol[::-1])[::-1]
    else:
        steps = np.unique(np.asarray(steps_radius_nm, dtype=np.float64))
        # r counts for step i when r >= steps[i] (1 - 1e-6), i.e. when idx(r) > i
        idx = np.searchsorted(steps * (1.0 - 1e-6), r.astype(np.float64, copy=False), "right")
        per = np.bincount(idx, weights=w, minlength=steps.size + 1).astype(float)
        cum = np.cumsum(per[::-1])[::-1][1:]
    if descending:
        steps, cum = steps[::-1], cum[::-1]
    diameter = 2.0 * steps
    pressure = washburn_pressure_mpa(
        diameter,
        contact_angle_deg=contact_angle_deg,
        surface_tension_n_per_m=surface_tension_n_per_m,
    )
    sat = cum / pore_volume if pore_volume > 0 else np.zeros_like(cum)
    frac = cum / sample_volume
    spec = None if mm3_per_g_per_unit is None else cum * mm3_per_g_per_unit
    return MipCurve(
        diameter_nm=diameter,
        pressure_mpa=np.atleast_1d(pressure),
        saturation=sat,
        intruded_fraction=frac,
        specific_volume_mm3_per_g=spec,
        porosity=pore_volume / sample_volume,
        label=label,
    )
