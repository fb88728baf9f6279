"""A plain two- or three-column isotherm table whose header states the units.

Accepted headers (case-insensitive; separators comma, semicolon, tab or blanks; a decimal
comma with semicolon or tab separators)::

    p/p0, amount (cm3(STP)/g)[, branch]
    pressure (torr), p0 (torr), amount (mmol/g)[, branch]

Relative pressure: ``p/p0``, ``p/po``, ``relative pressure``. Absolute pressure: ``pressure``
or ``p`` with a unit (torr, mmHg, Pa, kPa, bar, mbar, atm) and a ``p0`` column in a unit of
that list. Amount: ``amount``/``quantity``/``volume``/``loading``/``n`` with one of
cm3(STP)/g, cc(STP)/g, mL(STP)/g, mmol/g, mol/kg, mol/g (volumes must say STP). Branch:
``ads``/``des`` (or ``adsorption``/``desorption``, 0/1); from the measurement order when
absent. Lines starting with ``#`` may give ``# adsorbate: N2``, ``# temperature_k: 77.3``,
``# sample_mass_g: 0.1013``, ``# material: name``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from microstructure.physisorption.constants import STP_MOLAR_VOLUME_CM3_PER_MOL
from microstructure.physisorption.isotherm import (
    ADSORPTION,
    DESORPTION,
    Isotherm,
    split_branches,
)

__all__ = ["read_plain_csv", "PRESSURE_PA", "AMOUNT_CM3_STP_PER_G", "normalise_amount_unit"]

#: Pressure units, in Pa per unit.
PRESSURE_PA = {
    "torr": 133.322,
    "mmhg": 133.322,
    "pa": 1.0,
    "kpa": 1e3,
    "mpa": 1e6,
    "bar": 1e5,
    "mbar": 100.0,
    "atm": 101325.0,
}
#: Specific-amount units (normalised, see :func:`normalise_amount_unit`), in cm3(STP)/g.
AMOUNT_CM3_STP_PER_G = {
    "cm3(stp)/g": 1.0,
    "cm3/gstp": 1.0,
    "cc(stp)/g": 1.0,
    "cc/gstp": 1.0,
    "ml(stp)/g": 1.0,
    "ml/gstp": 1.0,
    "cm3stp/g": 1.0,
    "mmol/g": STP_MOLAR_VOLUME_CM3_PER_MOL / 1000.0,
    "mol/kg": STP_MOLAR_VOLUME_CM3_PER_MOL / 1000.0,
    "mol/g": STP_MOLAR_VOLUME_CM3_PER_MOL,
}
_REL = re.compile(r"^(p\s*/\s*p[0o°]|relative\s+pressure|p_over_p0|prel)\b")
_ABS = re.compile(r"^(p|pressure|absolute\s+pressure)\s*[\(\[]\s*([^\)\]]+)[\)\]]")
_SAT = re.compile(r"^(p[0o°]|saturation\s+pressure)\s*[\(\[]\s*([^\)\]]+)[\)\]]")
_AMT = re.compile(r"^(amount|quantity|volume|loading|uptake|n|v)\b.*?[\(\[]\s*(.+?)\s*[\)\]]\s*$")
_META_KEYS = {"adsorbate", "temperature_k", "sample_mass_g", "material"}


def normalise_amount_unit(unit: str) -> str:
    """Lower case, no blanks or superscripts: ``"cm³/g STP"`` -> ``"cm3/gstp"``."""
    u = unit.lower().replace("³", "3").replace(" ", "").replace("^", "").replace("·", "")
    return u.replace("g-1", "/g").replace("kg-1", "/kg").replace("//", "/")


def _split(line: str, sep: str | None) -> list[str]:
    return [c.strip() for c in (line.split(sep) if sep else line.split())]


def _separator(header: str) -> str | None:
    for sep in ("\t", ";", ","):
        if sep in header:
            return sep
    return None


def _roles(cols: list[str], path: Path) -> dict[str, tuple[int, float]]:
    """Column index and unit factor of each role found in the header."""
    roles: dict[str, tuple[int, float]] = {}
    for i, raw in enumerate(cols):
        c = raw.lower().strip().strip('"')
        if c == "branch":
            roles["branch"] = (i, 1.0)
        elif _REL.match(c):
            roles["rel"] = (i, 1.0)
        elif (m := _SAT.match(c)) or (m := _ABS.match(c)):
            role = "sat" if _SAT.match(c) else "abs"
            unit = m.group(2).strip().lower()
            if unit == "psi":
                raise ValueError(
                    f"{path}: pressure column {raw!r} in psi: a mercury intrusion curve, "
                    "not a gas-sorption isotherm"
                )
            if unit not in PRESSURE_PA:
                raise ValueError(f"{path}: unknown pressure unit {unit!r} in column {raw!r}")
            roles[role] = (i, PRESSURE_PA[unit])
        elif m := _AMT.match(c):
            unit = normalise_amount_unit(m.group(2))
            if unit in ("cm3/g", "cc/g", "ml/g"):
                raise ValueError(
                    f"{path}: amount unit {m.group(2)!r} is ambiguous (gas at STP or liquid?); "
                    "write cm3(STP)/g"
                )
            if unit not in AMOUNT_CM3_STP_PER_G:
                raise ValueError(f"{path}: unknown amount unit {m.group(2)!r} in column {raw!r}")
            roles["amount"] = (i, AMOUNT_CM3_STP_PER_G[unit])
    return roles


def _number(text: str, decimal_comma: bool) -> float:
    t = text.strip().strip('"')
    if decimal_comma:
        t = t.replace(".", "").replace(",", ".") if "," in t else t
    return float(t)


def read_plain_csv(path: str | Path) -> Isotherm:
    """Read a plain isotherm table whose header names the columns and units.

    Parameters
    ----------
    path
        The text file (format in the module docstring).

    Returns
    -------
    Isotherm

    Raises
    ------
    ValueError
        One line naming the file: no header (a bare numeric table such as a mercury
        intrusion curve), unknown or ambiguous units, missing columns, unreadable numbers.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = p.read_text(encoding="latin-1")
    meta: dict[str, str] = {}
    lines = []
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            key, _, value = s.lstrip("#").partition(":")
            if key.strip().lower() in _META_KEYS:
                meta[key.strip().lower()] = value.strip()
            continue
        lines.append(s)
    if not lines:
        raise ValueError(f"{p}: empty file, not an isotherm")
    sep = _separator(lines[0])
    cols = _split(lines[0], sep)
    if all(re.fullmatch(r"[-+0-9.,eE]+", c or "x") for c in cols):
        raise ValueError(
            f"{p}: not an isotherm: no header naming p/p0 (or pressure and p0) and the "
            "amount's units (a bare numeric table, e.g. a mercury intrusion curve, cannot be "
            "read as an isotherm)"
        )
    roles = _roles(cols, p)
    if "amount" not in roles or not ("rel" in roles or {"abs", "sat"} <= roles.keys()):
        raise ValueError(
            f"{p}: header {lines[0]!r} does not name p/p0 (or pressure and p0 with units) "
            "and the amount adsorbed with units (e.g. 'p/p0,amount (cm3(STP)/g)')"
        )
    decimal_comma = (
        sep in (";", "\t") and any("," in c for c in _split(lines[1], sep))
        if len(lines) > 1
        else False
    )
    rows = []
    for k, line in enumerate(lines[1:], start=2):
        cells = _split(line, sep)
        if len(cells) < len(cols):
            raise ValueError(f"{p}: row {k} has {len(cells)} columns, the header {len(cols)}")
        rows.append(cells)
    x, n, b = _columns(rows, roles, decimal_comma, p)
    return Isotherm(
        x,
        n,
        b,
        adsorbate=meta.get("adsorbate", "N2"),
        temperature_k=float(meta["temperature_k"]) if "temperature_k" in meta else None,
        sample_mass_g=float(meta["sample_mass_g"]) if "sample_mass_g" in meta else None,
        material=meta.get("material", p.stem),
        source=str(p),
        manufacturer="plain",
        fmt="csv",
        metadata={"header": lines[0], **meta},
    )


def _columns(
    rows: list[list[str]], roles: dict[str, tuple[int, float]], decimal_comma: bool, p: Path
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    def col(role: str) -> np.ndarray:
        i, factor = roles[role]
        try:
            return np.array([_number(r[i], decimal_comma) for r in rows]) * factor
        except ValueError:
            raise ValueError(f"{p}: non-numeric value in the {role} column") from None

    if "rel" in roles:
        x = col("rel")
    else:
        x = col("abs") / col("sat")
    n = col("amount")
    if "branch" in roles:
        i = roles["branch"][0]
        raw = [r[i].strip().strip('"').lower() for r in rows]
        bad = {v for v in raw if v not in ("ads", "des", "adsorption", "desorption", "0", "1")}
        if bad:
            raise ValueError(f"{p}: unknown branch labels {sorted(bad)} (use ads/des)")
        b = np.array([DESORPTION if v in ("des", "desorption", "1") else ADSORPTION for v in raw])
    else:
        b = split_branches(x)
    return x, n, b
