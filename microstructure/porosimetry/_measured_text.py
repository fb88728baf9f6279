"""Text layer of the measured-MIP reader: decoding, tables, sections, titles and units.

An instrument export is text: header lines (``Key: value`` pairs, titles, unit lines),
then one or more numeric tables, each possibly preceded by a section heading
(``Intrusion``, ``Extrusion``, ``Low pressure``, ``High pressure``). This module turns the
file into :class:`TextTable` objects and a header; :mod:`~microstructure.porosimetry.measured`
decides what the columns mean. Nothing here guesses silently: a binary file, an Excel
workbook, a gas isotherm or a table whose columns cannot be split is refused with one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "TextTable",
    "ParsedText",
    "parse_text",
    "column_units",
    "header_value",
    "gas_isotherm_reason",
    "table_roles",
    "washburn_header_values",
]

#: pressure unit -> MPa (``torr`` and ``mmhg`` are recognised only to refuse gas isotherms)
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

_NUMBER = r"[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?"
_NUMERIC_LINE = re.compile(rf"^\s*{_NUMBER}(?:(?:\s*[\t;,]\s*|\s+){_NUMBER})*\s*[\t;,]?\s*$")
#: words of a gas sorption isotherm (refused: not a mercury intrusion curve)
_GAS_WORDS = (
    (r"\btorr\b", "a pressure in Torr"),
    (r"\bmm\s?hg\b", "a pressure in mmHg"),
    (r"p\s*/\s*p\s*[0o°]|\bp/po\b|relative pressure", "relative pressures p/p0"),
    (r"\bstp\b", "gas volumes at STP"),
    (r"isotherm|adsorption|desorption|adsorbed|gas sorption|physisorption", "an isotherm"),
)
_SECTION_WORDS = {
    "extrusion": ("extrusion", "retraction", "depressur", "decreasing pressure"),
    "intrusion": ("intrusion", "increasing pressure", "penetration"),
    "low": ("low pressure", "low-pressure", "lp run", "pascal 140", "porosimeter 140"),
    "high": ("high pressure", "high-pressure", "hp run", "pascal 440", "pascal 240"),
}


@dataclass
class TextTable:
    """One numeric block of an export.

    Attributes
    ----------
    rows
        The numbers (n_rows, n_columns).
    titles
        Column titles (title line, plus a unit line when there is one), or None.
    section
        Lower-case text of the non-numeric lines between the previous table and this one.
    first_line
        1-based line number of the first row.
    """

    rows: np.ndarray
    titles: list[str] | None
    section: str
    first_line: int
    last_line: int = 0
    roles: set[str] = field(default_factory=set)
    #: rows may hold blanks (NaN) in the pressure or volume column: such rows are skipped
    #: (workbook cells), and ``skipped`` counts them; a text table must be complete
    sparse: bool = False
    skipped: int = 0
    #: where the table is, for messages (``sheet 'Data' rows 12-80``); empty for text
    where: str = ""


@dataclass
class ParsedText:
    """An export split into header text and numeric tables."""

    tables: list[TextTable]
    header: str
    decimal_comma: bool
    #: how the file was read: ``format`` (``text``, ``xls``, ``xlsx``, ``html``) and, for
    #: workbooks, the ``sheet`` read and the tables used
    source: dict = field(default_factory=lambda: {"format": "text"})


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the file ({exc.strerror})") from None
    if not raw.strip():
        raise ValueError(f"{path}: empty file")
    if raw[:4] == b"\xd0\xcf\x11\xe0" or raw[:4] == b"PK\x03\x04":
        raise ValueError(
            f"{path}: an Excel/OLE or zip file, not a text export; save the report as text "
            "or CSV from the instrument software"
        )
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = raw.decode("utf-16", errors="replace")
    elif b"\x00" in raw[:4096]:
        raise ValueError(f"{path}: a binary file (NUL bytes), not a text export")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
    bad = sum(1 for c in text[:8192] if ord(c) < 32 and c not in "\t\r\n\f")
    if bad > 0.01 * min(len(text), 8192):
        raise ValueError(f"{path}: a binary file (control characters), not a text export")
    return text


def _decide_decimal(lines: list[str], decimal: str) -> bool:
    """True when the numeric lines use a decimal comma."""
    if decimal in (".", ","):
        return decimal == ","
    if decimal != "auto":
        raise ValueError(f"decimal: expected 'auto', '.' or ',', got {decimal!r}")
    numeric = [ln for ln in lines if _NUMERIC_LINE.match(ln) and re.search(r"\d", ln)]
    if not numeric:
        return False
    with_sep = [ln for ln in numeric if re.search(r"[\t;]", ln)]
    if with_sep:  # tab / semicolon separated: a comma inside a cell is a decimal comma
        return any("," in c for ln in with_sep for c in re.split(r"[\t;]", ln))
    if not any("," in ln for ln in numeric):
        return False
    if any("." in ln for ln in numeric):
        return False  # 1.5,2.0: comma-separated values with decimal points
    # commas only: "0,5 12,3" (whitespace between cells) is decimal; "1,2" could be CSV of
    # integers: decimal when whitespace separates the cells
    return all(re.search(r"\d,\d", ln) for ln in numeric) and any(
        re.search(r"\d\s+[-+.\d]", ln.strip()) for ln in numeric
    )


def _cells(line: str, decimal_comma: bool) -> list[str]:
    s = line.strip()
    if "\t" in s:
        parts = s.split("\t")
    elif ";" in s:
        parts = s.split(";")
    elif "," in s and not decimal_comma:
        parts = s.split(",")
    else:
        parts = s.split()
    return [p.strip() for p in parts if p.strip()]


def _numbers(line: str, decimal_comma: bool) -> list[float] | None:
    if not _NUMERIC_LINE.match(line) or not re.search(r"\d", line):
        return None
    try:
        return [
            float(c.replace(",", ".") if decimal_comma else c) for c in _cells(line, decimal_comma)
        ]
    except ValueError:
        return None


def _title_cells(line: str) -> list[str]:
    s = line.strip()
    if re.search(r"[\t;]", s):
        parts = re.split(r"[\t;]", s)
    elif "," in s and not re.search(r"\(\s*[^)]*,", s):
        parts = s.split(",")
    else:
        parts = re.split(r"\s{2,}", s)
    return [p.strip() for p in parts if p.strip()]


def _titles(pending: list[str], ncol: int) -> list[str] | None:
    """Column titles from the text lines above a table: the last line that splits into the
    table's columns, joined with a unit line below it when that splits the same way."""
    cand = [_title_cells(ln) for ln in pending[-3:]]
    fits = [c for c in cand if len(c) == ncol]
    if not fits:
        return None
    if len(fits) >= 2 and len(cand) >= 2 and len(cand[-1]) == ncol == len(cand[-2]):
        return [f"{a} {b}" for a, b in zip(cand[-2], cand[-1], strict=True)]
    return fits[-1]


def gas_isotherm_reason(text: str) -> str | None:
    """What in ``text`` marks a gas sorption isotherm (None when nothing does)."""
    low = text.lower()
    for pattern, what in _GAS_WORDS:
        if re.search(pattern, low):
            return what
    return None


def parse_text(path: Path, *, decimal: str = "auto") -> ParsedText:
    """Split an export into numeric tables (with titles and section words) and the header.

    Raises
    ------
    ValueError
        Unreadable, empty, binary or Excel file; a gas isotherm; no numeric rows; a row
        whose column count differs from its table's.
    """
    text = _read_text(path)
    lines = text.splitlines()
    comma = _decide_decimal(lines, decimal)
    tables: list[TextTable] = []
    header: list[str] = []
    pending: list[str] = []
    rows: list[list[float]] = []
    start = last = 0

    def close() -> None:
        if rows:
            ncol = len(rows[0])
            # heading words only (title lines name "Cumulative Intrusion" in every table)
            section = " ".join(ln for ln in pending[-4:] if len(_title_cells(ln)) < 2).lower()
            tables.append(
                TextTable(np.asarray(rows, float), _titles(pending, ncol), section, start, last)
            )

    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        values = _numbers(raw, comma)
        if values is None:
            if rows:
                close()
                rows, pending = [], []
            pending.append(raw.strip())
            header.append(raw.strip())
            continue
        if rows and len(values) != len(rows[0]):
            raise ValueError(
                f"{path}: line {lineno} has {len(values)} columns, expected {len(rows[0])}"
                + (" (decimal commas?)" if not comma and "," in raw else "")
            )
        if not rows:
            start = lineno
        last = lineno
        rows.append(values)
    close()
    head = "\n".join(header)
    reason = gas_isotherm_reason(head)
    if reason:
        raise ValueError(
            f"{path}: the header shows {reason}: a gas sorption isotherm, not a mercury "
            "intrusion curve (read it with the physisorption tools)"
        )
    if not tables:
        raise ValueError(f"{path}: no numeric rows found")
    for t in tables:
        t.roles = table_roles(t.section)
    return ParsedText(tables=tables, header=head, decimal_comma=comma)


def table_roles(section: str) -> set[str]:
    """Branch and run words (``intrusion``, ``extrusion``, ``low``, ``high``) of a heading."""
    low = section.lower()
    return {role for role, words in _SECTION_WORDS.items() if any(w in low for w in words)}


_P_UNIT_RE = (
    ("psia", r"\bpsia\b"),
    ("psi", r"\bpsi[ag]?\b"),
    ("mpa", r"\bmpa\b"),
    ("kpa", r"\bkpa\b"),
    ("pa", r"\bpa\b"),
    ("bar", r"\bbar\b"),
    ("atm", r"\batm\b"),
    ("torr", r"\btorr\b"),
    ("mmhg", r"\bmm\s?hg\b"),
)
_V_UNIT_RE = (
    ("ml", r"\bml\b"),
    ("cm3", r"\bcm(?:3|³|\^3)"),
    ("cc", r"\bcc\b"),
    ("mm3", r"\bmm(?:3|³|\^3)"),
    ("ul", r"(?:\bµl\b|\bμl\b|\bul\b)"),
    ("l", r"\bl\b\s*(?:/|\)|\]|$)"),
)


def column_units(title: str) -> tuple[str | None, str | None, bool | None]:
    """(pressure unit, volume unit, per gram) named in one column title or header text."""
    t = title.lower()
    p = next((name for name, rx in _P_UNIT_RE if re.search(rx, t)), None)
    v = next((name for name, rx in _V_UNIT_RE if re.search(rx, t)), None)
    per_gram = None
    if v is not None:
        per_gram = bool(re.search(r"/\s*g\b|\bg\s*-1|per\s+gram|g⁻¹|/\s*g\s*[\])]", t))
    return (None if p is None else ("psi" if p == "psia" else p)), v, per_gram


_MASS_NAME = r"(?:sample\s*(?:weight|mass)|mass\s+of\s+(?:the\s+)?sample|sample\s*wt\.?|einwaage)"
_MASS_RE = re.compile(
    rf"{_MASS_NAME}[^0-9\n\[(]{{0,24}}?({_NUMBER})\s*(mg|g)\b"
    rf"|{_MASS_NAME}\s*[\[(]\s*(mg|g)\s*[\])]\s*[:=]?\s*({_NUMBER})",
    re.IGNORECASE,
)
_BULK_DENSITY_RE = re.compile(
    rf"bulk\s+density[^0-9\n=:\[(]*(?:at\s+{_NUMBER}\s*\w+\s*)?[=:]?\s*({_NUMBER})\s*"
    r"(g/ml|g/cm3|g/cm³|g/cc|g/cm\^3)"
    rf"|bulk\s+density\s*[\[(]\s*(g/ml|g/cm3|g/cm³|g/cc)\s*[\])]\s*[:=]?\s*({_NUMBER})",
    re.IGNORECASE,
)
_BULK_VOLUME_RE = re.compile(
    rf"bulk\s+volume[^0-9\n=:\[(]*[=:]?\s*({_NUMBER})\s*(mm3|mm³|cm3|cm³|ml|cc)(?!\w)"
    rf"|bulk\s+volume\s*[\[(]\s*(mm3|mm³|cm3|cm³|ml|cc)\s*[\])]\s*[:=]?\s*({_NUMBER})",
    re.IGNORECASE,
)


#: the advancing angle when the header names both (AutoPore: "Adv. Contact Angle")
_ANGLE_RE = (
    re.compile(
        rf"adv(?:ancing|\.)?\s*(?:contact\s*)?angle[^0-9\n]{{0,12}}?({_NUMBER})\s*(deg|°)",
        re.IGNORECASE,
    ),
    re.compile(rf"contact\s*angle[^0-9\n]{{0,12}}?({_NUMBER})\s*(deg|°)", re.IGNORECASE),
)
_TENSION_RE = re.compile(
    rf"surface\s*tension[^0-9\n]{{0,12}}?({_NUMBER})\s*(dynes?/cm|mn/m|n/m)", re.IGNORECASE
)


def washburn_header_values(header: str) -> dict[str, float]:
    """Contact angle (deg) and surface tension (N/m) stated in the header, if any."""
    out: dict[str, float] = {}
    for rx in _ANGLE_RE:
        m = rx.search(header)
        if m:
            out["contact_angle_deg"] = _num(m.group(1))
            break
    m = _TENSION_RE.search(header)
    if m:
        scale = 1.0 if m.group(2).lower() == "n/m" else 1e-3  # dyn/cm = mN/m
        out["surface_tension_n_per_m"] = _num(m.group(1)) * scale
    return out


def _value_unit(m: re.Match) -> tuple[str, str]:
    """(number, unit) of a match of one of the two alternatives (number-unit, [unit] number)."""
    if m.group(1) is not None:
        return m.group(1), m.group(2)
    return m.group(4), m.group(3)


def _num(text: str) -> float:
    return float(text.replace(",", "."))


def header_value(header: str, what: str) -> float | None:
    """A number stated in the header: ``sample_mass_g``, ``bulk_density_g_per_cm3`` or
    ``bulk_volume_mm3`` (None when absent)."""
    rx = {
        "sample_mass_g": _MASS_RE,
        "bulk_density_g_per_cm3": _BULK_DENSITY_RE,
        "bulk_volume_mm3": _BULK_VOLUME_RE,
    }.get(what)
    if rx is None:
        raise ValueError(f"what: unknown header value {what!r}")
    m = rx.search(header)
    if m is None:
        return None
    number, unit = _value_unit(m)
    value, unit = _num(number), unit.lower()
    if what == "sample_mass_g" and unit == "mg":
        return value * 1e-3
    if what == "bulk_volume_mm3" and unit not in ("mm3", "mm³"):
        return value * 1000.0
    return value
