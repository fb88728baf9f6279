"""Micromeritics AutoPore workbooks (``.xls`` written with xlwt, ``.xlsx`` with openpyxl, HTML
tables named ``.xls``): the known log-normal curve comes out (D50, total intrusion, branches,
units, header mass) identical to the same numbers as AutoPore text, and every wrong or
foreign workbook gives a one-line error naming the file and the cause."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import mip_workbooks as wb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microstructure.cli import main
from microstructure.porosimetry.measured import load_mip_curve, read_mip_export, read_mip_file

VALIDATION = Path(__file__).resolve().parents[2] / ".." / "shared" / "validation"
ST = wb.SURFACE_TENSION_N_PER_M


def _report(path: Path, writer=wb.write_xls) -> Path:
    grid, merged = wb.report_pages()
    return writer(path, {"Sheet1": (grid, merged)})


def _sheets(path: Path, writer=wb.write_xls) -> Path:
    return writer(path, wb.sheets_layout())


def _total_mm3_per_g() -> float:
    c = wb.curve()
    return 1000.0 * float(c["v"][-1] - c["v"][0])


def _check_d50(curve) -> None:
    """D50 of the read curve: the analytic value within one pressure step (each step's volume
    sits at its own, smaller diameter: the convention of ``MipCurve.d_values``)."""
    step = float(np.max(np.diff(np.log10(curve.pressure_mpa))))
    d50 = curve.d_values()["d50_nm"]
    assert wb.analytic_d50_nm() * 10 ** (-1.5 * step) <= d50 <= wb.analytic_d50_nm() * 1.001


@pytest.mark.parametrize(
    "layout, writer, suffix, sheet",
    [
        (_report, wb.write_xls, ".xls", "Sheet1"),
        (_sheets, wb.write_xls, ".xls", "Intrusion"),
        (_report, wb.write_xlsx, ".xlsx", "Sheet1"),
        (_sheets, wb.write_xlsx, ".xlsx", "Intrusion"),
    ],
)
def test_autopore_workbooks_give_the_known_curve(tmp_path, layout, writer, suffix, sheet):
    path = layout(tmp_path / f"autopore{suffix}", writer)
    exp = read_mip_export(path)
    assert exp.instrument == "autopore"
    assert exp.units["pressure_unit"] == "psi" and exp.units["volume_unit"] == "ml"
    assert exp.units["per_gram"] is True and exp.units["unit_source"] == "title"
    # "Sample Weight: 1.8580 g" (text) or "Sample Weight:" | 1.858 | "g" (numbers)
    assert exp.sample_mass_g == pytest.approx(wb.SAMPLE_MASS_G)
    assert exp.bulk_density_g_per_cm3 == pytest.approx(3.48)
    assert exp.source["format"] == suffix[1:] and exp.source["sheet"] == sheet
    assert exp.source["skipped_rows"] == 0
    # the tabular intrusion report is read, not the plot data of the same sheet
    assert len(exp.source["tables"]) == 2 and sheet in exp.source["tables"][0]
    c = wb.curve()
    assert exp.intrusion_pressure_mpa.size == c["p"].size
    np.testing.assert_allclose(exp.intrusion_pressure_mpa, c["p"] * wb.PSI_MPA, rtol=1e-12)
    assert exp.total_intruded_mm3_per_g == pytest.approx(_total_mm3_per_g(), rel=1e-9)
    # extrusion branch from its own table: from the top pressure down, 40 % entrapped
    assert exp.extrusion_pressure_mpa[0] == pytest.approx(c["pe"][0] * wb.PSI_MPA)
    assert np.all(np.diff(exp.extrusion_pressure_mpa) < 0)
    assert exp.entrapment_fraction == pytest.approx(wb.ENTRAPPED, abs=2e-3)
    # the instrument's Washburn parameters from the header give the analytic D50
    assert exp.header_washburn == {"contact_angle_deg": 140.0, "surface_tension_n_per_m": ST}
    curve = read_mip_file(path, **exp.header_washburn)
    assert curve.metadata["source_file"]["sheet"] == sheet
    _check_d50(curve)


def test_workbook_and_text_export_read_identically(tmp_path):
    text = read_mip_export(wb.write_text(tmp_path / "autopore.txt"))
    assert text.source == {"format": "text"}
    for path in (_report(tmp_path / "a.xls"), _sheets(tmp_path / "b.xlsx", wb.write_xlsx)):
        exp = read_mip_export(path)
        for name in (
            "intrusion_pressure_mpa",
            "intrusion_volume_mm3_per_g",
            "extrusion_pressure_mpa",
            "extrusion_volume_mm3_per_g",
        ):
            np.testing.assert_allclose(getattr(exp, name), getattr(text, name), rtol=1e-13)
        assert exp.units == text.units and exp.sample_mass_g == text.sample_mass_g
        a = read_mip_file(path, surface_tension_n_per_m=ST).d_values()
        b = read_mip_file(tmp_path / "autopore.txt", surface_tension_n_per_m=ST).d_values()
        assert a == pytest.approx(b, rel=1e-12)


@pytest.mark.parametrize("writer, suffix", [(wb.write_xls, ".xls"), (wb.write_xlsx, ".xlsx")])
def test_absolute_volumes_under_a_merged_title_use_the_header_mass(tmp_path, writer, suffix):
    path = _report(tmp_path / f"autopore{suffix}", writer)
    # the merged "Cumulative Intrusion" title covers the "(mL)" column beside "(mL/g)"
    exp = read_mip_export(path, volume_column="Cumulative Intrusion (mL)")
    assert exp.units["volume_unit"] == "ml" and exp.units["per_gram"] is False
    assert exp.total_intruded_mm3_per_g == pytest.approx(_total_mm3_per_g(), rel=1e-9)
    with pytest.raises(ValueError, match="sample_mass_g: expected a positive mass"):
        read_mip_export(path, volume_column="Cumulative Intrusion (mL)", sample_mass_g=-1)
    # a given mass wins over the header: twice the mass, half the specific volume
    half = read_mip_export(
        path, volume_column="Cumulative Intrusion (mL)", sample_mass_g=2 * wb.SAMPLE_MASS_G
    )
    assert half.total_intruded_mm3_per_g == pytest.approx(_total_mm3_per_g() / 2, rel=1e-9)


def test_extruded_volume_column_becomes_the_volume_in_the_sample(tmp_path):
    sheets = wb.sheets_layout()
    rows = sheets["Extrusion"][0]
    top = wb.curve()["v"][-1]
    rows[0][2] = "Cumulative Extrusion"
    for r in rows[2:]:
        r[2] = top - r[2]  # the volume that left the sample, from 0 at the top pressure
    path = wb.write_xls(tmp_path / "extruded.xls", sheets)
    exp = read_mip_export(path)
    assert exp.units["extrusion_volume"].startswith("extruded")
    assert exp.entrapment_fraction == pytest.approx(wb.ENTRAPPED, abs=2e-3)
    ref = read_mip_export(_sheets(tmp_path / "ref.xls"))
    assert ref.units["extrusion_volume"] == "in sample"
    np.testing.assert_allclose(exp.extrusion_volume_mm3_per_g, ref.extrusion_volume_mm3_per_g)
    for r in rows[2:]:
        r[2] = 3 * r[2]  # more mercury out than went in
    with pytest.raises(ValueError, match="neither the volume in the sample nor the extruded"):
        read_mip_export(wb.write_xls(tmp_path / "too_much.xls", sheets))


def test_blank_and_text_cells_skip_their_rows(tmp_path):
    sheets = wb.sheets_layout()
    rows = sheets["Intrusion"][0]
    rows[10][2] = "n/a"  # text in the volume column
    rows[20][0] = None  # blank pressure
    rows[30][2] = "#N/A"
    rows[40][4] = "?"  # an unused column: the row is kept
    path = wb.write_xls(tmp_path / "holes.xls", sheets)
    exp = read_mip_export(path)
    assert exp.source["skipped_rows"] == 3
    assert exp.intrusion_pressure_mpa.size == wb.curve()["p"].size - 3
    assert exp.total_intruded_mm3_per_g == pytest.approx(_total_mm3_per_g(), rel=1e-9)
    _check_d50(read_mip_file(path, surface_tension_n_per_m=ST))


def _as_text(sheets: dict, fmt) -> dict:
    out = {}
    for name, (rows, merged) in sheets.items():
        out[name] = (
            [[fmt(v) if isinstance(v, float) else v for v in row] for row in rows],
            merged,
        )
    return out


def test_numbers_stored_as_text_and_decimal_commas(tmp_path):
    comma = _as_text(wb.sheets_layout(), lambda v: f"{v:.9e}".replace(".", ","))
    exp = read_mip_export(wb.write_xls(tmp_path / "comma.xls", comma))
    assert exp.decimal_comma
    assert exp.total_intruded_mm3_per_g == pytest.approx(_total_mm3_per_g(), rel=1e-8)
    dots = _as_text(wb.sheets_layout(), lambda v: f"{v:.12g}")
    exp = read_mip_export(wb.write_xls(tmp_path / "dots.xls", dots))
    assert not exp.decimal_comma
    assert exp.total_intruded_mm3_per_g == pytest.approx(_total_mm3_per_g(), rel=1e-9)
    # "12,345.678" has a thousands separator
    thousands = _as_text(wb.sheets_layout(), lambda v: f"{v:,.9f}" if v >= 1000 else repr(float(v)))
    exp = read_mip_export(wb.write_xls(tmp_path / "thousands.xls", thousands))
    assert exp.intrusion_pressure_mpa.max() == pytest.approx(60000 * wb.PSI_MPA, rel=1e-12)
    assert exp.total_intruded_mm3_per_g == pytest.approx(_total_mm3_per_g(), rel=1e-9)
    # "1,500" is a thousands separator or a decimal comma: refused unless told
    rows = thousands["Intrusion"][0]
    rows[2][0] = "1,500"
    path = wb.write_xls(tmp_path / "thousands.xls", thousands)
    with pytest.raises(ValueError, match=r"thousands separator or a decimal comma.*decimal="):
        read_mip_export(path)


def test_foreign_containers_are_read_as_what_they_are(tmp_path):
    ref = read_mip_export(_sheets(tmp_path / "ref.xls"))
    # an xlsx saved with the .xls extension
    xlsx = _sheets(tmp_path / "really_xlsx.xls", wb.write_xlsx)
    got = read_mip_export(xlsx)
    assert got.source["format"] == "xlsx"
    np.testing.assert_allclose(got.intrusion_volume_mm3_per_g, ref.intrusion_volume_mm3_per_g)
    # an HTML table saved as .xls (as some instrument software does)
    rows = wb.sheets_layout()["Intrusion"][0]
    body = "".join(
        "<tr>" + "".join(f"<td>{'' if v is None else v}</td>" for v in r) + "</tr>" for r in rows
    )
    html = tmp_path / "table.xls"
    html.write_text(
        "<html><body><p>Micromeritics AutoPore V</p><table><tr><td>Sample Weight:</td>"
        f"<td>{wb.SAMPLE_MASS_G} g</td></tr><tr><td colspan='2'>Intrusion Data</td></tr>"
        f"{body}</table></body></html>",
        encoding="utf-8",
    )
    got = read_mip_export(html)
    assert got.source["format"] == "html" and got.sample_mass_g == pytest.approx(1.858)
    np.testing.assert_allclose(got.intrusion_volume_mm3_per_g, ref.intrusion_volume_mm3_per_g)
    # a tab-separated text export named .xls
    text = wb.write_text(tmp_path / "text.xls")
    got = read_mip_export(text)
    assert got.source["format"] == "text"
    np.testing.assert_allclose(got.intrusion_volume_mm3_per_g, ref.intrusion_volume_mm3_per_g)
    # load_mip_curve takes workbooks to the export reader
    assert load_mip_curve(xlsx).metadata["source_file"]["format"] == "xlsx"


def test_sheet_option_and_several_sheets(tmp_path):
    sheets = wb.sheets_layout()
    both = {"Notes": ([["free text"], ["more text"]], []), **sheets}
    path = wb.write_xls(tmp_path / "sheets.xls", both)
    exp = read_mip_export(path)
    assert exp.source["sheet"] == "Intrusion"
    assert exp.source["sheets"] == ["Notes", "Summary", "Intrusion", "Extrusion", "Sheet3"]
    assert "Extrusion" in exp.source["tables"][1]
    only = read_mip_export(path, sheet="Intrusion")
    assert only.extrusion_pressure_mpa is None and only.sample_mass_g is None
    assert read_mip_export(path, sheet=2).source["sheet"] == "Intrusion"
    with pytest.raises(ValueError, match=r"sheet: 'nope' matches 0 of the sheets"):
        read_mip_export(path, sheet="nope")
    with pytest.raises(ValueError, match="sheet: expected an index in 0..4"):
        read_mip_export(path, sheet=9)
    with pytest.raises(ValueError, match="no pressure/cumulative volume table"):
        read_mip_export(path, sheet="Notes")
    with pytest.raises(ValueError, match="sheet: .* is a text export"):
        read_mip_export(wb.write_text(tmp_path / "a.txt"), sheet="Intrusion")


def test_cli_reads_xls(tmp_path, capsys):
    path = _report(tmp_path / "autopore.xls")
    args = ["mip", "read", str(path), "--surface-tension-n-per-m", str(ST), "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["export"]["source"]["format"] == "xls"
    assert out["export"]["sample_mass_g"] == pytest.approx(wb.SAMPLE_MASS_G)
    assert out["extrusion"]["hg_entrapment_fraction"] == pytest.approx(wb.ENTRAPPED, abs=2e-3)
    api = read_mip_file(path, surface_tension_n_per_m=ST).d_values()
    assert out["d50_nm"] == pytest.approx(api["d50_nm"], rel=1e-12)
    sheets = _sheets(tmp_path / "sheets.xls")
    assert main(["mip", "read", str(sheets), "--sheet", "Intrusion", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["export"]["source"]["sheet"] == "Intrusion"
    assert main(["mip", "read", str(sheets), "--sheet", "Summary", "--json"]) != 0
    err = capsys.readouterr().err.strip()
    assert "no pressure/cumulative volume table" in err and "\n" not in err


# --------------------------------------------------------------------------- wrong files


def _isotherm(path: Path) -> Path:
    rows = [
        ["Micromeritics Instrument Corporation"],
        ["Sample:", "silica"],
        ["Analysis Adsorptive:", "N2", "Sample Mass:", "0.1013 g"],
        ["Isotherm Tabular Report"],
        ["Relative Pressure (P/Po)", "Absolute Pressure (mmHg)", "Quantity Adsorbed (cm³/g STP)"],
    ]
    rows += [[x, 760 * x, 50 + 100 * x] for x in np.linspace(0.01, 0.99, 20)]
    return wb.write_xls(path, {"Sheet1": (rows, [])})


def _table(path: Path, titles: list[str], cols: list[np.ndarray], head=()) -> Path:
    rows = [list(h) for h in head] + [titles] + [list(r) for r in zip(*cols, strict=True)]
    return wb.write_xls(path, {"Data": (rows, [])})


def _case(name: str, tmp: Path) -> tuple[Path, str]:
    c = wb.curve()
    p, v, d = c["p"], c["v"], c["d"]
    x = tmp / f"{name}.xls"
    if name == "isotherm":
        return _isotherm(x), r"sheet 'Sheet1' of the Excel workbook shows .*gas sorption isotherm"
    if name == "torr":
        return _table(x, ["Pressure (Torr)", "Volume (cm3/g)"], [p, v]), "Torr"
    if name == "diameter_only":
        cum = _table(x, ["Pore size Diameter (µm)", "Cumulative Intrusion (mL/g)"], [d, v])
        return cum, r"no pressure/cumulative volume table in the Excel workbook \(sheets: 'Data'\)"
    if name == "empty":
        return wb.write_xls(x, {"Sheet1": ([], [])}), "no pressure/cumulative volume table"
    if name == "ole_garbage":
        x.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 8)
        return x, "not a readable Excel 97-2003 workbook"
    if name == "truncated":
        data = _report(tmp / "full.xls").read_bytes()
        x.write_bytes(data[: len(data) // 3])
        return x, "not a readable Excel 97-2003 workbook"
    if name == "zip_not_xlsx":
        with zipfile.ZipFile(x, "w") as z:
            z.writestr("readme.txt", "hello")
        return x, r"not a readable Excel \(xlsx\) workbook"
    if name == "xml2003":
        x.write_text(
            '<?xml version="1.0"?>\n<Workbook xmlns="urn:schemas-microsoft-com:office:'
            'spreadsheet"><Worksheet ss:Name="Data"/></Workbook>'
        )
        return x, "Excel 2003 XML spreadsheet"
    if name == "two_plain_tables":
        rows = [["Intrusion"], ["Pressure (psia)", "Cumulative Intrusion (mL/g)"]]
        rows += [[a, b] for a, b in zip(p, v, strict=True)]
        rows += [["Intrusion, repeat"], ["Pressure (psia)", "Cumulative Intrusion (mL/g)"]]
        rows += [[a, 2 * b] for a, b in zip(p, v, strict=True)]
        wb.write_xls(x, {"Data": (rows, [])})
        return x, r"2 intrusion tables \(sheet 'Data' rows 3-243; sheet 'Data' rows 246-486\)"
    if name == "only_extrusion":
        return wb.write_xls(x, {"Extrusion": wb.sheets_layout()["Extrusion"]}), "only extrusion"
    if name == "absolute_no_mass":
        t = ["Pressure (psia)", "Cumulative Intrusion (mL)"]
        return _table(x, t, [p, v]), "absolute volumes .* no sample mass"
    if name == "pascal_for_psia":
        t = ["Pressure (Pa)", "Cumulative Intrusion (mL/g)"]
        return _table(x, t, [p, v]), "never exceeds .* wrong unit"
    if name == "swapped_titles":
        t = ["Cumulative Intrusion (mL/g)", "Pressure (psia)"]
        return _table(x, t, [p, v]), "pressure never exceeds 0.001448 MPa .* wrong unit"
    if name == "decreasing_volume":
        t = ["Pressure (psia)", "Cumulative Intrusion (mL/g)"]
        return _table(x, t, [p, v[::-1]]), "cumulative volume decreases"
    raise AssertionError(name)


CASES = [
    "isotherm",
    "torr",
    "diameter_only",
    "empty",
    "ole_garbage",
    "truncated",
    "zip_not_xlsx",
    "xml2003",
    "two_plain_tables",
    "only_extrusion",
    "absolute_no_mass",
    "pascal_for_psia",
    "swapped_titles",
    "decreasing_volume",
]


@pytest.mark.parametrize("name", CASES)
def test_wrong_workbooks_give_a_one_line_error(tmp_path, name):
    path, cause = _case(name, tmp_path)
    with pytest.raises(ValueError, match=cause) as info:
        read_mip_file(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg


def test_real_gas_sorption_workbook_is_refused():
    path = VALIDATION / "physisorption" / "Sample_A.xls"
    if not path.is_file():
        pytest.skip("shared validation data not available")
    with pytest.raises(ValueError) as info:
        read_mip_export(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg
    assert "sheet 'Sheet1'" in msg and "gas sorption isotherm" in msg


_CELL = st.one_of(
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["Pressure (psia)", "Cumulative Intrusion (mL/g)", "|", "n/a", "1,5", "x"]),
    st.text(max_size=6),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(st.lists(_CELL, max_size=5), max_size=12))
def test_random_workbooks_give_a_curve_or_one_line_error(tmp_path, rows):
    path = wb.write_xls(tmp_path / "fuzz.xls", {"S": (rows, [])})
    try:
        curve = read_mip_file(path)
    except ValueError as exc:
        assert "\n" not in str(exc)
        return
    assert np.all(np.isfinite(curve.pressure_mpa)) and np.all(curve.diameter_nm > 0)
    assert np.all((curve.saturation >= 0) & (curve.saturation <= 1 + 1e-9))


_REAL: list[bytes] = []


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    blob=st.binary(max_size=600),
    prefix=st.sampled_from([b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"PK\x03\x04", b"<html><table>"]),
    cut=st.floats(0.0, 1.0),
)
def test_corrupt_workbook_bytes_give_one_line_errors(tmp_path, blob, prefix, cut):
    # random bytes behind a workbook signature, and real workbooks cut short or patched
    if not _REAL:  # one real workbook for all examples
        _REAL.append(_report(tmp_path / "real.xls").read_bytes())
    real = _REAL[0]
    n = int(cut * len(real))
    for i, data in enumerate((prefix + blob, real[:n], real[:n] + blob + real[n + len(blob) :])):
        path = tmp_path / f"bad{i}.xls"
        path.write_bytes(data)
        try:
            curve = load_mip_curve(path)
        except ValueError as exc:
            assert "\n" not in str(exc) and path.name in str(exc)
            continue
        assert np.all(np.isfinite(curve.saturation)) and np.all(curve.diameter_nm > 0)
