"""Reading measured mercury intrusion curves (instrument exports) and curve CSVs.

Instrument exports are text: Micromeritics AutoPore report/text exports, Thermo Pascal
140/440 + SOLID text exports, Quantachrome PoreMaster exports, or any CSV/TSV with a
pressure and a cumulative volume column (named by the header, or given explicitly:
``pressure_column=``/``volume_column=`` by index or title). What is read:

- columns by their titles (``Pressure``, ``Cumulative volume``/``Intrusion``; incremental,
  diameter, area columns are recognised and not taken for the volume);
- units from each column's title, else the header (Pa, kPa, MPa, psi(a), atm, bar; mL, cm3,
  cc, mm3, uL, L; per gram when the title says ``/g``, else absolute and divided by the
  sample mass given or stated in the header);
- decimal commas (tab-, semicolon- or whitespace-separated exports);
- intrusion and extrusion: a table whose pressure rises then falls, or tables under
  ``Intrusion``/``Extrusion`` headings; low- and high-pressure runs (headings ``Low
  pressure``/``High pressure``, ``Pascal 140``/``Pascal 440``) merged (the high-pressure run
  continued from the low-pressure volume at its first pressure) or one of them alone;
- an extrusion column that grows while the pressure falls (extruded volume, e.g.
  ``Cumulative Extrusion``) is turned into the volume still in the sample;
- the sample mass, bulk density and bulk volume stated in the header, and the instrument's
  contact angle and surface tension (reported in ``header_washburn``, not applied).

Excel workbooks (AutoPore IV/V ``.xls`` exports read with ``xlrd``, ``.xlsx`` with
``openpyxl``) and HTML tables saved as ``.xls`` are turned into the same tables
(:mod:`~microstructure.porosimetry._measured_xls`): the sheet with the intrusion table is
read (or the one given by ``sheet=``), blank or text cells in the pressure or volume column
skip their row, merged title cells cover their columns, the sheet used is in ``source``.

Refused with one line naming the file: binary files and corrupt workbooks, gas sorption
isotherms (Torr, mmHg, p/p0, STP, "adsorption"), pressures above ``MAX_PRESSURE_MPA`` or
(unit not given) never above ``MIN_TOP_PRESSURE_MPA`` or spanning less than a decade,
negative or decreasing cumulative volumes, specific volumes above
``MAX_SPECIFIC_VOLUME_MM3_PER_G``, columns whose meaning or unit cannot be told from the
header, and absolute volumes without a mass. Pressures become diameters by the Washburn
equation (:mod:`~microstructure.porosimetry.washburn`).

References
----------
Washburn, E. W. (1921). The dynamics of capillary flow. Physical Review 17, 273-283.
doi:10.1103/PhysRev.17.273

Giesche, H. (2006). Mercury porosimetry: a general (practical) overview. Particle & Particle
Systems Characterization 23, 9-19. doi:10.1002/ppsc.200601009
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.porosimetry import _measured_columns as _cols
from microstructure.porosimetry._measured_columns import (
    _branches,
    _convert,
    _extrusion_in_sample,
    _merge_runs,
    _split,
    _table_columns,
    _units,
)
from microstructure.porosimetry._measured_text import (
    PRESSURE_UNITS,
    VOLUME_UNITS,
    ParsedText,
    header_value,
    parse_text,
    washburn_header_values,
)
from microstructure.porosimetry._measured_xls import parse_workbook, workbook_format
from microstructure.porosimetry.distribution import CURVE_COLUMNS, MipCurve
from microstructure.porosimetry.washburn import (
    CONTACT_ANGLE_DEG,
    SURFACE_TENSION_N_PER_M,
    check_mercury_parameters,
    washburn_diameter_nm,
)

__all__ = [
    "MipExport",
    "read_mip_export",
    "read_mip_file",
    "read_curve_csv",
    "load_mip_curve",
    "PRESSURE_UNITS",
    "VOLUME_UNITS",
    "MAX_PRESSURE_MPA",
    "MIN_TOP_PRESSURE_MPA",
    "MAX_SPECIFIC_VOLUME_MM3_PER_G",
    "VOLUME_DROP_TOLERANCE",
    "RUNS",
]

#: highest credible mercury pressure (MPa): porosimeters reach 414 MPa (60 000 psia); a
#: larger value means a wrong unit or column (Washburn diameter below 1.3 nm)
MAX_PRESSURE_MPA = _cols.MAX_PRESSURE_MPA
#: a mercury intrusion export reaches above this pressure (MPa); a file that never does is
#: a gas isotherm's range (<= 1 atm) or a wrong unit
MIN_TOP_PRESSURE_MPA = 0.12
#: largest credible specific intruded volume (mm3/g = 20 mL/g, beyond aerogels); more means
#: a wrong volume unit, a missing mass or swapped columns
MAX_SPECIFIC_VOLUME_MM3_PER_G = 20_000.0
#: largest drop of the cumulative volume along the intrusion branch, relative to the total
#: intruded volume, accepted as instrument noise (flattened by a running maximum)
VOLUME_DROP_TOLERANCE = 0.05
#: how low- and high-pressure runs are used
RUNS = _cols.RUNS


@dataclass
class MipExport:
    """A measured MIP export as read: intrusion and extrusion branches in MPa and mm3/g.

    Attributes
    ----------
    path
        The file.
    instrument
        ``autopore``, ``pascal``, ``poremaster`` or ``generic`` (from the header words).
    intrusion_pressure_mpa, intrusion_volume_mm3_per_g
        Intrusion branch by increasing pressure (runs merged or chosen), cumulative volume
        per gram as read (not re-zeroed, not made monotonic).
    extrusion_pressure_mpa, extrusion_volume_mm3_per_g
        Extrusion branch by decreasing pressure (volume still in the sample), or None.
    sample_mass_g, bulk_density_g_per_cm3, bulk_volume_mm3
        Given or stated in the header (None when unknown).
    units
        ``pressure_unit``, ``volume_unit``, ``per_gram`` and where they came from.
    runs
        The runs found (``name``, pressure span in MPa, ``used``).
    header_washburn
        ``contact_angle_deg`` and ``surface_tension_n_per_m`` stated in the header (the
        instrument's Washburn parameters, e.g. AutoPore's 140 deg / 485 dyn/cm); reported,
        not applied: :func:`read_mip_file` uses the values it is given.
    source
        How the file was read: ``format`` (``text``, ``xls``, ``xlsx``, ``html``); for
        workbooks the ``sheet`` read, all ``sheets`` and the ``tables`` used (sheet, rows)
        and ``skipped_rows`` (rows with a blank or text pressure/volume cell).
    """

    path: str
    instrument: str
    intrusion_pressure_mpa: np.ndarray
    intrusion_volume_mm3_per_g: np.ndarray
    extrusion_pressure_mpa: np.ndarray | None = None
    extrusion_volume_mm3_per_g: np.ndarray | None = None
    sample_mass_g: float | None = None
    bulk_density_g_per_cm3: float | None = None
    bulk_volume_mm3: float | None = None
    units: dict[str, Any] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    decimal_comma: bool = False
    source: dict[str, Any] = field(default_factory=lambda: {"format": "text"})
    header_washburn: dict[str, float] = field(default_factory=dict)

    @property
    def total_intruded_mm3_per_g(self) -> float:
        """Largest cumulative intruded volume minus the first value, mm3/g."""
        v = self.intrusion_volume_mm3_per_g
        return float(np.max(v) - v[0])

    @property
    def entrapment_fraction(self) -> float:
        """Hg entrapped after extrusion / Hg intruded (0..1; NaN without extrusion).

        The volume still in the sample at the end of extrusion (lowest pressure), above
        the volume at the start of intrusion, over the total intruded volume.
        """
        if self.extrusion_volume_mm3_per_g is None or self.extrusion_volume_mm3_per_g.size < 2:
            return float("nan")
        total = self.total_intruded_mm3_per_g
        if not total > 0:
            return float("nan")
        left = float(self.extrusion_volume_mm3_per_g[-1] - self.intrusion_volume_mm3_per_g[0])
        return float(min(max(left / total, 0.0), 1.0))

    def summary(self) -> dict[str, Any]:
        """JSON-ready description of what was read."""
        ext = self.extrusion_pressure_mpa
        return {
            "path": self.path,
            "instrument": self.instrument,
            "n_intrusion_points": int(self.intrusion_pressure_mpa.size),
            "n_extrusion_points": 0 if ext is None else int(ext.size),
            "sample_mass_g": self.sample_mass_g,
            "bulk_density_g_per_cm3": self.bulk_density_g_per_cm3,
            "bulk_volume_mm3": self.bulk_volume_mm3,
            "decimal_comma": self.decimal_comma,
            "runs": self.runs,
            "source": self.source,
            "header_washburn": self.header_washburn,
            **self.units,
        }


def _instrument(header: str) -> str:
    h = header.lower()
    if "autopore" in h or "micromeritics" in h:
        return "autopore"
    if "pascal" in h or "solid" in h or "porotec" in h or "thermo" in h:
        return "pascal"
    if "poremaster" in h or "quantachrome" in h:
        return "poremaster"
    return "generic"


def read_mip_export(
    path: str | os.PathLike,
    *,
    pressure_unit: str | None = None,
    volume_unit: str | None = None,
    sample_mass_g: float | None = None,
    pressure_column: int | str | None = None,
    volume_column: int | str | None = None,
    runs: str = "merge",
    decimal: str = "auto",
    sheet: str | int | None = None,
) -> MipExport:
    """Read an instrument export into intrusion and extrusion branches (MPa, mm3/g).

    Parameters
    ----------
    path
        Text export (see the module notes for the layouts read).
    pressure_unit, volume_unit
        Override the units of the header (``psi``, ``mpa``, ``kpa``, ``pa``, ``bar``,
        ``atm``; ``ml``/``cm3``/``cc``, ``mm3``, ``ul``, ``l``). An untitled two-column
        file (pressure, cumulative volume) defaults to psi and mL; a titled column without
        a unit is an error.
    sample_mass_g
        Sample mass (g): divides absolute volumes; default from the header. Per-gram
        volumes (title ``.../g``) are not divided. An untitled file's volumes are per gram
        unless a mass is given.
    pressure_column, volume_column
        Column index or (part of) its title, for a generic CSV (explicit column mapping).
    runs
        ``merge`` (low- and high-pressure runs joined), ``low`` or ``high`` (one run only;
        Beuse et al. 2021, doi:10.3390/batteries7040070, used the high-pressure run).
    decimal
        ``auto`` (detect decimal commas), ``.`` or ``,`` (in a workbook: of numbers stored
        as text cells).
    sheet
        Workbooks only: the sheet to read (name or 0-based index); default the first sheet
        with an intrusion table.

    Returns
    -------
    MipExport

    Raises
    ------
    ValueError
        One line naming the file: see the module notes for what is refused.
    """
    p = Path(path)
    parsed = _parse(p, decimal, sheet)
    header = parsed.header
    used = _branches(p, parsed.tables)
    run_data: dict[str, tuple] = {}
    ext: tuple | None = None
    ext_run = ""
    units: dict = {}
    for t, branch, run, _ in used:
        cols = _table_columns(p, t, (pressure_column, volume_column))
        units = _units(p, t, header, cols, (pressure_unit, volume_unit))
        pr, vo = _convert(p, t, cols, units)
        if branch == "extrusion":
            ext, ext_run = (pr, vo), run
            continue
        intr, tail = _split(pr, vo)
        if run in run_data:
            raise ValueError(f"{p}: two intrusion tables of the {run} run; cannot tell them apart")
        run_data[run] = intr
        if tail is not None and (ext is None or run == "high"):
            ext, ext_run = tail, run
    if not run_data:
        raise ValueError(f"{p}: only extrusion data; no intrusion branch found")
    span = {k: [float(v[0].min()), float(v[0].max())] for k, v in run_data.items()}
    pressure, volume, offset = _merge_runs(p, dict(run_data), runs)
    if ext is not None:
        base = run_data.get(ext_run) or next(iter(run_data.values()))
        ext, units["extrusion_volume"] = _extrusion_in_sample(p, ext, base, VOLUME_DROP_TOLERANCE)
    if ext is not None and runs == "merge" and ext_run == "high":
        ext = (ext[0], ext[1] + offset)
    elif ext is not None and runs in ("low", "high") and ext_run not in (runs, "single"):
        ext = None
    mass = sample_mass_g if sample_mass_g is not None else header_value(header, "sample_mass_g")
    per_gram = units.get("per_gram")
    if mass is not None:
        m = float(mass)
        if not (math.isfinite(m) and m > 0):
            raise ValueError(f"sample_mass_g: expected a positive mass, got {mass!r}")
    if per_gram is False and mass is None:
        raise ValueError(
            f"{p}: absolute volumes ({units['volume_unit']}) and no sample mass in the header; "
            "give sample_mass_g"
        )
    divide = mass is not None and not per_gram
    volume = volume / float(mass) if divide else volume
    if ext is not None:
        ext = (ext[0], ext[1] / float(mass) if divide else ext[1])
    _check_ranges(p, pressure, volume, units)
    units = {**units, "per_gram": bool(per_gram) if per_gram is not None else not divide}
    return MipExport(
        path=str(p),
        instrument=_instrument(header),
        intrusion_pressure_mpa=pressure,
        intrusion_volume_mm3_per_g=volume,
        extrusion_pressure_mpa=None if ext is None else ext[0],
        extrusion_volume_mm3_per_g=None if ext is None else ext[1],
        sample_mass_g=None if mass is None else float(mass),
        bulk_density_g_per_cm3=header_value(header, "bulk_density_g_per_cm3"),
        bulk_volume_mm3=header_value(header, "bulk_volume_mm3"),
        units=units,
        runs=[
            {"name": k, "pressure_span_mpa": v, "used": runs in ("merge", k)}
            for k, v in span.items()
        ],
        decimal_comma=parsed.decimal_comma,
        source=_source(parsed, used),
        header_washburn=washburn_header_values(header),
    )


def _parse(p: Path, decimal: str, sheet: str | int | None) -> ParsedText:
    """The tables of a text export or of a workbook (recognised by its bytes)."""
    fmt = workbook_format(p)
    if fmt is None:
        if sheet is not None:
            raise ValueError(f"sheet: {p.name} is a text export, not a workbook")
        return parse_text(p, decimal=decimal)
    return parse_workbook(p, fmt, decimal=decimal, sheet=sheet)


def _source(parsed: ParsedText, used: list) -> dict[str, Any]:
    """How the file was read, with the rows skipped for blank or text cells (workbooks)."""
    src = dict(parsed.source)
    if src.get("format", "text") != "text":
        src["skipped_rows"] = int(sum(t.skipped for t, *_ in used))
    return src


def _check_ranges(p: Path, pressure: np.ndarray, volume: np.ndarray, units: dict) -> None:
    """Refuse pressures and volumes no mercury intrusion curve has."""
    top = float(pressure.max())
    if top < MIN_TOP_PRESSURE_MPA and units.get("unit_source") != "given":
        raise ValueError(
            f"{p}: the pressure never exceeds {top:.4g} MPa (read as {units['pressure_unit']}): "
            "a gas isotherm's range or a wrong unit, not a mercury intrusion curve"
        )
    pos = pressure[pressure > 0]
    guessed = units.get("unit_source") != "given"
    if pos.size < 2 or (guessed and pos.max() < 10 * pos.min()):
        raise ValueError(
            f"{p}: the pressure spans {pos.min() if pos.size else 0:.4g}..{top:.4g} MPa, less "
            "than a decade: not an intrusion curve (check pressure_column)"
        )
    if float(volume.max()) > MAX_SPECIFIC_VOLUME_MM3_PER_G:
        raise ValueError(
            f"{p}: specific volume {volume.max():.4g} mm3/g (read as {units['volume_unit']}"
            f"{'/g' if units.get('per_gram') else ''}) exceeds {MAX_SPECIFIC_VOLUME_MM3_PER_G:g}"
            " mm3/g; check volume_unit, sample_mass_g and the column order"
        )


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


def read_mip_file(
    path: str | os.PathLike,
    *,
    pressure_unit: str | None = None,
    volume_unit: str | None = None,
    sample_mass_g: float | None = None,
    pressure_column: int | str | None = None,
    volume_column: int | str | None = None,
    min_pressure_mpa: float | None = None,
    max_pressure_mpa: float | None = None,
    rezero: bool = True,
    bulk_density_g_per_cm3: float | None = None,
    contact_angle_deg: float = CONTACT_ANGLE_DEG,
    surface_tension_n_per_m: float = SURFACE_TENSION_N_PER_M,
    label: str | None = None,
    runs: str = "merge",
    decimal: str = "auto",
    sheet: str | int | None = None,
) -> MipCurve:
    """Read the intrusion branch of a measured export into a :class:`MipCurve`.

    Parameters
    ----------
    path, pressure_unit, volume_unit, sample_mass_g, pressure_column, volume_column, runs, \
decimal, sheet
        As in :func:`read_mip_export` (which reads the file).
    min_pressure_mpa, max_pressure_mpa
        Pressure window (MPa); Beuse et al. (2021, doi:10.3390/batteries7040070) used
        only the high-pressure run (0.1-400 MPa).
    rezero
        Subtract the volume at the window's lowest pressure (volume intruded below the window,
        e.g. between samples, is not pore volume).
    bulk_density_g_per_cm3
        Sample bulk density, to report ``intruded_fraction`` (volume / sample volume);
        default: the bulk density stated in the header, if any.
    contact_angle_deg, surface_tension_n_per_m
        Washburn parameters for the pressure -> diameter conversion.
    label
        Curve label (default: the file name).

    Returns
    -------
    MipCurve with rows by increasing pressure; ``saturation`` is relative to the total
    intruded volume in the window; cumulative volume made monotonic (running maximum).
    ``metadata`` holds the units, runs, instrument and the extrusion summary.

    Raises
    ------
    ValueError
        Everything :func:`read_mip_export` refuses, an empty pressure window, constant
        pressure, no intruded volume, or a cumulative volume that drops by more than
        ``VOLUME_DROP_TOLERANCE`` of the intruded volume.
    """
    p = Path(path)
    check_mercury_parameters(contact_angle_deg, surface_tension_n_per_m)
    exp = read_mip_export(
        p,
        pressure_unit=pressure_unit,
        volume_unit=volume_unit,
        sample_mass_g=sample_mass_g,
        pressure_column=pressure_column,
        volume_column=volume_column,
        runs=runs,
        decimal=decimal,
        sheet=sheet,
    )
    pressure, volume = _intrusion_window(
        p,
        exp.intrusion_pressure_mpa,
        exp.intrusion_volume_mm3_per_g,
        min_pressure_mpa,
        max_pressure_mpa,
    )
    if rezero:
        volume = volume - volume[0]
    if not float(volume[-1] - volume[0]) > 0:
        raise ValueError(
            f"{p}: no volume is intruded between {pressure[0]:.4g} and {pressure[-1]:.4g} MPa "
            "(the volume column does not increase); check volume_column"
        )
    sat = volume / float(volume[-1])
    rho = (
        bulk_density_g_per_cm3 if bulk_density_g_per_cm3 is not None else exp.bulk_density_g_per_cm3
    )
    if rho is not None:
        rho = float(rho)
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
            **exp.units,
            "instrument": exp.instrument,
            "runs": exp.runs,
            "source_file": exp.source,
            "header_washburn": exp.header_washburn,
            "sample_mass_g": exp.sample_mass_g,
            "header_bulk_density_g_per_cm3": exp.bulk_density_g_per_cm3,
            "header_bulk_volume_mm3": exp.bulk_volume_mm3,
            "contact_angle_deg": float(contact_angle_deg),
            "surface_tension_n_per_m": float(surface_tension_n_per_m),
            "pressure_window_mpa": [float(pressure[0]), float(pressure[-1])],
            "hg_entrapment_fraction": exp.entrapment_fraction,
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
    if workbook_format(p) is not None:
        return read_mip_file(p, **kwargs)
    try:
        with open(p, encoding="utf-8", errors="replace") as fh:
            first = fh.readline()
    except OSError as exc:
        raise ValueError(f"{p}: cannot read the file ({exc.strerror})") from None
    if "diameter_nm" in first:
        return read_curve_csv(p, label=kwargs.get("label"))
    return read_mip_file(p, **kwargs)
