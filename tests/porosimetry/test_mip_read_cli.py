"""``microstructure mip read``: densities, pore shape, extrusion output, real files, errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from mip_exports import write_pascal

from microstructure.cli import main

VALIDATION = Path(__file__).resolve().parents[2] / ".." / "shared" / "validation"


def _run(capsys, *argv) -> dict:
    assert main(["mip", "read", *map(str, argv), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_mip_read_analysis_options(tmp_path, capsys):
    path = write_pascal(tmp_path / "pascal.txt")
    ext = tmp_path / "ext.csv"
    out = _run(
        capsys,
        path,
        "--runs", "high",
        "--crystal-density-g-per-cm3", "4.436",
        "--skeletal-density-g-per-cm3", "4.31",
        "--bulk-volume-mm3", "533.6",
        "--pore-shape", "spherical",
        "--extrusion-out", ext,
    )  # fmt: skip
    an = out["analysis"]
    assert [round(100 * an[k], 1) for k in ("porosity_xtal", "porosity_skel", "porosity_app")] == [
        17.2,
        16.8,
        16.3,
    ]
    assert an["pore_shape"] == "spherical"
    assert out["extrusion"]["hg_entrapment_fraction"] == pytest.approx(0.5, abs=0.01)
    rows = list(csv.DictReader(ext.open()))
    assert len(rows) == out["extrusion"]["n_points"] == 50
    assert float(rows[0]["pressure_mpa"]) == pytest.approx(400.0)
    cyl = _run(capsys, path, "--runs", "high")["analysis"]["pore_surface_m2_per_g"]
    assert an["pore_surface_m2_per_g"] == pytest.approx(1.5 * cyl)


def test_mip_read_refuses_an_isotherm_in_one_line(tmp_path, capsys):
    iso = tmp_path / "iso.csv"
    iso.write_text("Relative Pressure (P/Po),Quantity Adsorbed (cm3/g STP)\n0.05,1.0\n0.1,1.2\n")
    assert main(["mip", "read", str(iso)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "isotherm" in err


def test_mip_read_real_file_documented_d50(capsys):
    g4 = VALIDATION / "micropy_input_g4.txt"
    if not g4.is_file():
        pytest.skip("shared validation data not available")
    out = _run(capsys, g4)
    # the documented result of issue 21: D50 201 nm (psi, mL, contact angle 140 deg)
    assert round(out["d50_nm"]) == 201
    assert out["export"]["unit_source"] == "assumed (no header)"
