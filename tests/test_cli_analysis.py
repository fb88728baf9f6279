"""Command-line analysis commands (mip simulate/read/compare, granulometry, mfactor) against
analytic answers, plus their one-line errors."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from microstructure.cli import main
from microstructure.io import write_volume
from microstructure.volume import Volume

VOX = 20.0


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def washburn_diameter_nm(pressure_mpa, theta_deg=140.0, gamma=0.48):
    return -4 * gamma * math.cos(math.radians(theta_deg)) / (pressure_mpa * 1e6) * 1e9


@pytest.fixture
def cylinder(tmp_path):
    """A straight pore cylinder of radius 6 voxels along z (axis on voxel centres) in AM."""
    z, y, x = np.mgrid[0:32, 0:24, 0:24]
    lab = np.ones((32, 24, 24), np.uint8)
    lab[(y - 12) ** 2 + (x - 12) ** 2 <= 6.0**2] = 0
    path = tmp_path / "cyl.tif"
    write_volume(path, Volume(lab, (VOX, VOX, VOX)))
    return path, lab


def test_mip_simulate_cylinder_intrudes_at_its_diameter(cylinder, tmp_path, capsys) -> None:
    path, lab = cylinder
    out = tmp_path / "curve.csv"
    code, text, err = run_cli(
        capsys, "mip", "simulate", path, "--inlet", "z-", "--out", out, "--json"
    )
    assert code == 0, err
    data = json.loads(text)
    # a cylinder fills at one pressure, the one of its own inscribed diameter (12 voxels)
    assert data["d50_nm"] == pytest.approx(12 * VOX, abs=VOX)
    assert data["intruded_porosity"] == pytest.approx((lab == 0).mean(), abs=1e-9)
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:4] == ["diameter_nm", "pressure_mpa", "saturation", "intruded_fraction"]
    for row in rows:  # Washburn in every row: D = -4 gamma cos(theta) / P
        d, p = float(row["diameter_nm"]), float(row["pressure_mpa"])
        assert d == pytest.approx(washburn_diameter_nm(p), rel=1e-6)
    sat = [float(r["saturation"]) for r in rows]
    assert sat == sorted(sat) and sat[-1] == pytest.approx(1.0)


def test_mip_read_real_file_and_compare(validation_file, tmp_path, capsys) -> None:
    measured = validation_file("micropy_input_mip.txt")
    code, text, err = run_cli(
        capsys,
        "mip",
        "read",
        measured,
        "--pressure-unit",
        "psi",
        "--out",
        tmp_path / "m.csv",
        "--figure",
        tmp_path / "m.png",
        "--json",
    )
    assert code == 0, err
    data = json.loads(text)
    assert data["n_points"] == 1037
    # 0.971313 psi and 59,681.07 psi in MPa (1 psi = 6.894757e-3 MPa)
    assert data["pressure_min_mpa"] == pytest.approx(0.971313 * 6.894757e-3, rel=1e-6)
    assert data["pressure_max_mpa"] == pytest.approx(59681.06641 * 6.894757e-3, rel=1e-6)
    with open(tmp_path / "m.csv") as fh:
        rows = list(csv.DictReader(fh))
    sat = np.array([float(r["saturation"]) for r in rows])
    assert np.all(np.diff(sat) >= 0) and (tmp_path / "m.png").stat().st_size > 10_000
    # compare the measured curve with itself: identical D50s, zero area between the curves
    code, text, err = run_cli(
        capsys,
        "mip",
        "compare",
        tmp_path / "m.csv",
        measured,
        "--out",
        tmp_path / "c.png",
        "--json",
    )
    assert code == 0, err
    cmp = json.loads(text)
    assert cmp["d50_ratio"] == pytest.approx(1.0, abs=1e-6)
    assert cmp["area_between_normalized_decades"] == pytest.approx(0.0, abs=1e-6)
    assert (tmp_path / "c.png").exists()


def test_granulometry_of_a_slit_is_its_width(tmp_path, capsys) -> None:
    lab = np.ones((24, 24, 24), np.uint8)
    lab[:, 8:16, :] = 0  # slit 8 voxels wide across y
    path = tmp_path / "slit.tif"
    write_volume(path, Volume(lab, (VOX, VOX, VOX)))
    code, text, err = run_cli(capsys, "granulometry", path, "--out", tmp_path / "p.csv", "--json")
    assert code == 0, err
    data = json.loads(text)
    assert data["porosity"] == pytest.approx(8 / 24)
    assert data["d50_nm"] == pytest.approx(8 * VOX, abs=VOX)


def test_mfactor_of_straight_channels_is_the_porosity(cylinder, capsys) -> None:
    path, lab = cylinder
    code, text, err = run_cli(capsys, "mfactor", path, "--axis", "z", "--json")
    assert code == 0, err
    data = json.loads(text)
    assert data["m_factor"] == pytest.approx((lab == 0).mean(), rel=1e-3)
    code, text, err = run_cli(capsys, "mfactor", path, "--axis", "x", "--json")
    assert code == 0, err
    assert json.loads(text)["m_factor"] == 0.0  # a channel along z does not cross x


@pytest.mark.parametrize(
    "argv, needle",
    [
        (
            ["mip", "simulate", "{cyl}", "--inlet", "z-", "--contact-angle-deg", "80"],
            "contact_angle_deg",
        ),
        (["mip", "simulate", "{cyl}", "--inlet", "x-"], "inlet"),
        (["mip", "simulate", "{npy}", "--inlet", "z-"], "--voxel-size-nm"),
        (["mip", "read", "{onecol}"], "column"),
        (["mfactor", "{cyl}", "--axis", "q"], "axis"),
    ],
)
def test_bad_analysis_input_gives_one_line_error(cylinder, tmp_path, capsys, argv, needle):
    path, lab = cylinder
    np.save(tmp_path / "lab.npy", lab)
    (tmp_path / "one.txt").write_text("1.0\n2.0\n3.0\n")
    subst = {
        "{cyl}": str(path),
        "{npy}": str(tmp_path / "lab.npy"),
        "{onecol}": str(tmp_path / "one.txt"),
    }
    code, out, err = run_cli(capsys, *[subst.get(a, a) for a in argv])
    assert code != 0
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err


def test_dfn_command_writes_curve_and_combined_transport_helps(
    tmp_path, capsys, monkeypatch
) -> None:
    out = tmp_path / "dfn.csv"
    cache = tmp_path / "cache"
    monkeypatch.setenv("MICROSTRUCTURE_CACHE_DIR", str(cache))
    energies = {}
    from microstructure.transport.dfn import clear_cache

    for transport, extra in (("intergranular", ["--no-cache"]), ("combined", [])):
        clear_cache()  # no solver kept in memory from earlier tests: this call builds or loads
        code, text, err = run_cli(
            capsys,
            "dfn",
            "--preset",
            "cal-3",
            "--c-rate",
            "2",
            "--transport",
            transport,
            "--out",
            out,
            "--json",
            *extra,
        )
        assert code == 0, err
        data = json.loads(text)
        energies[transport] = data["energy_density_wh_per_kg"]
        # --no-cache writes no compiled model; without it the model is cached
        cached = [f for f in cache.rglob("*") if f.is_file()] if cache.exists() else []
        assert bool(cached) == (not extra), cached
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    # the CSV's last discharged capacity is the reported capacity; voltage falls monotonically
    assert float(rows[-1]["capacity_mah"]) == pytest.approx(data["capacity_mah"], rel=1e-6)
    volts = np.array([float(r["voltage_v"]) for r in rows])
    assert volts[-1] < volts[0]
    # seed 003: adding the intragranular path (M_combi > M_inter) raises Cal-3's 2C energy
    assert energies["combined"] > energies["intergranular"]


def _spheres_file(tmp_path, seed: int):
    """24 x 30 x 28 labels: 25 random AM spheres (label 1) in pore, written as a TIFF."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices((24, 30, 28))
    lab = np.zeros((24, 30, 28), np.uint8)
    for _ in range(25):
        c = rng.uniform(0, lab.shape)
        lab[(z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= rng.uniform(3, 7) ** 2] = 1
    path = tmp_path / "spheres.tif"
    write_volume(path, Volume(lab, (VOX, VOX, VOX)))
    return path


def test_chunked_mip_simulate_equals_in_memory(tmp_path, capsys) -> None:
    path = _spheres_file(tmp_path, 4)
    outs = {}
    for extra in ([], ["--chunks", "12", "--max-radius-nm", "1000"]):
        csv_path = tmp_path / f"c{len(extra)}.csv"
        code, text, err = run_cli(
            capsys, "mip", "simulate", path, "--inlet", "top", "--out", csv_path, *extra
        )
        assert code == 0, err
        with open(csv_path) as fh:
            rows = list(csv.DictReader(fh))
        outs[len(extra)] = np.array(
            [[float(r["diameter_nm"]), float(r["saturation"])] for r in rows]
        )
    # the same curve: radii equal to float32 rounding (see tests/parallel), same saturations
    mem, chunked = outs[0], outs[4]
    assert chunked[-1, 1] == pytest.approx(mem[-1, 1], abs=1e-12)
    grid = np.geomspace(mem[:, 0].min(), mem[:, 0].max(), 50)

    def sat_at(curve, d):  # saturation intruded at diameters >= d
        return np.array([curve[curve[:, 0] >= x * (1 - 1e-6), 1].max(initial=0.0) for x in d])

    np.testing.assert_allclose(sat_at(chunked, grid), sat_at(mem, grid), atol=1e-9)
    code, _, err = run_cli(capsys, "mip", "simulate", path, "--inlet", "top", "--chunks", "12")
    assert code != 0 and "--max-radius-nm" in err


def test_chunked_granulometry_command_equals_in_memory(tmp_path, capsys) -> None:
    path = _spheres_file(tmp_path, 5)
    summaries = {}
    chunked_args = ["--chunks", "12", "--max-radius-nm", "2000", "--resume-dir", tmp_path / "w"]
    for extra in ([], chunked_args):
        code, text, err = run_cli(capsys, "granulometry", path, "--json", *extra)
        assert code == 0, err
        summaries[len(extra)] = json.loads(text)
    mem, chunked = summaries[0], summaries[6]
    assert chunked["porosity"] == mem["porosity"]
    for key in ("d10_nm", "d50_nm", "d90_nm", "mean_diameter_nm"):
        assert chunked[key] == pytest.approx(mem[key], rel=1e-6), key
    code, _, err = run_cli(capsys, "granulometry", path, "--chunks", "12")
    assert code != 0 and "--max-radius-nm" in err
