"""Synthetic Micromeritics AutoPore workbooks (``.xls`` with xlwt, ``.xlsx`` with openpyxl) and
the same numbers as AutoPore text, from one known curve: a log-normal pore size distribution
(median 250 nm, sigma ln 0.55, 0.2100 mL/g) turned into pressures by the Washburn equation with
the AutoPore defaults printed in the header (140 degrees, 485 dynes/cm).

Layouts, as the instrument software writes them:

- ``report``: one sheet with the report pages side by side, separated by columns of ``|``
  cells (the Micromeritics report export; the real ``Sample_A.xls`` gas-sorption report has
  the same structure): a page header block repeated on every page (sample, penetrometer,
  ``Sample Weight: 1.8580 g``, analysis dates), a summary page with the parameters
  (``Low Pressure:``/``High Pressure:`` parameter headings, ``Evacuation Pressure: 50 µmHg``,
  ``Mercury Filling Pressure: 0.52 psia``, contact angles, surface tension, ...), the
  intrusion and extrusion tabular reports (merged page heading, two-row column titles with a
  merged ``Cumulative Intrusion`` over ``(mL/g)`` and ``(mL)``), and plot-data pages
  (``Cumulative Intrusion vs Pressure``, ``Log Differential Intrusion vs Pore size``);
- ``sheets``: one sheet per table (``Summary``, ``Intrusion``, ``Extrusion``, an empty one).
"""

from __future__ import annotations

import datetime
import math
from pathlib import Path

import numpy as np

from microstructure.porosimetry.washburn import washburn_diameter_nm

PSI_MPA = 0.00689475729
MEDIAN_NM = 250.0
SIGMA_LN = 0.55
TOTAL_ML_PER_G = 0.2100
CONTACT_ANGLE_DEG = 140.0
SURFACE_TENSION_N_PER_M = 0.485
SAMPLE_MASS_G = 1.8580
#: share of the intruded volume left in the sample after extrusion
ENTRAPPED = 0.4


def _phi(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf)(np.asarray(x) / math.sqrt(2.0)))


def diameter_um(psia: np.ndarray) -> np.ndarray:
    return (
        washburn_diameter_nm(
            np.asarray(psia) * PSI_MPA,
            contact_angle_deg=CONTACT_ANGLE_DEG,
            surface_tension_n_per_m=SURFACE_TENSION_N_PER_M,
        )
        / 1000.0
    )


def cumulative_ml_per_g(psia: np.ndarray) -> np.ndarray:
    """Volume of the pores wider than the Washburn diameter at each pressure."""
    d_nm = diameter_um(psia) * 1000.0
    return TOTAL_ML_PER_G * (1.0 - _phi((np.log(d_nm) - math.log(MEDIAN_NM)) / SIGMA_LN))


def curve() -> dict[str, np.ndarray]:
    """Intrusion (0.5 to 60 000 psia) and extrusion columns of the known curve."""
    p = np.geomspace(0.5, 60000.0, 241)
    v = cumulative_ml_per_g(p)
    pe = p[p > 20.0][::-1]
    ve = v[-1] * (ENTRAPPED + (1 - ENTRAPPED) * cumulative_ml_per_g(pe) / v[-1])
    return {"p": p, "d": diameter_um(p), "v": v, "pe": pe, "de": diameter_um(pe), "ve": ve}


def analytic_d50_nm() -> float:
    """Median (by intruded volume) Washburn diameter between 0.5 and 60 000 psia."""
    p = np.geomspace(0.5, 60000.0, 200001)
    v = cumulative_ml_per_g(p) - cumulative_ml_per_g(np.array([0.5]))[0]
    return float(diameter_um(np.interp(0.5 * v[-1], v, p)) * 1000.0)


#: a date cell (a number with a date format in the workbook: must stay header text)
ANALYSIS_DATE = datetime.datetime(2024, 6, 17, 9, 12, 10)
PAGE_HEADER = [
    ["Micromeritics Instrument Corporation"],
    ["AutoPore V 9620 Version 2.03.00", "", "Page 1"],
    ["Serial: 412  Port: 1/1"],
    ["Sample:", "NMC622 electrode (synthetic, for tests)"],
    ["Operator:", "test", "Submitter:", "test"],
    ["File:", "C:\\9620\\DATA\\000-123.SMP"],
    ["LP Analysis:", ANALYSIS_DATE, "Sample Weight:", f"{SAMPLE_MASS_G:.4f} g"],
    ["HP Analysis:", "6/17/2024 10:02:41 AM", "Correction Type:", "None"],
    ["Report Time:", "6/17/2024 11:30:00 AM", "Show Neg. Int:", "No"],
    [],
]
PARAMETERS = [
    ["Low Pressure:"],
    ["Evacuation Pressure:", "50 µmHg"],
    ["Evacuation Time:", "5 mins"],
    ["Mercury Filling Pressure:", "0.52 psia"],
    ["Equilibration Time:", "10 secs"],
    ["High Pressure:"],
    ["Equilibration Time:", "10 secs"],
    ["No Blank Correction"],
    ["Penetrometer:", "07-0861 (3) 5 Bulb, 0.412 Stem, Powder"],
    ["Pen. Constant:", "10.79 µL/pF", "Adv. Contact Angle:", "140.000 degrees"],
    ["Pen. Weight:", "63.4909 g", "Rec. Contact Angle:", "140.000 degrees"],
    ["Stem Volume:", "0.4120 mL", "Hg Surface Tension:", "485.000 dynes/cm"],
    ["Max. Head Pressure:", "4.4500 psia", "Hg Density:", "13.5335 g/mL"],
    ["Pen. Volume:", 5.9, "mL", "Sample Weight:", SAMPLE_MASS_G, "g"],
    ["Assembly Weight:", "124.5523 g"],
    [],
]


def _summary(c: dict) -> list[list]:
    return [
        ["Summary Report"],
        [],
        *PARAMETERS,
        ["Intrusion Data Summary"],
        ["Total Intrusion Volume =", f"{c['v'][-1]:.4f} mL/g"],
        ["Bulk Density at 0.52 psia =", "3.4800 g/mL"],
        ["Apparent (skeletal) Density =", "4.5900 g/mL"],
    ]


def _tabular(c: dict, extrusion: bool) -> tuple[list[list], list[tuple[int, int, int, int]]]:
    """A tabular report page (rows, merged ranges relative to the page)."""
    p, d, v = (c["pe"], c["de"], c["ve"]) if extrusion else (c["p"], c["d"], c["v"])
    name = "Extrusion" if extrusion else "Intrusion"
    rows: list[list] = [
        [f"{name} Data - Tabular Report"],
        [],
        ["Pressure", "Pore Size Diameter", "Cumulative Intrusion", "", "Incremental Intrusion"],
        ["(psia)", "(µm)", "(mL/g)", "(mL)", "(mL/g)", "% of Total Intrusion Volume"],
    ]
    merged = [(0, 0, 0, 5), (2, 2, 2, 3)]
    inc = np.diff(v, prepend=v[0])
    for i in range(p.size):
        rows.append([p[i], d[i], v[i], v[i] * SAMPLE_MASS_G, inc[i], 100 * v[i] / c["v"][-1]])
    return rows, merged


def _plots(c: dict) -> tuple[list[list], list[list]]:
    cum = [
        ["Cumulative Intrusion vs Pressure"],
        [],
        ["Pressure (psia)", "Cumulative Intrusion (mL/g)"],
    ]
    cum += [[a, b] for a, b in zip(c["p"], c["v"], strict=True)]
    logd = [["Log Differential Intrusion vs Pore size"], []]
    logd += [["Pore size Diameter (µm)", "Log Differential Intrusion (mL/g)"]]
    dv = -np.gradient(c["v"], np.log10(c["d"]))
    logd += [[a, b] for a, b in zip(c["d"], dv, strict=True)]
    return cum, logd


def report_pages(c: dict | None = None) -> tuple[list[list], list[tuple[int, int, int, int]]]:
    """The ``report`` layout: all pages on one grid, ``|`` columns between them."""
    c = curve() if c is None else c
    intr, m_i = _tabular(c, False)
    ext, m_e = _tabular(c, True)
    cum, logd = _plots(c)
    pages = [(_summary(c), []), (intr, m_i), (ext, m_e), (cum, []), (logd, [])]
    width = 6
    nrows = len(PAGE_HEADER) + max(len(pg) for pg, _ in pages)
    grid: list[list] = [[] for _ in range(nrows)]
    merged = []
    for k, (page, mer) in enumerate(pages):
        body = PAGE_HEADER + page
        c0 = k * (width + 1)
        for r in range(nrows):
            cells = body[r] if r < len(body) else []
            row = grid[r]
            row.extend([None] * (c0 - len(row)))
            row.extend((list(cells) + [None] * width)[:width])
            row.append("|")
        merged += [
            (r0 + len(PAGE_HEADER), r1 + len(PAGE_HEADER), a + c0, b + c0) for r0, r1, a, b in mer
        ]
    return grid, merged


def sheets_layout(c: dict | None = None) -> dict[str, tuple[list[list], list]]:
    """The ``sheets`` layout: a summary sheet, one sheet per table, an empty sheet."""
    c = curve() if c is None else c
    intr, m_i = _tabular(c, False)
    ext, m_e = _tabular(c, True)
    return {
        # the sample weight only as numbers ("Sample Weight:" | 1.858 | "g") in the parameters
        "Summary": ([r for r in PAGE_HEADER if "Sample Weight:" not in r] + _summary(c), []),
        "Intrusion": (intr[2:], [(0, 0, 2, 3)]),
        "Extrusion": (ext[2:], [(0, 0, 2, 3)]),
        "Sheet3": ([], []),
    }


def write_xls(path: Path, sheets: dict[str, tuple[list[list], list]]) -> Path:
    """A BIFF8 workbook (xlwt): numbers as numbers, text as text, merged ranges merged."""
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="M/D/YYYY h:mm:ss AM/PM")
    for name, (rows, merged) in sheets.items():
        ws = book.add_sheet(name)
        starts = {(r0, c0): (r1, c1) for r0, r1, c0, c1 in merged}
        covered = {
            (r, cc)
            for r0, r1, c0, c1 in merged
            for r in range(r0, r1 + 1)
            for cc in range(c0, c1 + 1)
        }
        for r, row in enumerate(rows):
            for col, value in enumerate(row):
                if value is None or value == "":
                    continue
                if (r, col) in starts:
                    r1, c1 = starts[(r, col)]
                    ws.write_merge(r, r1, col, c1, value)
                elif isinstance(value, datetime.datetime):
                    ws.write(r, col, value, date_style)
                elif (r, col) not in covered:
                    ws.write(r, col, float(value) if isinstance(value, np.floating) else value)
    book.save(str(path))
    return path


def write_xlsx(path: Path, sheets: dict[str, tuple[list[list], list]]) -> Path:
    """The same workbook as ``.xlsx`` (openpyxl)."""
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, (rows, merged) in sheets.items():
        ws = book.create_sheet(name)
        for r, row in enumerate(rows, start=1):
            for col, value in enumerate(row, start=1):
                if value is not None and value != "":
                    ws.cell(r, col, float(value) if isinstance(value, np.floating) else value)
        for r0, r1, c0, c1 in merged:
            ws.merge_cells(start_row=r0 + 1, end_row=r1 + 1, start_column=c0 + 1, end_column=c1 + 1)
    book.save(str(path))
    return path


def write_text(path: Path, c: dict | None = None) -> Path:
    """The same numbers as an AutoPore text report (tab-separated, full precision)."""
    c = curve() if c is None else c
    lines = ["\t".join(map(str, row)) for row in PAGE_HEADER + PARAMETERS if row]
    for name, p, d, v in (
        ("Intrusion", c["p"], c["d"], c["v"]),
        ("Extrusion", c["pe"], c["de"], c["ve"]),
    ):
        lines += [
            "",
            f"{name} Data - Tabular Report",
            "Pressure (psia)\tPore Size Diameter (µm)\tCumulative Intrusion (mL/g)",
        ]
        lines += [
            f"{float(a)!r}\t{float(b)!r}\t{float(e)!r}" for a, b, e in zip(p, d, v, strict=True)
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
