"""A recipe's [phantom] section generates its own input, cached and atomically written."""

from __future__ import annotations

import json

import pytest

from microstructure.io import read_volume
from microstructure.pipeline import parse_recipe
from microstructure.pipeline.phantom_input import PHANTOM_DIR, prepare_phantom


def _doc(phantom):
    return {"recipe": {"name": "t"}, "phantom": phantom, "stage": [{"name": "geometry"}]}


def test_phantom_section_generates_and_caches(tmp_path):
    rec = parse_recipe(_doc({"shape": [16, 48, 40], "voxel_size_nm": 60.0, "seed": 3}))
    assert rec.phantom["shape"] == (16, 48, 40)
    lines = []
    path = prepare_phantom(rec.phantom, tmp_path, log=lines.append)
    assert path == tmp_path / PHANTOM_DIR / "fibsem.tif"
    vol = read_volume(path)
    assert vol.shape == (16, 48, 40)
    assert vol.voxel_size_nm == pytest.approx((60.0, 60.0, 60.0))
    truth = json.loads((tmp_path / PHANTOM_DIR / "truth.json").read_text())
    assert truth["seed"] == 3
    stamp = path.stat().st_mtime_ns
    prepare_phantom(rec.phantom, tmp_path, log=lines.append)  # same parameters: reused
    assert path.stat().st_mtime_ns == stamp and "cached" in lines[-1]
    # another shape regenerates (a reduced-size quick look of the same recipe)
    prepare_phantom(rec.phantom, tmp_path, shape=(12, 40, 32), log=lines.append)
    assert read_volume(path).shape == (12, 40, 32) and "generated" in lines[-1]
    assert not list(tmp_path.glob(".*tmp"))


def test_a_changed_rendering_makes_the_phantom_again(tmp_path, monkeypatch):
    """The cache key holds the rendering's version: a phantom cached by an older rendering
    of the same parameters is not reused."""
    import microstructure.phantom.rendering as rendering

    rec = parse_recipe(_doc({"shape": [8, 32, 32], "voxel_size_nm": 60.0, "seed": 1}))
    lines = []
    path = prepare_phantom(rec.phantom, tmp_path, log=lines.append)
    prepare_phantom(rec.phantom, tmp_path, log=lines.append)
    assert "cached" in lines[-1]
    monkeypatch.setattr(rendering, "RENDERING_VERSION", rendering.RENDERING_VERSION + "-next")
    prepare_phantom(rec.phantom, tmp_path, log=lines.append)
    assert "generated" in lines[-1] and path.exists()


def test_phantom_section_file_is_relative_to_the_recipe(tmp_path):
    (tmp_path / "gen.toml").write_text("[phantom]\nshape = [16, 40, 40]\nsigma_log = 0.2\n")
    rec = parse_recipe(_doc({"file": "gen.toml", "seed": 5}), path=str(tmp_path / "r.toml"))
    assert rec.phantom == {"shape": (16, 40, 40), "sigma_log": 0.2, "seed": 5}


@pytest.mark.parametrize(
    ("phantom", "match"),
    [
        ({"no_such_key": 1}, "unknown phantom parameter"),
        ({"file": "missing.toml"}, "not found"),
        ({"sigma_log": -1.0}, "sigma_log"),
    ],
)
def test_phantom_section_errors(tmp_path, phantom, match):
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        parse_recipe(_doc(phantom), path=str(tmp_path / "r.toml"))


def test_run_without_input_needs_a_phantom_section(tmp_path, capsys):
    from microstructure.cli import main

    rec = tmp_path / "r.toml"
    rec.write_text('[recipe]\nname = "x"\n[[stage]]\nname = "geometry"\n')
    assert main(["run", str(rec), "--out", str(tmp_path / "o")]) != 0
    assert "--input" in capsys.readouterr().err


def test_a_recipe_that_cannot_run_chunked_is_refused_before_the_phantom_is_made(
    tmp_path, capsys
):
    from microstructure.cli import main

    rec = tmp_path / "r.toml"
    rec.write_text(
        '[recipe]\nname = "x"\n[phantom]\nshape = [8, 32, 32]\n'
        '[[stage]]\nname = "segment"\nmethod = "local"\n'
    )
    out = tmp_path / "o"
    assert main(["run", str(rec), "--out", str(out), "--zarr-threshold", "0"]) == 1
    err = capsys.readouterr().err
    assert "stage 1 'segment' cannot run chunked: method" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()  # nothing generated, nothing written


def test_phantom_section_takes_a_preset(tmp_path):
    rec = parse_recipe(_doc({"preset": "realistic", "shape": [8, 48, 48]}), path="r.toml")
    assert rec.phantom["preset"] == "realistic"
    with pytest.raises(ValueError, match="unknown phantom preset 'nope'; known: default"):
        parse_recipe(_doc({"preset": "nope"}), path=str(tmp_path / "r.toml"))
