"""Columns, units, branches and runs of a measured MIP export (used by
:mod:`~microstructure.porosimetry.measured`).

References
----------
Giesche, H. (2006). Mercury porosimetry: a general (practical) overview. Particle & Particle
Systems Characterization 23, 9-19. doi:10.1002/ppsc.200601009
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from microstructure.porosimetry._measured_text import (
    PRESSURE_UNITS,
    VOLUME_UNITS,
    TextTable,
    column_units,
)

#: largest credible mercury pressure (MPa), see ``measured.MAX_PRESSURE_MPA``
MAX_PRESSURE_MPA = 1000.0
#: how low- and high-pressure runs are used
RUNS = ("merge", "low", "high")

_KIND_WORDS = (
    ("incremental", ("incremental", "incr.", "increment", "differential", "dv/d", "log diff")),
    ("diameter", ("diameter", "radius", "size", "pore d", "pore r")),
    ("area", ("area", "surface")),
    ("pressure", ("pressure", "press", "druck")),
    ("volume", ("volume", "intrusion", "intruded", "cumulative", "cum.", "vol")),
    ("fraction", ("porosity", "percent", "saturation", "%")),
)


def _column_kind(title: str) -> str | None:
    t = title.lower()
    for kind, words in _KIND_WORDS:
        if any(w in t for w in words):
            return kind
    p_unit, v_unit, _ = column_units(t)
    if p_unit:
        return "pressure"
    if v_unit:
        return "volume"
    return None


def _find_column(p: Path, spec: int | str | None, titles: list[str] | None, ncol: int, name: str):
    """Index of a column given by index or (part of) its title."""
    if spec is None:
        return None
    if isinstance(spec, bool) or not isinstance(spec, int | str):
        raise ValueError(f"{name}: expected a column index or title, got {spec!r}")
    if isinstance(spec, int):
        if not 0 <= spec < ncol:
            raise ValueError(f"{name}: expected a column index in 0..{ncol - 1}, got {spec!r}")
        return spec
    hits = [i for i, t in enumerate(titles or []) if spec.strip().lower() in t.lower()]
    if len(hits) != 1:
        raise ValueError(
            f"{name}: {spec!r} matches {len(hits)} column titles of {p.name} "
            f"({titles}); give the column index"
        )
    return hits[0]


def _pick(kinds: list[str | None], titles: list[str], want: str) -> int | None:
    idx = [i for i, k in enumerate(kinds) if k == want]
    if want == "volume" and len(idx) > 1:
        cum = [i for i in idx if "cum" in titles[i].lower()]
        idx = cum or idx
    return idx[0] if idx else None


def _table_columns(p: Path, t: TextTable, given: tuple) -> tuple[int, int]:
    """Pressure and volume column of a table: given, else from the titles, else the two
    columns of an untitled two-column table whose order is unambiguous."""
    ncol = t.rows.shape[1]
    ip = _find_column(p, given[0], t.titles, ncol, "pressure_column")
    iv = _find_column(p, given[1], t.titles, ncol, "volume_column")
    if t.titles:
        kinds = [_column_kind(x) for x in t.titles]
        ip = _pick(kinds, t.titles, "pressure") if ip is None else ip
        iv = _pick(kinds, t.titles, "volume") if iv is None else iv
        for name, col, want in (
            ("pressure_column", ip, "pressure"),
            ("volume_column", iv, "volume"),
        ):
            if col is None:
                extra = " (only incremental volumes)" if "incremental" in kinds else ""
                raise ValueError(
                    f"{p}: no {want} column among the titles {t.titles}{extra}; give {name}"
                )
            if kinds[col] not in (None, want):
                raise ValueError(
                    f"{p}: {name} {col} is titled {t.titles[col]!r} (a {kinds[col]}), not a "
                    f"{want}; give pressure_column/volume_column"
                )
    elif ip is None or iv is None:
        if ncol != 2:
            raise ValueError(
                f"{p}: {ncol} untitled columns: which is pressure and which cumulative volume "
                "cannot be told; give pressure_column and volume_column"
            )
        ip = (1 - iv if iv is not None else 0) if ip is None else ip
        iv = 1 - ip if iv is None else iv
        if given == (None, None):
            _check_untitled_order(p, t.rows)
    if ip == iv:
        raise ValueError("pressure_column, volume_column: must be different columns")
    return ip, iv


def _decades(x: np.ndarray) -> float:
    pos = x[x > 0]
    return float(np.log10(pos.max() / pos.min())) if pos.size >= 2 else 0.0


def _check_untitled_order(p: Path, rows: np.ndarray) -> None:
    """Refuse an untitled two-column table whose first column cannot be the pressure."""
    a, b = rows[:, 0], rows[:, 1]
    if np.any(a <= 0) or (_decades(a) < 1.0 <= _decades(b)):
        raise ValueError(
            f"{p}: untitled columns whose order cannot be told (column 0 spans "
            f"{a.min():.4g}..{a.max():.4g}, column 1 {b.min():.4g}..{b.max():.4g}: column 1 "
            "looks like the pressure); give pressure_column and volume_column"
        )


def _units(p: Path, t: TextTable, header: str, cols: tuple[int, int], given: tuple) -> dict:
    """Pressure unit, volume unit and per-gram flag of a table, with their sources."""
    ip, iv = cols
    p_title = t.titles[ip] if t.titles else ""
    v_title = t.titles[iv] if t.titles else ""
    tp, _, _ = column_units(p_title)
    _, tv, tg = column_units(v_title)
    hp, hv, hg = column_units(header) if not t.titles else (None, None, None)
    if tp in ("torr", "mmhg") or (tp is None and hp in ("torr", "mmhg")):
        raise ValueError(
            f"{p}: pressures in {tp or hp}: a gas sorption isotherm, not a mercury intrusion curve"
        )
    pu = given[0] or tp or hp
    vu = given[1] or tv or hv
    source = "given" if given[0] else ("title" if tp else ("header" if hp else None))
    if pu is None:
        if t.titles:
            raise ValueError(
                f"{p}: the pressure column {p_title!r} states no unit; give pressure_unit"
            )
        pu, source = "psi", "assumed (no header)"
    if vu is None:
        if t.titles:
            raise ValueError(f"{p}: the volume column {v_title!r} states no unit; give volume_unit")
        vu = "ml"
    pu, vu = str(pu).lower(), str(vu).lower()
    if pu not in PRESSURE_UNITS:
        raise ValueError(f"pressure_unit: expected one of {sorted(PRESSURE_UNITS)}, got {pu!r}")
    if vu not in VOLUME_UNITS:
        raise ValueError(f"volume_unit: expected one of {sorted(VOLUME_UNITS)}, got {vu!r}")
    per_gram = tg if tv else hg
    return {"pressure_unit": pu, "volume_unit": vu, "per_gram": per_gram, "unit_source": source}


def _branches(p: Path, tables: list[TextTable]) -> list[tuple[TextTable, str, str, slice]]:
    """(table, branch, run, rows) of every numeric table used."""
    tables = [t for t in tables if t.rows.shape[1] >= 2]
    if not tables:
        raise ValueError(f"{p}: only one column; expected pressure and cumulative volume columns")
    if len(tables) > 1:
        for prev, t in zip(tables, tables[1:], strict=False):
            if not t.roles:
                raise ValueError(
                    f"{p}: line {prev.last_line + 1} is not numeric inside the data; a second "
                    "table needs a heading naming its branch (intrusion/extrusion) or run "
                    "(low/high pressure)"
                )
    out = []
    for t in tables:
        run = "high" if "high" in t.roles else ("low" if "low" in t.roles else "single")
        if "extrusion" in t.roles and "intrusion" not in t.roles:
            out.append((t, "extrusion", run, slice(None)))
            continue
        out.append((t, "both", run, slice(None)))
    return out


def _convert(p: Path, t: TextTable, cols: tuple[int, int], units: dict) -> tuple:
    rows = t.rows
    if t.sparse:  # workbook cells: rows with a blank or text pressure/volume cell are skipped
        keep = np.isfinite(rows[:, cols[0]]) & np.isfinite(rows[:, cols[1]])
        t.skipped = int(rows.shape[0] - np.count_nonzero(keep))
        rows = rows[keep]
        if rows.shape[0] < 2:
            raise ValueError(
                f"{p}: {t.where or 'the table'} has fewer than two rows with both a pressure "
                "and a cumulative volume number"
            )
    pressure = rows[:, cols[0]] * PRESSURE_UNITS[units["pressure_unit"]]
    volume = rows[:, cols[1]] * VOLUME_UNITS[units["volume_unit"]]
    if not (np.all(np.isfinite(pressure)) and np.all(np.isfinite(volume))):
        raise ValueError(f"{p}: contains non-finite numbers")
    if np.any(pressure < 0):
        raise ValueError(f"{p}: negative pressures in column {cols[0]}")
    if np.any(volume < 0):
        raise ValueError(f"{p}: negative intruded volumes in column {cols[1]}")
    if pressure.max() > MAX_PRESSURE_MPA:
        raise ValueError(
            f"{p}: pressure {pressure.max():.4g} MPa (read as {units['pressure_unit']}) exceeds "
            f"the {MAX_PRESSURE_MPA:g} MPa of any porosimeter; check pressure_unit/pressure_column"
        )
    return pressure, volume


def _split(pressure: np.ndarray, volume: np.ndarray) -> tuple[tuple, tuple | None]:
    """Intrusion (rising pressure up to the maximum) and extrusion (after it) of one table."""
    imax = int(np.argmax(pressure))
    if 0 < imax < pressure.size - 1 and pressure[0] < pressure[imax] > pressure[-1]:
        return (pressure[: imax + 1], volume[: imax + 1]), (pressure[imax:], volume[imax:])
    return (pressure, volume), None


def _merge_runs(p: Path, runs: dict[str, tuple], mode: str) -> tuple[np.ndarray, np.ndarray, float]:
    """One intrusion branch from the low/high/single runs, by increasing pressure, and the
    volume offset added to the high-pressure run (its extrusion needs the same)."""
    if mode not in RUNS:
        raise ValueError(f"runs: expected one of {RUNS}, got {mode!r}")
    for name in runs:
        order = np.argsort(runs[name][0], kind="stable")
        runs[name] = (runs[name][0][order], runs[name][1][order])
    if mode in ("low", "high"):
        if mode not in runs:
            raise ValueError(
                f"runs: {p.name} has no run headed as {mode} pressure (runs found: "
                f"{', '.join(runs)}); use min_pressure_mpa/max_pressure_mpa to window instead"
            )
        return (*runs[mode], 0.0)
    if "single" in runs and len(runs) == 1:
        return (*runs["single"], 0.0)
    if "low" in runs and "high" in runs:
        (pl, vl), (ph, vh) = runs["low"], runs["high"]
        if ph[0] > pl[-1]:
            raise ValueError(
                f"{p}: the high-pressure run starts at {ph[0]:.4g} MPa, above the end of the "
                f"low-pressure run ({pl[-1]:.4g} MPa): the runs do not overlap, cannot merge"
            )
        offset = float(np.interp(ph[0], pl, vl)) - float(vh[0])
        keep = pl < ph[0]
        return np.concatenate([pl[keep], ph]), np.concatenate([vl[keep], vh + offset]), offset
    raise ValueError(f"{p}: runs {sorted(runs)}: expected one run or a low and a high run")


def _extrusion_in_sample(p: Path, ext: tuple, run: tuple, tolerance: float) -> tuple[tuple, str]:
    """The extrusion branch as the volume still in the sample (as the intrusion branch).

    A column that grows while the pressure falls holds the extruded volume (e.g. titled
    ``Cumulative Extrusion``): it becomes the intruded volume at the top pressure of its run
    minus the extruded volume. A column that grows beyond the intruded volume is refused.
    """
    pr, vo = ext
    if vo.size < 2:
        return ext, "in sample"
    top = float(run[1][np.argmax(run[0])])
    start, end = float(vo[np.argmax(pr)]), float(vo[np.argmin(pr)])
    span = max(top - float(np.min(run[1])), 0.0)
    if not end - start > tolerance * span:
        return ext, "in sample"
    if float(np.max(vo)) - start > (1 + tolerance) * span:
        raise ValueError(
            f"{p}: the extrusion volume grows to {np.max(vo):.4g} while the pressure falls, more "
            f"than the {span:.4g} intruded: neither the volume in the sample nor the extruded "
            "volume (check the extrusion table)"
        )
    return (pr, top - (vo - start)), "extruded (converted to the volume in the sample)"
