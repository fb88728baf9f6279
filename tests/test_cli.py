"""The command-line contract: JSON output, one-line errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from microstructure.cli import main
from microstructure.io import write_volume
from microstructure.volume import Volume

VALIDATION = Path(__file__).resolve().parents[1] / ".." / "shared" / "validation"
HELIOS = VALIDATION / "helios_slices"


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_console_script_is_installed():
    proc = subprocess.run(
        [sys.executable, "-m", "microstructure.cli", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and proc.stdout.startswith("microstructure ")


def test_composition_reproduces_seed000_table1(capsys):
    code, out, err = run_cli(
        capsys,
        "composition",
        "--mass-fractions",
        "AM=0.95,CB=0.02,PVdF=0.03",
        "--densities",
        "AM=4.76,CB=2.25,PVdF=1.77",
        "--cbd",
        "CB,PVdF",
        "--json",
    )
    assert code == 0, err
    data = json.loads(out)
    text = json.dumps(data)
    # Table 1: 88.54 / 3.94 / 7.52 vol% of solids, CBD 11.46 vol% at 1.935 g/cm3; 4.436 g/cm3.
    for value in (0.8854, 0.0394, 0.0752, 0.1146):
        assert any(isinstance(v, float) and abs(v - value) < 5e-5 for v in _floats(data)), (
            value,
            text,
        )
    assert any(abs(v - 1.935) < 5e-4 for v in _floats(data))
    assert any(abs(v - 4.436) < 5e-4 for v in _floats(data))


def _floats(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _floats(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _floats(v)
    elif isinstance(obj, float):
        yield obj


def test_porosity_on_matbox_volume(capsys, validation_file):
    path = validation_file("matbox_nmc-1-cal_generatedCBD_bridge.tif")
    code, out, err = run_cli(capsys, "porosity", str(path), "--voxel-size-nm", "398", "--json")
    assert code == 0, err
    data = json.loads(out)
    fr = data["phase_fractions"]
    assert fr["pore"] == pytest.approx(0.4005, abs=5e-5)
    assert fr["am"] == pytest.approx(0.4995, abs=5e-5)
    assert fr["cbd"] == pytest.approx(0.1000, abs=5e-5)
    assert 0.0 <= data["closed_porosity"] < fr["pore"]


def test_porosity_on_taufactor_volume_with_label_map(capsys, validation_file):
    path = validation_file("taufactor_electrode.tiff")
    code, out, err = run_cli(
        capsys, "porosity", str(path), "--labels", "pore=0,am=85,cbd=170", "--json"
    )
    assert code == 0, err
    fr = json.loads(out)["phase_fractions"]
    assert (fr["pore"], fr["am"], fr["cbd"]) == pytest.approx((0.4499, 0.4005, 0.1496), abs=5e-5)


def test_info_reports_voxel_size_and_phases(tmp_path, capsys):
    labels = np.zeros((4, 5, 6), np.uint8)
    labels[:, :, :3] = 1
    write_volume(tmp_path / "l.tif", Volume(labels, (10, 20, 30)))
    code, out, _ = run_cli(capsys, "info", str(tmp_path / "l.tif"), "--json")
    data = json.loads(out)
    assert code == 0 and data["voxel_size_nm"] == [10, 20, 30]
    assert data["physical_size_um"] == pytest.approx([0.04, 0.1, 0.18])
    assert data["phase_fractions"]["am"] == pytest.approx(0.5)


def test_info_shows_the_instrument_block_of_real_helios_slices(capsys):
    if not HELIOS.is_dir():
        pytest.skip(f"validation data helios_slices not available in {VALIDATION}")
    code, out, _ = run_cli(capsys, "info", str(HELIOS))
    assert code == 0
    for needle in (
        "instrument: Thermo Fisher/FEI Helios G4 UX",
        "FEI_HELIOS tag of 3 slices",
        "pixel size (y, x): 8.99306, 8.99306 nm",
        "stage tilt: 16 deg",
        "2 kV",
        "TLD (BSE)",
        "slice thickness: not logged",
        "z unknown; y, x = 8.99306, 8.99306 nm",
    ):
        assert needle in out, (needle, out)
    code, out, _ = run_cli(capsys, "info", str(HELIOS), "--json")
    inst = json.loads(out)["instrument"]
    assert inst["pixel_size_nm"] == [8.99306, 8.99306] and inst["vendor"] == "Thermo Fisher/FEI"
    code, out, err = run_cli(capsys, "info", str(HELIOS), "--voxel-size-nm", "20,9.5,9.5")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code != 0 and len(lines) == 1 and out == ""
    assert "9.5 nm" in lines[0] and "8.99306 nm" in lines[0] and "helios_slices" in lines[0]


def test_info_without_instrument_metadata_says_so(tmp_path, capsys):
    np.save(tmp_path / "g.npy", np.arange(27, dtype=np.uint8).reshape(3, 3, 3))
    code, out, _ = run_cli(capsys, "info", str(tmp_path / "g.npy"))
    assert code == 0 and "instrument: no Thermo/FEI, Zeiss or Tescan metadata found" in out


def test_tilt_always_on_unknown_geometry_is_a_one_line_error(tmp_path, capsys):
    np.save(tmp_path / "g.npy", (np.arange(4 * 16 * 16) % 7).astype(np.uint8).reshape(4, 16, 16))
    (tmp_path / "r.toml").write_text('[[stage]]\nname = "geometry"\ntilt_correction = "always"\n')
    code, out, err = run_cli(
        capsys, "run", str(tmp_path / "r.toml"), "--input", str(tmp_path / "g.npy"),
        "--out", str(tmp_path / "out"), "--voxel-size-nm", "10", "--no-progress",
    )  # fmt: skip
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code != 0 and len(lines) == 1, err
    assert "tilt_correction" in lines[0] and "angle_deg" in lines[0] and "geometry" in lines[0]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["info", "missing.tif"], "missing.tif: no such file"),
        (["porosity", "{flat}"], "2D"),
        (["porosity", "{nan}"], "NaN"),
        (["porosity", "{labels}", "--labels", "pore=0,am=85"], "does not cover value(s) 1"),
        (["porosity", "{gray}"], "not phase labels"),
        (
            ["composition", "--mass-fractions", "AM=0.95,CB", "--densities", "AM=4.76"],
            "--mass-fractions",
        ),
        (
            ["run", "{recipe}", "--input", "{labels}", "--out", "{out}"],
            "unknown parameter 'colour'",
        ),
        (["run", "{recipe2}", "--input", "{labels}", "--out", "{out}"], "unknown stage 'segmnt'"),
        (["info", "{labels}", "--voxel-size-nm", "-3"], "--voxel-size-nm"),
    ],
)
def test_bad_input_gives_one_line_error(tmp_path, capsys, argv, needle):
    np.save(tmp_path / "flat.npy", np.zeros((5, 5), np.uint8))
    np.save(tmp_path / "nan.npy", np.full((3, 3, 3), np.nan, np.float32))
    np.save(tmp_path / "gray.npy", np.full((3, 3, 3), 200, np.uint8))
    np.save(tmp_path / "labels.npy", np.ones((3, 3, 3), np.uint8))
    (tmp_path / "r.toml").write_text('[[stage]]\nname = "porosity"\ncolour = "red"\n')
    (tmp_path / "r2.toml").write_text('[[stage]]\nname = "segmnt"\n')
    subst = {
        "{flat}": str(tmp_path / "flat.npy"),
        "{nan}": str(tmp_path / "nan.npy"),
        "{gray}": str(tmp_path / "gray.npy"),
        "{labels}": str(tmp_path / "labels.npy"),
        "{recipe}": str(tmp_path / "r.toml"),
        "{recipe2}": str(tmp_path / "r2.toml"),
        "{out}": str(tmp_path / "out"),
    }
    argv = [subst.get(a, a) for a in argv]
    code, out, err = run_cli(capsys, *argv)
    assert code != 0
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("microstructure: error:") and needle in lines[0], lines[0]
    assert "Traceback" not in err and out == ""


def test_usage_error_is_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main(["mip-nonsense"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1


def test_phantom_params_file_sets_generator_parameters(tmp_path, capsys):
    params = tmp_path / "p.toml"
    params.write_text(
        "[phantom]\nshape = [16, 48, 40]\nvoxel_size_nm = 80.0\nseed = 5\n"
        "mean_diameter_um = 1.5\nmin_diameter_um = 0.6\nmax_diameter_um = 3.0\n"
        "target_am_fraction = 0.55\ncbd_fraction = 0.12\n"
    )
    code, out, err = run_cli(
        capsys, "phantom", str(tmp_path / "ph"), "--params", str(params), "--json"
    )
    assert code == 0, err
    truth = json.loads(out)["truth"]
    assert truth["shape"] == [16, 48, 40] and truth["seed"] == 5
    assert truth["voxel_size_nm"] == [80.0, 80.0, 80.0]
    assert truth["phase_fractions"]["am"] == pytest.approx(0.55, abs=1e-4)
    assert truth["phase_fractions"]["cbd"] == pytest.approx(0.12, abs=1e-4)
    params.write_text("[phantom]\ncolour = 3\n")
    code, out, err = run_cli(capsys, "phantom", str(tmp_path / "ph2"), "--params", str(params))
    assert code != 0 and "unknown phantom parameter(s) ['colour']" in err


def test_seed000_phantom_params_are_valid_at_reduced_size(tmp_path):
    import tomllib

    from microstructure.cli import _phantom_params
    from microstructure.phantom import PhantomParams

    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    kw = _phantom_params(str(root / "pipelines" / "seed000_phantom.toml"))
    doc = tomllib.loads((root / "pipelines" / "seed000_phantom.toml").read_text())
    assert kw["shape"] == (650, 395, 481) and doc["phantom"]["voxel_size_nm"] == 37.2
    gen = {k: v for k, v in kw.items() if k not in ("shape", "voxel_size_nm", "seed")}
    PhantomParams(**gen)  # every value accepted by the generator's own checks
    # Table 1 arithmetic of the file's header: total porosity 0.17 with 50.2 % CBD porosity
    am, env = gen["target_am_fraction"], gen["cbd_fraction"]
    cbd_solid = env * (1 - 0.502)
    assert cbd_solid / am == pytest.approx(11.46 / 88.54, rel=0.01)
    assert (1 - am - env) + 0.502 * env == pytest.approx(0.17, abs=0.002)


def test_dfn_validate_prints_the_validation_tables(capsys, monkeypatch, tmp_path):
    from microstructure.transport.dfn import validation

    rows = [{"c_rate": 1.0, "value": 0.5}]
    sections = (
        ("fast table", lambda: rows, (("c_rate", "C", "g"), ("value", "v", ".2f"))),
        (validation.SLOW_SECTION, lambda: pytest.fail("--quick must skip it"), ()),
    )
    monkeypatch.setattr(validation, "VALIDATION_SECTIONS", sections)
    code, out, err = run_cli(capsys, "dfn", "validate", "--quick")
    assert code == 0, err
    assert out.splitlines()[:4] == ["## fast table", "", "| C | v |", "|---|---|"]
    assert "| 1 | 0.50 |" in out
    code, out, err = run_cli(capsys, "dfn", "validate", "--quick", "--json")
    assert code == 0, err
    assert json.loads(out) == {"sections": [{"title": "fast table", "rows": rows}]}


def test_dfn_simulate_still_needs_its_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["dfn", "--preset", "cal-3"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--c-rate, --transport" in err[0]


def test_phantom_preset_realistic_writes_its_truth_files(tmp_path, capsys):
    out = tmp_path / "ph"
    assert main(["phantom", str(out), "--preset", "realistic", "--shape", "8,48,48", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["truth"]["preset"] == "realistic"
    for name in ("fibsem.tif", "truth_labels.tif", "curtain.tif", "drift_shifts.csv"):
        assert (out / name).is_file(), name
    assert main(["phantom", str(tmp_path / "x"), "--preset", "nope", "--shape", "8,32,32"]) == 1
    err = capsys.readouterr().err
    assert "unknown phantom preset 'nope'" in err and len(err.strip().splitlines()) == 1
