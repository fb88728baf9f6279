"""Read gas-sorption isotherms from instrument files into an :class:`Isotherm`.

Instrument exports (Micromeritics report ``.xls``, Quantachrome ASiQwin raw ``.txt``, BEL
``.xls``/``.csv``/``.dat``, 3P ``.xlsx``, the AIF-group generic CSV/Excel) are parsed by the
``adsorption-file-parser`` package, AIF files (:mod:`microstructure.physisorption.aif`) by
gemmi's CIF reader; this module only finds which parser a file needs, converts
the parsed units to p/p0 and cm3(STP)/g, labels the branches and refuses what is not an
isotherm with one line naming the file. A plain CSV with the units in its header
(:mod:`microstructure.physisorption.plain`) is read too.

References
----------
.. [1] Iacomi P. et al., adsorption-file-parser (AIF development team),
   https://github.com/AIF-development-team/adsorption-file-parser.
.. [2] Evans J.D., Bon V., Senkovska I., Kaskel S. (2021), "A universal standard archive file
   for adsorption data", Langmuir 37, 4222-4226, doi:10.1021/acs.langmuir.1c00122.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.physisorption.constants import (
    STP_MOLAR_VOLUME_CM3_PER_MOL,
    canonical_adsorptive,
)
from microstructure.physisorption.isotherm import (
    ADSORPTION,
    DESORPTION,
    Isotherm,
    split_branches,
)

__all__ = ["read_isotherm", "SUPPORTED_FORMATS"]

#: (manufacturer, fmt) pairs handed to ``adsorption_file_parser.read``, plus our plain CSV.
SUPPORTED_FORMATS = {
    "mic": ("xl",),
    "qnt": ("txt-raw",),
    "bel": ("xl", "csv", "dat"),
    "3p": ("xl",),
    "generic": ("csv", "xls"),
    "plain": ("csv",),
    "aif": ("aif",),
}

#: Loading units the parser reports, in cm3(STP) per unit.
_MOLAR_LOADING_CM3_STP = {
    "cm3(stp)": 1.0,
    "cc(stp)": 1.0,
    "ml(stp)": 1.0,
    "l(stp)": 1000.0,
    "mmol": STP_MOLAR_VOLUME_CM3_PER_MOL / 1000.0,
    "mol": STP_MOLAR_VOLUME_CM3_PER_MOL,
    "kmol": STP_MOLAR_VOLUME_CM3_PER_MOL * 1000.0,
}
_MASS_LOADING_G = {"mg": 1e-3, "g": 1.0, "kg": 1000.0}
_MATERIAL_MASS_G = {"mg": 1e-3, "g": 1.0, "kg": 1000.0}

_EXCEL = (".xls", ".xlsx", ".xlsm")


def read_isotherm(
    path: str | os.PathLike,
    *,
    manufacturer: str | None = None,
    fmt: str | None = None,
) -> Isotherm:
    """Read a gas-sorption isotherm file.

    Parameters
    ----------
    path
        The file: an instrument export or a plain CSV whose header names the columns and
        units (``p/p0,amount (cm3(STP)/g)[,branch]`` or ``pressure (torr),p0 (torr),amount
        (mmol/g)``; see :func:`microstructure.physisorption.plain.read_plain_csv`).
    manufacturer
        ``adsorption-file-parser`` manufacturer (``"mic"``, ``"qnt"``, ``"bel"``, ``"3p"``,
        ``"generic"``), ``"aif"`` (read with gemmi's CIF parser) or ``"plain"``; found from
        the extension and content when None.
    fmt
        Its format (``"xl"``, ``"txt-raw"``, ``"csv"``, ``"dat"``, ``"xls"``, ``"aif"``);
        found when None.

    Returns
    -------
    Isotherm
        p/p0, cm3(STP)/g, branch labels, adsorbate, temperature, sample mass and the
        parser's metadata; ``stated`` holds the results the instrument report states
        (Micromeritics reports: BET area, C, Qm, t-plot areas).

    Raises
    ------
    ValueError
        One line naming the file: not found, not an isotherm (e.g. a mercury intrusion
        curve), units that cannot be told, or a parser failure.

    References
    ----------
    .. [1] Evans J.D. et al. (2021), Langmuir 37, 4222-4226, doi:10.1021/acs.langmuir.1c00122.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: no such isotherm file")
    if manufacturer is None or fmt is None:
        found = _detect(p)
        manufacturer = manufacturer or found[0]
        fmt = fmt or (
            found[1] if found[0] == manufacturer else SUPPORTED_FORMATS.get(manufacturer, ("",))[0]
        )
    manufacturer, fmt = str(manufacturer).lower(), str(fmt).lower()
    if manufacturer not in SUPPORTED_FORMATS or fmt not in SUPPORTED_FORMATS[manufacturer]:
        known = "; ".join(f"{m}: {', '.join(f)}" for m, f in SUPPORTED_FORMATS.items())
        raise ValueError(f"{p}: unknown manufacturer/format {manufacturer!r}/{fmt!r} ({known})")
    if manufacturer == "plain":
        from microstructure.physisorption.plain import read_plain_csv

        return read_plain_csv(p)
    if manufacturer == "aif":
        from microstructure.physisorption.aif import read_aif

        return read_aif(p)
    if fmt in ("xl", "xls") and p.suffix.lower() in _EXCEL:
        _excel_text(p)  # a corrupt workbook is refused here, before xlrd prints on stdout
    meta, data, messages = _parse(p, manufacturer, fmt)
    iso = _to_isotherm(p, meta, data, manufacturer, fmt, messages)
    return iso


# ------------------------------------------------------------------------------ detection
def _head_text(path: Path, n: int = 4096) -> str:
    with open(path, "rb") as fh:
        raw = fh.read(n)
    return raw.decode("latin-1")


def _excel_text(path: Path) -> str:
    """The first cells of an Excel file as text (for sniffing the vendor)."""
    try:
        if path.suffix.lower() == ".xls":
            import xlrd

            book = xlrd.open_workbook(str(path), on_demand=True, logfile=io.StringIO())
            names = " ".join(book.sheet_names())
            sheet = book.sheet_by_index(0)
            cells = [
                str(sheet.cell_value(r, c))
                for r in range(min(sheet.nrows, 40))
                for c in range(min(sheet.ncols, 8))
            ]
        else:
            import openpyxl

            book = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
            names = " ".join(book.sheetnames)
            ws = book.worksheets[0]
            cells = [
                str(v)
                for row in ws.iter_rows(max_row=40, max_col=8, values_only=True)
                for v in row
                if v is not None
            ]
            book.close()
    except Exception as exc:  # noqa: BLE001 - any reader failure means "not a workbook"
        raise ValueError(f"{path}: not a readable Excel workbook ({type(exc).__name__})") from None
    return names + " " + " ".join(cells)


def _detect(path: Path) -> tuple[str, str]:
    """(manufacturer, fmt) from the extension and the first bytes of the file."""
    suffix = path.suffix.lower()
    if suffix in _EXCEL:
        text = _excel_text(path).lower()
        if "micromeritics" in text:
            return "mic", "xl"
        if "adsdes" in text or "belsorp" in text or "microtrac" in text:
            return "bel", "xl"
        if "3p instruments" in text or "3p-instruments" in text:
            return "3p", "xl"
        if "_exptl_adsorptive" in text:
            return "generic", "xls"
        raise ValueError(
            f"{path}: an Excel file of no known isotherm export (Micromeritics, BEL, 3P, "
            "generic); pass manufacturer and fmt"
        )
    head = _head_text(path)
    if suffix == ".aif" or (head.lstrip().startswith("data_") and "_adsorp_" in head):
        return "aif", "aif"
    if "\x00" in head:
        raise ValueError(f"{path}: a binary file, not an isotherm export")
    low = head.lower()
    if "quantachrome" in low or "asiqwin" in low:
        return "qnt", "txt-raw"
    if "_exptl_adsorptive" in low or "_adsnt_material_id" in low:
        return "generic", "csv"
    if "bel japan" in low or "belsorp" in low or "microtracbel" in low:
        return "bel", "dat" if suffix == ".dat" else "csv"
    return "plain", "csv"


# ------------------------------------------------------------------------------ parsing
@contextmanager
def _captured_parser_log() -> Iterator[list[str]]:
    """Silence the parser's console logger; collect its messages instead."""
    logger = logging.getLogger("adsorption_file_parser")
    messages: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    saved = (logger.handlers[:], logger.propagate)
    handler = _Collect(level=logging.INFO)
    logger.handlers = [handler]
    logger.propagate = False
    try:
        yield messages
    finally:
        logger.handlers, logger.propagate = saved


def _parse(path: Path, manufacturer: str, fmt: str) -> tuple[dict, dict, list[str]]:
    try:
        import adsorption_file_parser as afp
    except ImportError:  # pragma: no cover - a dependency
        raise ValueError(
            f"{path}: reading instrument isotherms needs the adsorption-file-parser package"
        ) from None
    # the parsers log through their own console handler and xlrd prints warnings on stdout:
    # both are collected instead (stdout carries the command's JSON)
    with _captured_parser_log() as messages, contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            meta, data = afp.read(str(path), manufacturer, fmt)
        except Exception as exc:  # noqa: BLE001 - the parsers raise anything on foreign files
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(
                f"{path}: not a {manufacturer}/{fmt} isotherm export "
                f"(adsorption-file-parser: {msg})"
            ) from None
    messages.extend(line for line in out.getvalue().splitlines() if line.strip())
    return dict(meta), dict(data), list(messages)


def _column(data: dict, key: str, path: Path) -> np.ndarray:
    values = data.get(key)
    if values is None:
        raise ValueError(f"{path}: the parsed file has no {key!r} column")
    return np.array([np.nan if v is None or v == "" else v for v in values], dtype=float)


def _relative_pressure(meta: dict, data: dict, path: Path) -> np.ndarray:
    if data.get("pressure_relative"):
        return _column(data, "pressure_relative", path)
    mode = str(meta.get("pressure_mode") or "").lower()
    if mode == "relative":
        return _column(data, "pressure", path)
    if mode == "relative%":
        return _column(data, "pressure", path) / 100.0
    if data.get("pressure_saturation") and data.get("pressure"):
        return _column(data, "pressure", path) / _column(data, "pressure_saturation", path)
    raise ValueError(
        f"{path}: cannot tell p/p0: the file gives absolute pressures "
        f"({meta.get('pressure_unit')}) without a saturation pressure"
    )


def _is_specific(meta: dict) -> bool:
    """True when the loading is per gram, False when it is the absolute amount."""
    original = meta.get("original_loading_string")
    if original:
        s = str(original).lower().replace(" ", "")
        return "/" in s or "-1" in s or "per" in s
    return bool(meta.get("material_unit"))


def _sample_mass_g(meta: dict) -> float | None:
    mass = meta.get("material_mass")
    try:
        mass = float(mass)
    except (TypeError, ValueError):
        return None
    unit = str(meta.get("material_mass_unit") or meta.get("material_unit") or "g").lower()
    factor = _MATERIAL_MASS_G.get(unit)
    return None if factor is None or not math.isfinite(mass) else mass * factor


def _loading_factor(meta: dict, path: Path, adsorbate: str) -> tuple[float, bool]:
    """(factor to cm3(STP) per material unit, specific?) from the parsed units."""
    basis = str(meta.get("loading_basis") or "").lower()
    unit = str(meta.get("loading_unit") or "").strip()
    key = unit.lower().replace(" ", "")
    if basis == "molar" and key in _MOLAR_LOADING_CM3_STP:
        factor = _MOLAR_LOADING_CM3_STP[key]
    elif basis == "mass" and key in _MASS_LOADING_G:
        from microstructure.physisorption.constants import ADSORPTIVES

        if adsorbate not in ADSORPTIVES:
            raise ValueError(f"{path}: loading in {unit} of an unknown adsorptive {adsorbate!r}")
        molar_mass = ADSORPTIVES[adsorbate].molar_mass_g_per_mol
        factor = _MASS_LOADING_G[key] / molar_mass * STP_MOLAR_VOLUME_CM3_PER_MOL
    else:
        raise ValueError(
            f"{path}: cannot tell the amount adsorbed in gas at STP from the loading units "
            f"{unit or None!r} (basis {basis or None!r})"
        )
    specific = _is_specific(meta)
    if specific:
        material = str(meta.get("material_unit") or "g").lower()
        if material not in _MATERIAL_MASS_G:
            raise ValueError(f"{path}: loading per {material!r}, not per mass")
        factor /= _MATERIAL_MASS_G[material]
    return factor, specific


def _branches(data: dict, x: np.ndarray) -> np.ndarray:
    raw = data.get("branch")
    if raw and len(raw) == x.size:
        b = np.asarray(raw)
        if b.dtype.kind in "iub" or b.dtype.kind == "f":
            return np.where(b.astype(float) > 0, DESORPTION, ADSORPTION)
        low = np.char.lower(b.astype(str))
        return np.where(np.char.startswith(low, "des"), DESORPTION, ADSORPTION)
    return split_branches(x)


def _temperature_k(meta: dict) -> float | None:
    try:
        t = float(meta.get("temperature"))
    except (TypeError, ValueError):
        return None
    unit = str(meta.get("temperature_unit") or "K")
    return t + 273.15 if "C" in unit.upper() else t


def _to_isotherm(
    path: Path, meta: dict, data: dict, manufacturer: str, fmt: str, messages: list[str]
) -> Isotherm:
    adsorbate = canonical_adsorptive(meta.get("adsorbate")) or "N2"
    if not data.get("loading"):
        raise ValueError(
            f"{path}: the parsed file holds no amount-adsorbed column (truncated, or not a "
            f"{manufacturer}/{fmt} isotherm export?)"
        )
    x = _relative_pressure(meta, data, path)
    factor, specific = _loading_factor(meta, path, adsorbate)
    n = _column(data, "loading", path) * factor
    mass = _sample_mass_g(meta)
    if not specific:
        if not mass or mass <= 0:
            raise ValueError(
                f"{path}: the amount adsorbed is absolute ({meta.get('original_loading_string')}) "
                "and the file states no sample mass"
            )
        n = n / mass
    branch = _branches(data, x)
    keep = np.isfinite(x) & np.isfinite(n)
    if int(keep.sum()) < 3:
        raise ValueError(f"{path}: fewer than 3 readable isotherm points")
    extra = {"parser_messages": messages, "dropped_points": int((~keep).sum())}
    stated = _stated_results(path, manufacturer)
    return Isotherm(
        x[keep],
        n[keep],
        branch[keep],
        adsorbate=adsorbate,
        temperature_k=_temperature_k(meta),
        sample_mass_g=mass,
        material=str(meta.get("material") or ""),
        source=str(path),
        manufacturer=manufacturer,
        fmt=fmt,
        metadata={**meta, **extra},
        stated=stated,
    )


# ------------------------------------------------------------------------------ report values
#: Labels of a Micromeritics report and the result key each states (first number after it).
_MIC_LABELS = {
    "BET Surface Area:": "bet_area_m2_per_g",
    "C:": "c_constant",
    "Qm:": "monolayer_cm3_per_g",
    "Micropore Area:": "micropore_area_m2_per_g",
    "External Surface Area:": "external_area_m2_per_g",
    "Micropore Volume:": "micropore_volume_cm3_per_g",
    "Molecular Cross-Sectional Area:": "cross_section_nm2",
}
_NUMBER = re.compile(r"[-+]?\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?")


def _first_number(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    m = _NUMBER.search(str(value))
    return float(m.group().replace(",", "")) if m else None


def _stated_results(path: Path, manufacturer: str) -> dict[str, float]:
    """Results a Micromeritics report states beside the isotherm (BET, t-plot), if any.

    The parser returns only the isotherm; the report's summary cells are labelled text
    followed by the value, e.g. ``"BET Surface Area:" | "194.7493 ± 0.5313 m²/g"``.
    """
    if manufacturer != "mic" or path.suffix.lower() != ".xls":
        return {}
    try:
        import xlrd

        sheet = xlrd.open_workbook(str(path), logfile=io.StringIO()).sheet_by_index(0)
    except Exception:  # noqa: BLE001 - the isotherm was read; the summary is optional
        return {}
    out: dict[str, float] = {}
    for r in range(sheet.nrows):
        for c in range(sheet.ncols - 1):
            label = sheet.cell_value(r, c)
            key = _MIC_LABELS.get(str(label).strip()) if isinstance(label, str) else None
            if key and key not in out:
                value = _first_number(sheet.cell_value(r, c + 1))
                if value is not None:
                    out[key] = value
    return out
