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

__all__ = [
    "read_mip_file",
    "read_curve_csv",
    "load_mip_curve",
    "PRESSURE_UNITS",
    "VOLUME_UNITS",
    "MAX_PRESSURE_MPA",
    "VOLUME_DROP_TOLERANCE",
]

#: pressure unit -> MPa
PRESSURE_UNITS = {
    "psi": 0.00689475729,
    "psia": 0.00689475729,
    "mpa": 1.0,
    "kpa": 1e-3,
    "pa": 1e-6,
    "bar": 0.1,
    "atm": 0.101325,
}
#: volume unit -> mm3
VOLUME_UNITS = {"ml": 1000.0, "cm3": 1000.0, "cc": 1000.0, "mm3": 1.0, "ul": 1.0, "l": 1e6}
#: highest credible mercury pressure (MPa): porosimeters reach 414 MPa (60 000 psia); a
#: larger value means a wrong unit or column (Washburn diameter below 1.3 nm)
MAX_PRESSURE_MPA = 1000.0
#: largest drop of the cumulative volume along the intrusion branch, relative to the total
#: intruded volume, accepted as instrument noise (flattened by a running maximum)
VOLUME_DROP_TOLERANCE = 0.05

_SPLIT = re.compile(r"[\s,;]+")


def _detect_units(header: str) -> tuple[str | None, str | None, bool | None]:
    h = header.lower()
    p = None
    for key in ("psia", "psi", "mpa", "kpa", "pa", "atm", "bar"):
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
    if v is None and re.search(r"\bl\b\s*(/|per\b|\))", h):  # litres: "(L/g)", "(L)"
        v = "l"
    per_gram = True if re.search(r"/\s*g\b|per\s+gram", h) else None
    return p, v, per_gram


_COLUMN_WORDS = {
    "pressure": ("pressure", "press"),
    "volume": ("volume", "intrusion", "intruded", "cumulative"),
    "diameter": ("diameter", "radius", "size"),
}


def _header_columns(header: str, ncol: int) -> list[str] | None:
    """The last header line split into ``ncol`` column titles (None when it does not fit)."""
    lines = [ln for ln in header.splitlines() if ln.strip()]
    if not lines:
        return None
    last = lines[-1]
    sep = re.compile(r"[\t,;]") if re.search(r"[\t,;]", last) else re.compile(r"\s{2,}|\s+")
    cells = [c.strip() for c in sep.split(last.strip()) if c.strip()]
    return cells if len(cells) == ncol else None


def _column_kind(title: str) -> str | None:
    t = title.lower()
    for kind, words in _COLUMN_WORDS.items():
        if any(w in t for w in words):
            return kind
    return None


def _columns_from_header(
    p: Path, titles: list[str] | None, pressure_column: int | None, volume_column: int | None
) -> tuple[int, int, str, str]:
    """Pressure and volume column indices (given, else from the titles, else 0 and 1) and
    the header text to search for each column's unit."""
    kinds = [_column_kind(t) for t in titles] if titles else []
    if pressure_column is None:
        pressure_column = kinds.index("pressure") if "pressure" in kinds else 0
    if volume_column is None:
        volume_column = kinds.index("volume") if "volume" in kinds else 1
    for name, col, want in (
        ("pressure_column", pressure_column, "pressure"),
        ("volume_column", volume_column, "volume"),
    ):
        if kinds and 0 <= col < len(kinds) and kinds[col] not in (None, want):
            raise ValueError(
                f"{p}: {name} {col} is titled {titles[col]!r} (a {kinds[col]}), not a {want}; "  # type: ignore[index]
                "give pressure_column/volume_column"
            )
    p_text = titles[pressure_column] if titles and 0 <= pressure_column < len(titles) else ""
    v_text = titles[volume_column] if titles and 0 <= volume_column < len(titles) else ""
    return pressure_column, volume_column, p_text, v_text


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
    if np.count_nonzero(sel) >= 2 and np.ptp(pressure[sel]) <= 0:
        raise ValueError(
            f"{p}: the pressure is constant ({pressure[sel][0]:.4g} MPa); check pressure_column"
        )
    if np.count_nonzero(sel) < 2:
        raise ValueError(
            f"min_pressure_mpa/max_pressure_mpa: fewer than two points of {p.name} in the "
            f"window {lo:g}..{hi:g} MPa (data span {pressure.min():.4g}..{pressure.max():.4g})"
        )
    pressure, volume = pressure[sel], volume[sel]
    running = np.maximum.accumulate(volume)
    span = float(volume.max() - volume.min())
    drop = float(np.max(running - volume))
    if span > 0 and drop > VOLUME_DROP_TOLERANCE * span:
        i = int(np.argmax(running - volume))
        raise ValueError(
            f"{p}: the cumulative volume decreases by {100 * drop / span:.0f} % of the intruded "
            f"volume (at {pressure[i]:.4g} MPa) while the pressure rises; expected a cumulative "
            "intrusion column (check volume_column and the row order)"
        )
    return pressure, running


def _columns_in_mpa_mm3(
    p: Path, data: np.ndarray, header: str, units: tuple, columns: tuple
) -> tuple[np.ndarray, np.ndarray, str, str, int]:
    """(pressure in MPa, volume in mm3, pressure unit, volume unit, volume column) of the
    rows: columns and units as given, else from the header; impossible values refused."""
    pressure_unit, volume_unit = units
    pressure_column, volume_column = columns
    titles = _header_columns(header, data.shape[1])
    pressure_column, volume_column, p_title, v_title = _columns_from_header(
        p, titles, pressure_column, volume_column
    )
    h_p, h_v, _per_gram = _detect_units(header)
    if p_title:  # a column's own title beats the rest of the header
        h_p = _detect_units(p_title)[0] or h_p
    if v_title:
        h_v = _detect_units(v_title)[1] or h_v
    pu = str(pressure_unit or h_p or "psi").lower()
    vu = str(volume_unit or h_v or "ml").lower()
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
    if np.any(volume < 0):
        raise ValueError(f"{p}: negative intruded volumes in column {volume_column}")
    if pressure.max() > MAX_PRESSURE_MPA:
        raise ValueError(
            f"{p}: pressure {pressure.max():.4g} MPa (read as {pu}) exceeds the "
            f"{MAX_PRESSURE_MPA:g} MPa of any porosimeter; check pressure_unit/pressure_column"
        )
    return pressure, volume, pu, vu, volume_column


def read_mip_file(
    path: str | os.PathLike,
    *,
    pressure_unit: str | None = None,
    volume_unit: str | None = None,
    sample_mass_g: float | None = None,
    pressure_column: int | None = None,
    volume_column: int | None = None,
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
        ``psi``, ``mpa``, ``kpa``, ``pa``, ``bar`` or ``atm``; default from the header (the
        pressure column's title first), else ``psi``.
    volume_unit
        ``ml`` (= ``cm3``, ``cc``), ``mm3``, ``ul``, ``l``; default from the header (the
        volume column's title first), else ``ml``.
    sample_mass_g
        Sample mass (g) when the volumes are absolute; ``None`` means per-gram volumes.
    pressure_column, volume_column
        Zero-based column indices; default from the column titles of the last header line
        (``Pressure``, ``Volume``/``Intrusion``), else 0 and 1. A column titled as another
        quantity (e.g. ``Diameter`` as the pressure column) is refused.
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
        column indices, an empty pressure window, negative volumes, a pressure above
        ``MAX_PRESSURE_MPA``, constant pressure, no intruded volume, or a cumulative volume
        that drops by more than ``VOLUME_DROP_TOLERANCE`` of the intruded volume.
    """
    p = Path(path)
    check_mercury_parameters(contact_angle_deg, surface_tension_n_per_m)
    data, header = _parse_rows(p)
    pressure, volume, pu, vu, volume_column = _columns_in_mpa_mm3(
        p, data, header, (pressure_unit, volume_unit), (pressure_column, volume_column)
    )
    if sample_mass_g is not None:
        m = float(sample_mass_g)
        if not (math.isfinite(m) and m > 0):
            raise ValueError(f"sample_mass_g: expected a positive mass, got {sample_mass_g!r}")
        volume = volume / m
    # else: per-gram volumes (documented)
    pressure, volume = _intrusion_window(p, pressure, volume, min_pressure_mpa, max_pressure_mpa)
    if rezero:
        volume = volume - volume[0]
    if not float(volume[-1] - volume[0]) > 0:
        raise ValueError(
            f"{p}: no volume is intruded between {pressure[0]:.4g} and {pressure[-1]:.4g} MPa "
            f"(column {volume_column} does not increase); check volume_column"
        )
    sat = volume / float(volume[-1])
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


#: saturation may exceed 1 by this much (rounding in a written CSV)
_SATURATION_SLACK = 1e-6


def _check_curve_columns(p: Path, cols: dict[str, list[float]], n: int) -> None:
    """One-line ``ValueError`` naming the file, column and line of the first impossible value:
    no rows, non-finite or non-positive diameter/pressure, saturation outside [0, 1]."""
    if n == 0:
        raise ValueError(f"{p}: the curve has no rows")
    checks = (
        ("diameter_nm", lambda v: math.isfinite(v) and v > 0, "a positive diameter"),
        ("pressure_mpa", lambda v: math.isfinite(v) and v > 0, "a positive pressure"),
        (
            "saturation",
            lambda v: math.isfinite(v) and -_SATURATION_SLACK <= v <= 1 + _SATURATION_SLACK,
            "a saturation in [0, 1]",
        ),
        (
            "intruded_fraction",
            lambda v: math.isnan(v) or 0 <= v <= 1 + _SATURATION_SLACK,
            "a fraction in [0, 1] or empty",
        ),
        (
            "specific_volume_mm3_per_g",
            lambda v: math.isnan(v) or (math.isfinite(v) and v >= 0),
            "a volume >= 0 or empty",
        ),
    )
    for name, ok, want in checks:
        for i, v in enumerate(cols.get(name, ())):
            if not ok(v):
                raise ValueError(f"{p}: line {i + 2}: {name} = {v!r} is not {want}")


def read_curve_csv(path: str | os.PathLike, *, label: str | None = None) -> MipCurve:
    """Read a curve CSV written by :meth:`MipCurve.to_csv` (contract columns).

    Raises
    ------
    ValueError
        Missing file, missing ``diameter_nm``/``pressure_mpa``/``saturation`` columns,
        non-numeric cells, no rows, or impossible values (NaN or non-positive diameter or
        pressure, saturation outside [0, 1], negative volumes).
    """
    p = Path(path)
    try:
        with open(p, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise ValueError(f"{p}: cannot read the file ({exc.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{p}: not a UTF-8 curve CSV ({exc})") from None
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
    _check_curve_columns(p, cols, n)
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
