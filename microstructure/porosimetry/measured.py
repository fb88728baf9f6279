"""Reading measured mercury intrusion curves (instrument exports) and curve CSVs.

Instrument exports: text with two or more numeric columns (whitespace, comma, semicolon or
tab separated), one of them the pressure and one the cumulative intruded volume, rows in
increasing or decreasing pressure order. Leading header lines are skipped (and searched for
units such as ``psia``, ``MPa``, ``mL/g``); a non-numeric row after the data started is an
error. A file whose pressure rises then falls holds intrusion then extrusion: the intrusion
branch (up to the maximum pressure) is used. Pressures become diameters by the Washburn
equation (:mod:`~microstructure.porosimetry.washburn`).

References
----------
Washburn, E. W. (1921). The dynamics of capillary flow. Physical Review 17, 273-283.
doi:10.1103/PhysRev.17.273
"""

from __future__ import annotations

import csv
import math
import os
import re
from pathlib import Path

import numpy as np

from microstructure.porosimetry.distribution import CURVE_COLUMNS, MipCurve
from microstructure.porosimetry.washburn import (
    CONTACT_ANGLE_DEG,
    SURFACE_TENSION_N_PER_M,
    check_mercury_parameters,
    washburn_diameter_nm,
)

__all__ = ["read_mip_file", "read_curve_csv", "load_mip_curve", "PRESSURE_UNITS", "VOLUME_UNITS"]

#: pressure unit -> MPa
PRESSURE_UNITS = {
    "psi": 0.00689475729,
    "psia": 0.00689475729,
    "mpa": 1.0,
    "kpa": 1e-3,
    "pa": 1e-6,
    "bar": 0.1,
}
#: volume unit -> mm3
VOLUME_UNITS = {"ml": 1000.0, "cm3": 1000.0, "cc": 1000.0, "mm3": 1.0, "ul": 1.0}

_SPLIT = re.compile(r"[\s,;]+")


def _detect_units(header: str) -> tuple[str | None, str | None, bool | None]:
    h = header.lower()
    p = None
    for key in ("psia", "psi", "mpa", "kpa", "bar"):
        if re.search(rf"\b{key}\b", h):
            p = "psi" if key == "psia" else key
            break
    v = None
    for key, name in (
        ("ml", "ml"),
        ("cm3", "cm3"),
        ("cm³", "cm3"),
        ("cc", "cc"),
        ("mm3", "mm3"),
        ("mm³", "mm3"),
        ("µl", "ul"),
        ("ul", "ul"),
    ):
        if re.search(rf"{re.escape(key)}\b", h):
            v = name
            break
    per_gram = True if re.search(r"/\s*g\b|per\s+gram", h) else None
    return p, v, per_gram


def _parse_rows(path: Path) -> tuple[np.ndarray, str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the file ({exc.strerror})") from None
    rows: list[list[float]] = []
    header: list[str] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = [p for p in _SPLIT.split(line) if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            if rows:
                raise ValueError(
                    f"{path}: line {lineno} is not numeric ({line[:60]!r}) inside the data"
                ) from None
            header.append(line)
            continue
        if rows and len(values) != len(rows[0]):
            raise ValueError(
                f"{path}: line {lineno} has {len(values)} columns, expected {len(rows[0])}"
            )
        rows.append(values)
    if not rows:
        raise ValueError(f"{path}: no numeric rows found")
    data = np.asarray(rows, dtype=float)
    if data.shape[1] < 2:
        raise ValueError(
            f"{path}: only one column; expected pressure and cumulative volume columns"
        )
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{path}: contains non-finite numbers")
    return data, "\n".join(header)


def _intrusion_window(
    p: Path,
    pressure: np.ndarray,
    volume: np.ndarray,
    min_pressure_mpa: float | None,
    max_pressure_mpa: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The intrusion branch by increasing pressure inside the pressure window, with the
    cumulative volume made monotonic (running maximum)."""
    # intrusion then extrusion (maximum pressure inside the file): keep the intrusion branch
    imax = int(np.argmax(pressure))
    if 0 < imax < pressure.size - 1 and pressure[0] < pressure[imax]:
        pressure, volume = pressure[: imax + 1], volume[: imax + 1]
    order = np.argsort(pressure, kind="stable")
    pressure, volume = pressure[order], volume[order]
    lo = -np.inf if min_pressure_mpa is None else float(min_pressure_mpa)
    hi = np.inf if max_pressure_mpa is None else float(max_pressure_mpa)
    sel = (pressure >= lo) & (pressure <= hi) & (pressure > 0)
    if np.count_nonzero(sel) < 2:
        raise ValueError(
            f"min_pressure_mpa/max_pressure_mpa: fewer than two points of {p.name} in the "
            f"window {lo:g}..{hi:g} MPa (data span {pressure.min():.4g}..{pressure.max():.4g})"
        )
    return pressure[sel], np.maximum.accumulate(volume[sel])


def read_mip_file(
    path: str | os.PathLike,
    *,
    pressure_unit: str | None = None,
    volume_unit: str | None = None,
    sample_mass_g: float | None = None,
    pressure_column: int = 0,
    volume_column: int = 1,
    min_pressure_mpa: float | None = None,
    max_pressure_mpa: float | None = None,
    rezero: bool = True,
    bulk_density_g_per_cm3: float | None = None,
    contact_angle_deg: float = CONTACT_ANGLE_DEG,
    surface_tension_n_per_m: float = SURFACE_TENSION_N_PER_M,
    label: str | None = None,
) -> MipCurve:
    """Read a measured intrusion curve into a :class:`MipCurve` (diameter space).

    Parameters
    ----------
    path
        Text export with at least two numeric columns.
    pressure_unit
        ``psi``, ``mpa``, ``kpa``, ``pa`` or ``bar``; default from the header, else ``psi``.
    volume_unit
        ``ml`` (= ``cm3``, ``cc``), ``mm3``; default from the header, else ``ml``.
    sample_mass_g
        Sample mass (g) when the volumes are absolute; ``None`` means per-gram volumes.
    pressure_column, volume_column
        Zero-based column indices.
    min_pressure_mpa, max_pressure_mpa
        Pressure window (MPa); Beuse et al. (2021, doi:10.3390/batteries7040070) used
        only the high-pressure run (0.1-400 MPa).
    rezero
        Subtract the volume at the window's lowest pressure (volume intruded below the window,
        e.g. between samples, is not pore volume).
    bulk_density_g_per_cm3
        Sample bulk density, to report ``intruded_fraction`` (volume / sample volume).
    contact_angle_deg, surface_tension_n_per_m
        Washburn parameters for the pressure -> diameter conversion.
    label
        Curve label (default: the file name).

    Returns
    -------
    MipCurve with rows by increasing pressure; ``saturation`` is relative to the total
    intruded volume in the window; cumulative volume made monotonic (running maximum).

    Raises
    ------
    ValueError
        Unreadable file, one column, non-numeric rows inside the data, unknown units, bad
        column indices, an empty pressure window.
    """
    p = Path(path)
    check_mercury_parameters(contact_angle_deg, surface_tension_n_per_m)
    data, header = _parse_rows(p)
    h_p, h_v, _per_gram = _detect_units(header)
    pu = (pressure_unit or h_p or "psi").lower()
    vu = (volume_unit or h_v or "ml").lower()
    if pu not in PRESSURE_UNITS:
        raise ValueError(f"pressure_unit: expected one of {sorted(PRESSURE_UNITS)}, got {pu!r}")
    if vu not in VOLUME_UNITS:
        raise ValueError(f"volume_unit: expected one of {sorted(VOLUME_UNITS)}, got {vu!r}")
    ncol = data.shape[1]
    for name, col in (("pressure_column", pressure_column), ("volume_column", volume_column)):
        if not (isinstance(col, int) and 0 <= col < ncol):
            raise ValueError(f"{name}: expected a column index in 0..{ncol - 1}, got {col!r}")
    if pressure_column == volume_column:
        raise ValueError("pressure_column, volume_column: must be different columns")
    pressure = data[:, pressure_column] * PRESSURE_UNITS[pu]
    volume = data[:, volume_column] * VOLUME_UNITS[vu]
    if np.any(pressure < 0):
        raise ValueError(f"{p}: negative pressures in column {pressure_column}")
    if sample_mass_g is not None:
        m = float(sample_mass_g)
        if not (math.isfinite(m) and m > 0):
            raise ValueError(f"sample_mass_g: expected a positive mass, got {sample_mass_g!r}")
        volume = volume / m
    # else: per-gram volumes (documented)
    pressure, volume = _intrusion_window(p, pressure, volume, min_pressure_mpa, max_pressure_mpa)
    if rezero:
        volume = volume - volume[0]
    total = float(volume[-1])
    sat = volume / total if total > 0 else np.zeros_like(volume)
    if bulk_density_g_per_cm3 is not None:
        rho = float(bulk_density_g_per_cm3)
        if not (math.isfinite(rho) and rho > 0):
            raise ValueError(f"bulk_density_g_per_cm3: expected a positive density, got {rho}")
        frac = volume * rho * 1e-3
    else:
        frac = np.full_like(volume, np.nan)
    diameter = washburn_diameter_nm(
        pressure,
        contact_angle_deg=contact_angle_deg,
        surface_tension_n_per_m=surface_tension_n_per_m,
    )
    return MipCurve(
        diameter_nm=np.asarray(diameter, dtype=float),
        pressure_mpa=pressure,
        saturation=sat,
        intruded_fraction=frac,
        specific_volume_mm3_per_g=volume,
        porosity=float("nan"),
        label=label if label is not None else p.name,
        metadata={
            "source": str(p),
            "pressure_unit": pu,
            "volume_unit": vu,
            "sample_mass_g": sample_mass_g,
            "contact_angle_deg": float(contact_angle_deg),
            "surface_tension_n_per_m": float(surface_tension_n_per_m),
            "pressure_window_mpa": [float(pressure[0]), float(pressure[-1])],
        },
    )


def read_curve_csv(path: str | os.PathLike, *, label: str | None = None) -> MipCurve:
    """Read a curve CSV written by :meth:`MipCurve.to_csv` (contract columns).

    Raises
    ------
    ValueError
        Missing file, missing ``diameter_nm``/``pressure_mpa``/``saturation`` columns, or
        non-numeric cells.
    """
    p = Path(path)
    try:
        with open(p, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise ValueError(f"{p}: cannot read the file ({exc.strerror})") from None
    if not rows:
        raise ValueError(f"{p}: empty file")
    head = [h.strip() for h in rows[0]]
    missing = [c for c in CURVE_COLUMNS[:3] if c not in head]
    if missing:
        raise ValueError(f"{p}: not a curve CSV, missing columns {', '.join(missing)}")
    cols: dict[str, list[float]] = {h: [] for h in head}
    for lineno, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(head):
            raise ValueError(f"{p}: line {lineno} has {len(row)} cells, expected {len(head)}")
        for h, cell in zip(head, row, strict=True):
            try:
                cols[h].append(float(cell) if cell.strip() else float("nan"))
            except ValueError:
                raise ValueError(f"{p}: line {lineno}: {h} = {cell!r} is not a number") from None
    n = len(cols["diameter_nm"])
    frac = np.asarray(cols.get("intruded_fraction", [float("nan")] * n))
    spec = cols.get("specific_volume_mm3_per_g")
    sat = np.asarray(cols["saturation"])
    porosity = float("nan")
    ok = np.isfinite(frac) & (sat > 0)
    if np.any(ok):
        porosity = float(np.median(frac[ok] / sat[ok]))
    return MipCurve(
        diameter_nm=np.asarray(cols["diameter_nm"]),
        pressure_mpa=np.asarray(cols["pressure_mpa"]),
        saturation=sat,
        intruded_fraction=frac,
        specific_volume_mm3_per_g=None if spec is None else np.asarray(spec),
        porosity=porosity,
        label=label if label is not None else p.name,
        metadata={"source": str(p)},
    )


def load_mip_curve(path: str | os.PathLike, **kwargs) -> MipCurve:
    """A curve CSV (header with ``diameter_nm``) or else a raw instrument export.

    Keyword arguments go to :func:`read_mip_file` for raw exports.
    """
    p = Path(path)
    try:
        with open(p, encoding="utf-8", errors="replace") as fh:
            first = fh.readline()
    except OSError as exc:
        raise ValueError(f"{p}: cannot read the file ({exc.strerror})") from None
    if "diameter_nm" in first:
        return read_curve_csv(p, label=kwargs.get("label"))
    return read_mip_file(p, **kwargs)
