"""Workbook layer of the measured-MIP reader: Excel (``.xls``, ``.xlsx``) and HTML-table exports.

Micromeritics AutoPore IV/V "Export to Excel" (and the report's Excel export) writes a BIFF
workbook: a header block (sample, penetrometer, ``Sample Weight``, contact angle, surface
tension, ...) and tables titled ``Pressure (psia)``, ``Pore Size Diameter (µm)``, ``Cumulative
Intrusion (mL/g)``, ``Incremental Intrusion (mL/g)``, ... The report export puts its pages side
by side on one sheet, separated by columns of ``|`` cells (as the Micromeritics gas-sorption
report does); other exports use one sheet per table. This module turns every sheet into cell
rows, finds the pressure/volume tables (title rows above numeric rows, section headings, the
sheet name) and hands them to the column, unit and branch logic of the text reader as
:class:`~microstructure.porosimetry._measured_text.TextTable` objects: one set of rules for
every layout. ``.xls`` is read with ``xlrd`` (BIFF only, no macros, no code), ``.xlsx`` with
``openpyxl`` (``read_only``, cached values); a file is recognised by its bytes, not its name
(an ``.xlsx`` saved as ``.xls``, an HTML table saved as ``.xls`` and a text export named
``.xls`` are all read as what they are).

References
----------
Giesche, H. (2006). Mercury porosimetry: a general (practical) overview. Particle & Particle
Systems Characterization 23, 9-19. doi:10.1002/ppsc.200601009
"""

from __future__ import annotations

import html.parser
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microstructure.porosimetry._measured_columns import _column_kind
from microstructure.porosimetry._measured_text import (
    ParsedText,
    TextTable,
    gas_isotherm_reason,
    table_roles,
)

__all__ = ["workbook_format", "parse_workbook", "Sheet"]

#: a cell: a number, a text, or None (empty)
Cell = float | str | None
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_NUM_DOT = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$")
_NUM_COMMA = re.compile(r"^[-+]?\d+,(\d+)(?:[eE][-+]?\d+)?$")
#: unambiguous thousands separators: "1,500.25" (decimal point) and "1.500,25" (comma)
_THOUSANDS_DOT = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+\.\d*$")
_THOUSANDS_COMMA = re.compile(r"^[-+]?\d{1,3}(?:\.\d{3})+,\d*$")
#: title rows joined above a table (title, unit line, a third line)
_MAX_TITLE_ROWS = 3
#: heading rows looked at above a table for branch/run words
_HEADING_ROWS = 4


@dataclass
class Sheet:
    """One worksheet as cell rows; ``merged`` holds (row, first col, last col) of merged
    title cells (their text is spread over the columns they cover)."""

    name: str
    rows: list[list[Cell]]
    merged: list[tuple[int, int, int]]


def workbook_format(path: Path) -> str | None:
    """``xls`` (OLE2/BIFF), ``xlsx`` (zip), ``html``, ``xml2003`` or None (a text export)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(2048)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the file ({exc.strerror})") from None
    if head.startswith(_OLE[:4]):
        return "xls"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    text = head.lstrip(b"\xef\xbb\xbf\xff\xfe\r\n\t ").replace(b"\x00", b"").lower()
    if text.startswith((b"<html", b"<!doctype html", b"<table", b"<meta", b"<body")):
        # an HTML page is read as a workbook when it holds a table, else as text
        return "html" if b"<table" in path.read_bytes().replace(b"\x00", b"").lower() else None
    if text.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in text:
        return "xml2003"
    return None


# --------------------------------------------------------------------------- reading


def _read_xls(path: Path) -> list[Sheet]:
    import xlrd

    log = io.StringIO()
    try:
        try:
            book = xlrd.open_workbook(str(path), formatting_info=True, logfile=log)
        except NotImplementedError:  # formatting of old BIFF versions
            book = xlrd.open_workbook(str(path), logfile=log)
        sheets = []
        for sh in book.sheets():
            rows = []
            for r in range(sh.nrows):
                row: list[Cell] = []
                for c in range(sh.ncols):
                    cell = sh.cell(r, c)
                    if cell.ctype == xlrd.XL_CELL_NUMBER:
                        row.append(float(cell.value))
                    elif cell.ctype == xlrd.XL_CELL_DATE:  # a date is text, not a number
                        row.append(_xls_date(cell.value, book.datemode))
                    elif cell.ctype == xlrd.XL_CELL_TEXT:
                        row.append(str(cell.value) if cell.value != "" else None)
                    else:  # empty, blank, boolean, error (#N/A, #DIV/0!)
                        row.append(None)
                rows.append(row)
            merged = [(r0, c0, c1 - 1) for r0, _r1, c0, c1 in sh.merged_cells]
            sheets.append(Sheet(sh.name, rows, merged))
        return sheets
    except Exception as exc:  # noqa: BLE001 - any failure of the parser on foreign bytes
        raise ValueError(
            f"{path}: not a readable Excel 97-2003 workbook ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'corrupt'})"
        ) from None


def _xls_date(value: float, datemode: int) -> str:
    import xlrd

    try:
        return xlrd.xldate_as_datetime(value, datemode).isoformat(sep=" ")
    except (ValueError, OverflowError, xlrd.xldate.XLDateError):
        return f"date {value!r}"


_MERGE = re.compile(r'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = 26 * n + ord(ch) - 64
    return n - 1


def _xlsx_merges(archive: zipfile.ZipFile, ws) -> list[tuple[int, int, int]]:
    """Merged ranges of a worksheet (read-only mode does not load them): (row, c0, c1)."""
    name = getattr(ws, "_worksheet_path", None)
    if not name or name not in archive.namelist():
        return []
    text = archive.read(name).decode("utf-8", errors="replace")
    return [
        (int(r0) - 1, _column_number(a), _column_number(b))
        for a, r0, b, _r1 in _MERGE.findall(text)
    ]


def _read_xlsx(path: Path) -> list[Sheet]:
    try:
        import openpyxl
    except ImportError:
        raise ValueError(f"{path}: an .xlsx workbook; reading it needs openpyxl") from None
    try:
        with open(path, "rb") as fh:
            data = io.BytesIO(fh.read())
        archive = zipfile.ZipFile(data)
        if "xl/workbook.xml" not in archive.namelist():
            raise ValueError("a zip archive without xl/workbook.xml")
        book = openpyxl.load_workbook(data, read_only=True, data_only=True)
        sheets = []
        for ws in book.worksheets:
            rows = []
            for values in ws.iter_rows(values_only=True):
                rows.append(
                    [
                        float(v)
                        if isinstance(v, int | float) and not isinstance(v, bool)
                        else (None if v is None or v == "" or isinstance(v, bool) else str(v))
                        for v in values
                    ]
                )
            sheets.append(Sheet(ws.title, rows, _xlsx_merges(archive, ws)))
        book.close()
        return sheets
    except Exception as exc:  # noqa: BLE001 - any failure of the parser on foreign bytes
        raise ValueError(
            f"{path}: not a readable Excel (xlsx) workbook ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'corrupt'})"
        ) from None


class _TableHTML(html.parser.HTMLParser):
    """Cells of the ``<tr>``/``<td>``/``<th>`` of an HTML page (``colspan`` kept as merges)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[Cell]] = []
        self.merged: list[tuple[int, int, int]] = []
        self._cell: list[str] | None = None
        self._span = 1

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            if not self.rows:
                self.rows.append([])
            self._cell = []
            span = dict(attrs).get("colspan") or "1"
            self._span = int(span) if span.strip().isdigit() and 0 < int(span) < 100 else 1
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            row = self.rows[-1]
            if self._span > 1:
                self.merged.append((len(self.rows) - 1, len(row), len(row) + self._span - 1))
            row.extend([text or None] + [None] * (self._span - 1))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _read_html(path: Path) -> list[Sheet]:
    raw = path.read_bytes()
    enc = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8"
    text = raw.decode(enc, errors="replace")
    parser = _TableHTML()
    try:
        parser.feed(text)
        parser.close()
    except Exception as exc:  # noqa: BLE001 - malformed markup
        raise ValueError(f"{path}: an HTML page that cannot be parsed ({exc})") from None
    rows: list[list[Cell]] = []
    for row in parser.rows:
        rows.append([_html_cell(c) for c in row])
    return [Sheet("html", rows, parser.merged)]


def _html_cell(text: Cell) -> Cell:
    """HTML cells are text; plain numbers become numbers (decimal points only)."""
    if isinstance(text, str) and _NUM_DOT.match(text.strip()):
        return float(text)
    return text


# --------------------------------------------------------------------------- tables


def _decimal_comma(path: Path, sheets: list[Sheet], decimal: str) -> bool:
    """Whether text cells like ``12,5`` are numbers with a decimal comma."""
    if decimal in (".", ","):
        return decimal == ","
    if decimal != "auto":
        raise ValueError(f"decimal: expected 'auto', '.' or ',', got {decimal!r}")
    digits = [
        len(m.group(1))
        for s in sheets
        for row in s.rows
        for c in row
        if isinstance(c, str) and (m := _NUM_COMMA.match(c.strip()))
    ]
    if digits and all(n == 3 for n in digits):
        raise ValueError(
            f"{path}: text cells such as '1,234' may hold a thousands separator or a decimal "
            "comma; give decimal='.' or ','"
        )
    return bool(digits)


def _number(cell: Cell, comma: bool) -> float:
    """The number of a cell (NaN for empty and text cells)."""
    if isinstance(cell, float):
        return cell
    if isinstance(cell, str):
        s = cell.strip()
        if _NUM_DOT.match(s):
            return float(s)
        if comma and _NUM_COMMA.match(s):
            return float(s.replace(",", "."))
        if not comma and _THOUSANDS_DOT.match(s):
            return float(s.replace(",", ""))
        if comma and _THOUSANDS_COMMA.match(s):
            return float(s.replace(".", "").replace(",", "."))
    return float("nan")


def _blocks(sheet: Sheet) -> list[tuple[int, int]]:
    """Column ranges [c0, c1) of the report pages: split at columns whose every non-empty
    cell is ``|`` (the page separators of a Micromeritics report export)."""
    ncol = max((len(r) for r in sheet.rows), default=0)
    sep = [
        any(c < len(r) and r[c] is not None for r in sheet.rows)
        and all(c >= len(r) or r[c] is None or r[c] == "|" for r in sheet.rows)
        for c in range(ncol)
    ]
    out, start = [], 0
    for c in range(ncol + 1):
        if c == ncol or sep[c]:
            if c > start:
                out.append((start, c))
            start = c + 1
    return out


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float):
        return f"{cell:.10g}"
    return cell.strip()


def _spread(sheet: Sheet, r: int, cells: list[Cell], c0: int) -> list[Cell]:
    """A title row with the text of its merged cells spread over the columns they cover."""
    out = list(cells)
    for mr, m0, m1 in sheet.merged:
        if mr == r and c0 <= m0 < c0 + len(out):
            for c in range(m0 + 1, min(m1, c0 + len(out) - 1) + 1):
                if out[c - c0] is None:
                    out[c - c0] = out[m0 - c0]
    return out


@dataclass(eq=False)
class _Found:
    table: TextTable
    sheet: str
    kinds: list[str | None]


def _block_tables(
    sheet: Sheet, cols: tuple[int, int], comma: bool
) -> tuple[list[_Found], list[str]]:
    """The numeric tables of one page of a sheet and the page's other (header) lines."""
    c0, c1 = cols
    grid = [(row + [None] * (c1 - len(row)))[c0:c1] for row in sheet.rows]
    nums = np.array([[_number(c, comma) for c in row] for row in grid], float).reshape(
        len(grid), c1 - c0
    )
    # a data row: two numbers or more, and more numbers than words (a header line such as
    # "Pen. Volume: | 5.9 | mL | Sample Weight: | 1.858 | g" is text with numbers)
    n_num = np.isfinite(nums).sum(axis=1)
    n_cells = np.array([sum(c is not None for c in row) for row in grid], int).reshape(-1)
    is_data = (n_num >= 2) & (n_num > n_cells - n_num)
    empty = [all(c is None for c in row) for row in grid]
    header = [" ".join(_text(c) for c in row if c is not None) for row in grid]
    found, header_lines, r, prev_end = [], [], 0, 0
    while r < len(grid):
        if not is_data[r]:
            if not empty[r]:
                header_lines.append(header[r])
            r += 1
            continue
        start = r
        while r < len(grid) and (is_data[r] or empty[r]):
            r += 1
        end = r
        while end > start and empty[end - 1]:
            end -= 1
        data_rows = [i for i in range(start, end) if is_data[i]]
        found.append(_make_table(sheet, grid, nums, (start, end, prev_end), data_rows, c0))
        prev_end = end
    return found, header_lines


def _make_table(
    sheet: Sheet,
    grid: list[list[Cell]],
    nums: np.ndarray,
    span: tuple[int, int, int],
    data_rows: list[int],
    c0: int,
) -> _Found:
    """A TextTable from the data rows, the title rows directly above and the headings."""
    start, end, prev_end = span
    above = [i for i in range(prev_end, start) if any(c is not None for c in grid[i])]
    titles_rows: list[list[Cell]] = []
    for i in reversed(above):  # contiguous multi-cell rows right above the data
        if i != start - 1 - len(titles_rows) or len(titles_rows) == _MAX_TITLE_ROWS:
            break
        if sum(c is not None for c in grid[i]) < 2 or any(
            _text(c).endswith((":", "=")) for c in grid[i]
        ):  # a heading or a "Key: value" header line, not column titles
            break
        titles_rows.insert(0, _spread(sheet, i, grid[i], c0))
    first_title = start - len(titles_rows)
    headings = [
        _text(next(c for c in grid[i] if c is not None))
        for i in above
        if i < first_title and sum(c is not None for c in grid[i]) == 1
    ][-_HEADING_ROWS:]
    block = nums[data_rows]
    width = nums.shape[1]
    titles = [" ".join(_text(row[c]) for row in titles_rows).strip() for c in range(width)]
    keep = [
        c
        for c in range(width)
        if titles[c] or np.count_nonzero(np.isfinite(block[:, c])) * 2 >= len(data_rows)
    ]
    section = " ".join([*headings, sheet.name]).lower()
    col_titles = [titles[c] for c in keep] if any(titles[c] for c in keep) else None
    where = f"sheet {sheet.name!r} rows {start + 1}-{end}"
    t = TextTable(
        rows=block[:, keep],
        titles=col_titles,
        section=section,
        first_line=start + 1,
        last_line=end,
        roles=table_roles(" ".join(headings) + " " + sheet.name),
        sparse=True,
        where=where,
    )
    kinds = [_column_kind(x) for x in col_titles] if col_titles else [None] * len(keep)
    return _Found(t, sheet.name, kinds)


def _is_curve(f: _Found) -> bool:
    """A table with a pressure and a volume column (titled), or two untitled columns."""
    if f.table.titles is None:
        return f.table.rows.shape[1] == 2 and f.table.rows.shape[0] >= 3
    return "pressure" in f.kinds and "volume" in f.kinds and f.table.rows.shape[0] >= 2


# --------------------------------------------------------------------------- choosing


def _pick(path: Path, found: list[_Found], branch: str) -> list[_Found]:
    """The tables of one branch: per run, the one headed ``Tabular`` when several are."""
    by_run: dict[str, list[_Found]] = {}
    for f in found:
        run = "high" if "high" in f.table.roles else ("low" if "low" in f.table.roles else "")
        by_run.setdefault(run, []).append(f)
    out = []
    for run, fs in by_run.items():
        if len(fs) > 1:
            tab = [f for f in fs if "tabular" in f.table.section or "table" in f.table.section]
            if len(tab) != 1:
                where = "; ".join(f.table.where for f in fs)
                raise ValueError(
                    f"{path}: {len(fs)} {branch} tables{' of the ' + run + ' run' if run else ''}"
                    f" ({where}) and none is the one headed 'Tabular'; cannot tell which to "
                    "read (give sheet=)"
                )
            fs = tab
        out.append(fs[0])
    return out


def _choose(path: Path, found: list[_Found], sheet: str | int | None) -> list[_Found]:
    """Intrusion table(s) from one sheet (the first holding one, or the one given) and the
    extrusion table of that sheet (else of another sheet)."""
    ext = [f for f in found if "extrusion" in f.table.roles and "intrusion" not in f.table.roles]
    intr = [f for f in found if f not in ext]
    if not intr:
        raise ValueError(f"{path}: only extrusion tables ({found[0].table.where}), no intrusion")
    if sheet is None:
        name = intr[0].sheet
        chosen = [f for f in intr if f.sheet == name]
        runs = {r for f in chosen for r in f.table.roles & {"low", "high"}}
        chosen += [
            f
            for f in intr
            if f.sheet != name and len(runs) == 1 and (f.table.roles & {"low", "high"}) - runs
        ]
    else:
        chosen = intr
    chosen = _pick(path, chosen, "intrusion")
    same = [f for f in ext if f.sheet == chosen[0].sheet] or ext
    return chosen + (_pick(path, same, "extrusion") if same else [])


def _select_sheet(path: Path, sheets: list[Sheet], sheet: str | int | None) -> list[Sheet]:
    if sheet is None:
        return sheets
    names = [s.name for s in sheets]
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        if not 0 <= sheet < len(sheets):
            raise ValueError(f"sheet: expected an index in 0..{len(sheets) - 1}, got {sheet}")
        return [sheets[sheet]]
    hits = [s for s in sheets if s.name == sheet] or [
        s for s in sheets if str(sheet).lower() in s.name.lower()
    ]
    if len(hits) != 1:
        raise ValueError(f"sheet: {sheet!r} matches {len(hits)} of the sheets {names} of {path}")
    return hits


def parse_workbook(
    path: Path, fmt: str, *, decimal: str = "auto", sheet: str | int | None = None
) -> ParsedText:
    """The pressure/volume tables of a workbook as a :class:`ParsedText`.

    Parameters
    ----------
    path
        The workbook.
    fmt
        From :func:`workbook_format`: ``xls``, ``xlsx``, ``html`` or ``xml2003``.
    decimal
        ``auto``, ``.`` or ``,``: the decimal mark of numbers stored as text cells.
    sheet
        Read this sheet (name or 0-based index) only; default: the first sheet holding an
        intrusion table (the sheet used is in ``source``).

    Raises
    ------
    ValueError
        One line naming the file (and the sheet): a corrupt or foreign file, an Excel 2003
        XML spreadsheet, a gas sorption isotherm, no pressure/volume table, ambiguous tables.
    """
    if fmt == "xml2003":
        raise ValueError(
            f"{path}: an Excel 2003 XML spreadsheet; save it as .xlsx, .xls or text to read it"
        )
    reader = {"xls": _read_xls, "xlsx": _read_xlsx, "html": _read_html}[fmt]
    sheets = _select_sheet(path, reader(path), sheet)
    comma = _decimal_comma(path, sheets, decimal)
    curves: list[_Found] = []
    headers: dict[str, list[str]] = {}
    gas: dict[str, str] = {}
    for sh in sheets:
        lines: list[str] = []
        tables: list[_Found] = []
        for block in _blocks(sh):
            f, h = _block_tables(sh, block, comma)
            tables += f
            lines += h
        headers[sh.name] = lines
        reason = gas_isotherm_reason("\n".join(lines))
        if reason:
            gas[sh.name] = reason
            continue
        curves += [f for f in tables if _is_curve(f)]
    if any(f.table.titles for f in curves):
        curves = [f for f in curves if f.table.titles]
    if not curves:
        kind = "Excel workbook" if fmt in ("xls", "xlsx") else "HTML table"
        if gas:
            name, reason = next(iter(gas.items()))
            raise ValueError(
                f"{path}: sheet {name!r} of the {kind} shows {reason}: a gas sorption "
                "isotherm, not a mercury intrusion curve (read it with the physisorption tools)"
            )
        raise ValueError(
            f"{path}: no pressure/cumulative volume table in the {kind} "
            f"(sheets: {', '.join(repr(s.name) for s in sheets)})"
        )
    used = _choose(path, curves, sheet)
    names = list(dict.fromkeys(f.sheet for f in used))
    # the header: the lines of the sheets used, then of the other sheets (a summary sheet
    # with the sample weight), never of a gas isotherm's sheet
    order = names + [n for n in headers if n not in names and n not in gas]
    header = "\n".join(line for n in order for line in headers[n])
    source = {
        "format": fmt,
        "sheet": used[0].sheet,
        "sheets": [s.name for s in sheets],
        "tables": [f.table.where for f in used],
    }
    return ParsedText(
        tables=[f.table for f in used], header=header, decimal_comma=comma, source=source
    )
