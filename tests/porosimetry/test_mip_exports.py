"""Instrument exports (AutoPore, Pascal/SOLID, PoreMaster, generic CSV) and a list of wrong or
foreign files: each gives the known number or a one-line error, never a silent wrong number."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from mip_exports import (
    PSI_MPA,
    SAMPLE_MASS_G,
    TOTAL_MM3_PER_G,
    cumulative_mm3_per_g,
    pressures_mpa,
    write_autopore,
    write_pascal,
    write_poremaster,
)

from microstructure.porosimetry.measured import read_mip_export, read_mip_file
from microstructure.porosimetry.washburn import washburn_diameter_nm

VALIDATION = Path(__file__).resolve().parents[2] / ".." / "shared" / "validation"


def _analytic_d50_nm(lo: float = 0.1, hi: float = 400.0) -> float:
    p = np.geomspace(lo, hi, 20000)
    v = cumulative_mm3_per_g(p) - cumulative_mm3_per_g(np.array([lo]))[0]
    return float(washburn_diameter_nm(np.interp(0.5 * v[-1], v, p)))


@pytest.mark.parametrize(
    "writer, instrument, runs",
    [
        (write_autopore, "autopore", ["single"]),
        (write_pascal, "pascal", ["low", "high"]),
        (write_poremaster, "poremaster", ["low", "high"]),
    ],
)
def test_instrument_layouts_give_the_analytic_curve(tmp_path, writer, instrument, runs):
    path = writer(tmp_path / "export.txt")
    exp = read_mip_export(path)
    assert exp.instrument == instrument
    assert [r["name"] for r in exp.runs] == runs
    assert exp.units["per_gram"] is True
    v0 = cumulative_mm3_per_g(exp.intrusion_pressure_mpa[:1])[0]
    # merged runs continue the cumulative volume: the analytic total within 0.5 %
    assert exp.intrusion_volume_mm3_per_g.max() == pytest.approx(TOTAL_MM3_PER_G, rel=5e-3)
    assert exp.intrusion_volume_mm3_per_g[0] == pytest.approx(v0, abs=0.05)
    hp = read_mip_file(path, min_pressure_mpa=0.1)
    assert hp.specific_volume_mm3_per_g[-1] == pytest.approx(
        TOTAL_MM3_PER_G - cumulative_mm3_per_g(np.array([0.1]))[0], rel=1e-2
    )
    # D50 of the high-pressure window: the analytic value within one pressure step (each
    # step's volume sits at its own, smaller diameter: d_values' convention)
    step = float(np.max(np.diff(np.log10(hp.pressure_mpa))))
    d50 = hp.d_values()["d50_nm"]
    assert _analytic_d50_nm() * 10 ** (-1.5 * step) <= d50 <= _analytic_d50_nm() * 1.001


def test_header_numbers_and_extrusion(tmp_path):
    ap = read_mip_export(write_autopore(tmp_path / "ap.txt"))
    assert ap.sample_mass_g == pytest.approx(SAMPLE_MASS_G)
    assert ap.bulk_density_g_per_cm3 == pytest.approx(3.48)
    assert ap.entrapment_fraction == pytest.approx(0.5, abs=0.01)
    pa = read_mip_export(write_pascal(tmp_path / "pa.txt"))
    assert pa.decimal_comma
    assert pa.sample_mass_g == pytest.approx(SAMPLE_MASS_G)
    assert pa.bulk_volume_mm3 == pytest.approx(533.6)
    assert pa.extrusion_pressure_mpa[0] == pytest.approx(400.0)
    assert pa.entrapment_fraction == pytest.approx(0.5, abs=0.01)
    # the high-pressure run alone (as in Beuse et al. 2021): starts at 0.1 MPa from zero
    hp = read_mip_export(tmp_path / "pa.txt", runs="high")
    assert hp.intrusion_pressure_mpa[0] == pytest.approx(0.1)
    assert hp.intrusion_volume_mm3_per_g[0] == 0.0
    low = read_mip_export(tmp_path / "pa.txt", runs="low")
    assert low.intrusion_pressure_mpa.max() == pytest.approx(0.4)
    with pytest.raises(ValueError, match="no run headed as high"):
        read_mip_export(write_autopore(tmp_path / "ap2.txt"), runs="high")


def test_absolute_volumes_divided_by_the_header_mass(tmp_path):
    per_g = read_mip_export(write_pascal(tmp_path / "a.txt"))
    absolute = read_mip_export(write_pascal(tmp_path / "b.txt", absolute=True))
    assert absolute.units["volume_unit"] == "mm3"
    np.testing.assert_allclose(
        absolute.intrusion_volume_mm3_per_g, per_g.intrusion_volume_mm3_per_g, rtol=1e-4, atol=1e-4
    )


def test_generic_csv_with_an_explicit_column_mapping(tmp_path):
    p = pressures_mpa()
    v = cumulative_mm3_per_g(p) * 0.25  # absolute mm3 of a 0.25 g sample
    path = tmp_path / "lab.csv"
    rows = ["id;P_kPa;V_mm3;T_C"] + [
        f"{i};{a * 1000:.6f};{b:.6f};21.5" for i, (a, b) in enumerate(zip(p, v, strict=True))
    ]
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError, match="no pressure column"):
        read_mip_file(path)
    c = read_mip_file(
        path,
        pressure_column="P_kPa",
        volume_column="V_mm3",
        pressure_unit="kpa",
        volume_unit="mm3",
        sample_mass_g=0.25,
    )
    np.testing.assert_allclose(c.pressure_mpa, p, rtol=1e-6)
    assert c.specific_volume_mm3_per_g[-1] == pytest.approx(v[-1] / 0.25 - v[0] / 0.25, rel=1e-5)


# ---- the list of wrong or foreign files -------------------------------------------------


def _reference(tmp_path: Path):
    p = pressures_mpa()
    v = cumulative_mm3_per_g(p)
    path = tmp_path / "ref.txt"
    path.write_text(
        "Pressure (MPa)\tCumulative volume (mm3/g)\n"
        + "\n".join(f"{a!r}\t{b!r}" for a, b in zip(p.tolist(), v.tolist(), strict=True))
    )
    return p, v, read_mip_file(path)


def _same(curve, ref) -> None:
    np.testing.assert_allclose(curve.pressure_mpa, ref.pressure_mpa, rtol=1e-6)
    np.testing.assert_allclose(
        curve.specific_volume_mm3_per_g, ref.specific_volume_mm3_per_g, rtol=1e-5, atol=1e-6
    )
    assert curve.d_values()["d50_nm"] == pytest.approx(ref.d_values()["d50_nm"], rel=1e-5)


def _lines(p, v, fmt: str, head: str) -> str:
    rows = zip(np.asarray(p).tolist(), np.asarray(v).tolist(), strict=True)
    return head + "\n" + "\n".join(fmt.format(a, b) for a, b in rows) + "\n"


RIGHT = {
    # name: (text builder taking (p MPa, v mm3/g), reader kwargs)
    "pascal_header": (
        lambda p, v: _lines(p * 1e6, v, "{}\t{}", "Pressure (Pa)\tVolume (mm3/g)"),
        {},
    ),
    "atm_header": (
        lambda p, v: _lines(p / 0.101325, v, "{},{}", "Pressure (atm),Intrusion (mm3/g)"),
        {},
    ),
    "psia_ml_per_g": (
        lambda p, v: _lines(p / PSI_MPA, v / 1000, "{}  {}", "Pressure (psia)  Cum. volume (mL/g)"),  # noqa: E501
        {},
    ),
    "swapped_titled_columns": (
        lambda p, v: _lines(v / 1000, p * 10, "{};{}", "Cumulative volume [cm3/g];Pressure [bar]"),  # noqa: E501
        {},
    ),
    "decimal_comma_tabs": (
        lambda p, v: _lines(p, v, "{}\t{}", "Druck [MPa]\tVolumen [mm³/g]").replace(".", ","),
        {},
    ),
    "decimal_comma_spaces": (
        lambda p, v: _lines(p, v, "{}   {}", "Pressure [MPa]   Volume [mm3/g]").replace(".", ","),
        {},
    ),
    "litres_absolute_with_mass": (
        lambda p, v: _lines(p, v * 2e-6, "{}\t{}", "Pressure (MPa)\tVolume (L)"),
        {"sample_mass_g": 2.0},
    ),
    "utf16_export": (None, {}),
}


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_foreign_layouts_give_the_right_number(tmp_path, name):
    p, v, ref = _reference(tmp_path)
    build, kwargs = RIGHT[name]
    path = tmp_path / f"{name}.txt"
    if name == "utf16_export":
        path.write_text((tmp_path / "ref.txt").read_text(), encoding="utf-16")
    else:
        path.write_text(build(p, v), encoding="utf-8")
    _same(read_mip_file(path, **kwargs), ref)


def _binary(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 4)


def _png(path: Path) -> None:
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64)


WRONG = {
    "isotherm_csv": (
        lambda p, v: _lines(
            np.linspace(0.01, 0.99, p.size), v, "{},{}", "P/P0,Quantity Adsorbed (cm3/g STP)"
        ),  # noqa: E501
        "isotherm|p/p0|STP",
    ),
    "isotherm_torr": (
        lambda p, v: _lines(p * 7, v, "{}\t{}", "Pressure (Torr)\tVolume (cc)"),
        "gas sorption isotherm|Torr",
    ),
    "untitled_relative_pressures": (
        lambda p, v: _lines(np.linspace(0.01, 0.99, p.size), v, "{} {}", ""),
        "never exceeds",
    ),
    "untitled_swapped_columns": (
        lambda p, v: _lines(v / 1000 - v[0] / 1000, p / PSI_MPA, "{} {}", ""),
        "order cannot be told",
    ),
    "three_untitled_columns": (
        lambda p, v: "\n".join(f"{a} {b} {b}" for a, b in zip(p, v, strict=True)),
        "cannot be told",
    ),
    "titles_without_units": (
        lambda p, v: _lines(p, v, "{},{}", "Pressure,Volume"),
        "states no unit",
    ),
    "absolute_without_mass": (
        lambda p, v: _lines(p, v, "{},{}", "Pressure (MPa),Volume (mL)"),
        "no sample mass",
    ),
    "kpa_values_under_mpa_header": (
        lambda p, v: _lines(p * 1000, v, "{},{}", "Pressure (MPa),Volume (mm3/g)"),
        "exceeds the 1000 MPa",
    ),
    "ml_values_under_l_header": (
        lambda p, v: _lines(p, v, "{},{}", "Pressure (MPa),Volume (L/g)"),
        "exceeds 20000 mm3/g",
    ),
    "negative_volumes": (
        lambda p, v: _lines(p, v - 10, "{},{}", "Pressure (MPa),Volume (mm3/g)"),
        "negative intruded volumes",
    ),
    "volume_not_cumulative": (
        lambda p, v: _lines(
            p, np.abs(np.sin(np.arange(p.size))) * 40, "{},{}", "Pressure (MPa),Volume (mm3/g)"
        ),  # noqa: E501
        "decreases",
    ),
    "only_incremental": (
        lambda p, v: _lines(
            p, np.diff(v, prepend=0), "{},{}", "Pressure (MPa),Incremental Intrusion (mL/g)"
        ),  # noqa: E501
        "only incremental",
    ),
    "diameter_as_pressure": (
        lambda p, v: _lines(
            washburn_diameter_nm(p), v, "{},{}", "Pore diameter (nm),Volume (mm3/g)"
        ),  # noqa: E501
        "no pressure column",
    ),
    "comma_csv_with_decimal_commas": (
        lambda p, v: "Pressure (MPa),Volume (mm3/g)\n0,1,0,0\n1,5,0,2\n",
        "columns|cannot",
    ),
    "html_page": (lambda p, v: "<html><body><p>MIP report</p></body></html>\n", "no numeric rows"),
    "empty": (lambda p, v: "", "empty file"),
    "binary": (_binary, "binary"),
    "png": (_png, "binary"),
}


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_files_give_a_one_line_error(tmp_path, name):
    p, v, _ = _reference(tmp_path)
    build, match = WRONG[name]
    path = tmp_path / f"{name}.txt"
    if name in ("binary", "png"):
        build(path)
    else:
        path.write_text(build(p, v), encoding="utf-8")
    with pytest.raises(ValueError, match=match) as info:
        read_mip_file(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value) or path.name in str(info.value)


def test_real_isotherms_are_refused():
    folder = VALIDATION / "physisorption"
    if not folder.is_dir():
        pytest.skip("shared validation data not available")
    with pytest.raises(ValueError, match="gas sorption isotherm"):
        read_mip_file(folder / "qnt_DUT-60_N2_raw.txt")
    with pytest.raises(ValueError, match="Excel"):
        read_mip_file(folder / "Sample_A.xls")


@pytest.mark.parametrize(
    "name, mass, n, total_ml",
    [
        ("micropy_input_mip.txt", 0.3016, 1037, 0.106484),
        ("micropy_input_g4.txt", None, 470, None),
        ("micropy_input_g9.txt", None, 467, None),
    ],
)
def test_real_mip_files_documented_result(name, mass, n, total_ml):
    path = VALIDATION / name
    if not path.is_file():
        pytest.skip("shared validation data not available")
    raw = np.loadtxt(path)
    exp = read_mip_export(path, sample_mass_g=mass)
    assert exp.intrusion_pressure_mpa.size == n
    assert exp.units["unit_source"] == "assumed (no header)"
    # psi and mL as the source documents; absolute mL divided by the dry mass when given
    assert exp.intrusion_pressure_mpa.max() == pytest.approx(raw[:, 0].max() * PSI_MPA)
    expected = raw[:, 1].max() * 1000 / (mass or 1.0)
    assert exp.intrusion_volume_mm3_per_g.max() == pytest.approx(expected)
    if total_ml is not None:
        assert exp.intrusion_volume_mm3_per_g.max() == pytest.approx(total_ml * 1e3 / mass)
    assert math.isnan(exp.entrapment_fraction)
