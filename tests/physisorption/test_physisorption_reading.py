"""Reading isotherms: instrument files through adsorption-file-parser, plain CSVs, refusals."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
from sorption_models import PHYSISORPTION, VALIDATION

from microstructure.physisorption import Isotherm, read_isotherm


def _real(name, folder=PHYSISORPTION):
    path = folder / name
    if not path.is_file():
        pytest.skip(f"validation file {path} not available")
    return path


def test_micromeritics_report(tmp_path):
    path = _real("Sample_A.xls")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    iso = read_isotherm(path, manufacturer="mic", fmt="xl")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest  # input untouched
    assert (iso.manufacturer, iso.fmt, iso.adsorbate) == ("mic", "xl", "N2")
    assert iso.sample_mass_g == pytest.approx(0.1013) and iso.temperature_k == pytest.approx(77.3)
    assert np.sum(iso.branch == "adsorption") == 48 and np.sum(iso.branch == "desorption") == 36
    # first point as printed in the report: p/p0 0.00668555, 28.7595 cm3/g STP
    assert iso.pressure_relative[0] == pytest.approx(0.0066855, rel=1e-4)
    assert iso.amount_cm3_stp_per_g[0] == pytest.approx(28.7595, rel=1e-5)
    assert iso.amount_mmol_per_g[0] == pytest.approx(28.7595 / 22.414, rel=1e-4)
    assert iso.stated["external_area_m2_per_g"] == pytest.approx(139.6612)
    # auto-detection gives the same isotherm, also under another name
    copy = tmp_path / "renamed.xls"
    shutil.copy(path, copy)
    auto = read_isotherm(copy)
    assert auto.manufacturer == "mic"
    np.testing.assert_array_equal(auto.amount_cm3_stp_per_g, iso.amount_cm3_stp_per_g)
    with pytest.raises(ValueError):
        iso.amount_cm3_stp_per_g[0] = 1.0  # read-only


def test_quantachrome_absolute_amounts_divided_by_mass():
    path = _real("qnt_DUT-60_N2_raw.txt")
    iso = read_isotherm(path)
    assert (iso.manufacturer, iso.fmt) == ("qnt", "txt-raw")
    assert iso.sample_mass_g == pytest.approx(0.0081) and iso.temperature_k == pytest.approx(77.35)
    # highest point of the raw file: 755.237 Torr / p0 760.51 Torr, 26.6435 cc STP
    k = int(np.argmax(iso.pressure_relative))
    assert iso.pressure_relative[k] == pytest.approx(755.237 / 760.51, rel=1e-6)
    assert iso.amount_cm3_stp_per_g[k] == pytest.approx(26.6435 / 0.0081, rel=1e-6)
    assert np.all(iso.branch[: k + 1] == "adsorption") and np.all(
        iso.branch[k + 1 :] == "desorption"
    )


def test_mercury_intrusion_curve_refused_in_one_line():
    path = _real("micropy_input_mip.txt", VALIDATION)
    with pytest.raises(ValueError) as e:
        read_isotherm(path)
    msg = str(e.value)
    assert str(path) in msg and "not an isotherm" in msg and "\n" not in msg


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("pressure (psi),volume (mL)\n1,0.1\n2,0.2\n3,0.3\n", "psi"),
        ("p/p0,amount (cm3/g)\n0.1,1\n0.2,2\n0.3,3\n", "ambiguous"),
        ("p/p0,amount (furlongs)\n0.1,1\n0.2,2\n0.3,3\n", "unknown amount unit"),
        ("pressure (torr),amount (mmol/g)\n10,1\n20,2\n30,3\n", "does not name"),
        ("p/p0,amount (mmol/g)\n0.1,1\n0.2,x\n0.3,3\n", "non-numeric"),
        ("p/p0,amount (mmol/g)\n10,1\n20,2\n30,3\n", "p/p0 must lie"),
        ("", "empty"),
    ],
)
def test_bad_plain_files_refused(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as e:
        read_isotherm(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_binary_and_missing_files_refused(tmp_path):
    path = tmp_path / "stack.tif"
    path.write_bytes(b"II*\x00" + bytes(200))
    with pytest.raises(ValueError, match="binary"):
        read_isotherm(path)
    with pytest.raises(ValueError, match="no such isotherm file"):
        read_isotherm(tmp_path / "absent.xls")
    with pytest.raises(ValueError, match="unknown manufacturer"):
        read_isotherm(path, manufacturer="acme", fmt="txt")


def test_plain_csv_relative_and_absolute_pressures(tmp_path):
    rel = tmp_path / "rel.csv"
    rel.write_text(
        "# adsorbate: nitrogen\n# temperature_k: 77.3\n# sample_mass_g: 0.5\n"
        "p/p0,amount (mmol/g),branch\n0.1,1.0,ads\n0.2,1.5,ads\n0.5,2.0,ads\n0.9,3.0,ads\n"
        "0.5,2.5,des\n0.2,1.6,des\n"
    )
    iso = read_isotherm(rel)
    assert iso.adsorbate == "N2" and iso.sample_mass_g == 0.5 and iso.temperature_k == 77.3
    np.testing.assert_allclose(iso.amount_cm3_stp_per_g[:2], [22.414, 1.5 * 22.414])
    assert list(iso.branch[-2:]) == ["desorption", "desorption"]
    absolute = tmp_path / "abs.csv"
    absolute.write_text(
        "pressure (kPa);p0 (kPa);quantity (cm3(STP)/g)\n10,1;101,0;5,5\n30,3;101,0;7,25\n"
        "50,5;101,0;9,0\n"
    )
    iso = read_isotherm(absolute)  # semicolons and decimal commas
    np.testing.assert_allclose(iso.pressure_relative, [0.1, 0.3, 0.5])
    np.testing.assert_allclose(iso.amount_cm3_stp_per_g, [5.5, 7.25, 9.0])


def test_from_arrays_validates():
    with pytest.raises(ValueError, match="different lengths"):
        Isotherm.from_arrays([0.1, 0.2, 0.3], [1, 2], branch=["adsorption"] * 3)
    with pytest.raises(ValueError, match="NaN"):
        Isotherm.from_arrays([0.1, 0.2, 0.3], [1, np.nan, 3])
    with pytest.raises(ValueError, match="fewer than 3 adsorption"):
        Isotherm.from_arrays([0.1, 0.9, 0.5], [1, 3, 2])


_AIF = """data_electrode
_exptl_adsorptive nitrogen
_exptl_temperature 77.35
_adsnt_sample_mass 12.5
_adsnt_material_id 'NMC622 electrode'
_units_temperature K
_units_pressure kPa
_units_mass mg
_units_loading {loading}
loop_
_adsorp_pressure
_adsorp_p0
_adsorp_amount
10.13 101.3 1.0
20.26 101.3 1.5
50.65 101.3 2.0
91.17 101.3 3.0
loop_
_desorp_pressure
_desorp_p0
_desorp_amount
50.65 101.3 2.4
20.26 101.3 1.6
"""


def test_aif_file(tmp_path):
    pytest.importorskip("gemmi")
    path = tmp_path / "electrode.aif"
    path.write_text(_AIF.format(loading="'mmol/g'"))
    iso = read_isotherm(path)
    assert (iso.manufacturer, iso.adsorbate, iso.material) == ("aif", "N2", "NMC622 electrode")
    assert iso.sample_mass_g == pytest.approx(0.0125) and iso.temperature_k == 77.35
    np.testing.assert_allclose(iso.pressure_relative, [0.1, 0.2, 0.5, 0.9, 0.5, 0.2])
    np.testing.assert_allclose(iso.amount_cm3_stp_per_g[:2], [22.414, 1.5 * 22.414])
    assert list(iso.branch).count("desorption") == 2
    path.write_text(_AIF.format(loading="'cm3/g'"))
    with pytest.raises(ValueError, match="_units_loading"):
        read_isotherm(path)


@pytest.mark.parametrize("name", ["Sample_A.xls", "qnt_DUT-60_N2_raw.txt"])
def test_truncated_exports_refused_quietly(tmp_path, capsys, name):
    data = _real(name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError) as e:
        read_isotherm(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)
    assert capsys.readouterr().out == ""  # nothing printed on stdout (it carries --json)
