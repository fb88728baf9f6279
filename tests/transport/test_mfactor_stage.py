"""Stage ``mfactor``: the numbers it reports are the library's, analytic cases come through the
pipeline unchanged, CBD with its own diffusivity, bad parameters refused before any work."""

from __future__ import annotations

import csv
import tomllib

import numpy as np
import pytest

from microstructure.io import write_volume
from microstructure.pipeline import parse_recipe as _parse_doc
from microstructure.pipeline import run_pipeline
from microstructure.transport import m_factor
from microstructure.volume import Volume


def parse_recipe(text: str):
    return _parse_doc(tomllib.loads(text))


def _recipe(**params: str) -> str:
    lines = "\n".join(f"{k} = {v}" for k, v in params.items())
    return f'[recipe]\nname = "mf"\n\n[[stage]]\nname = "mfactor"\n{lines}\n'


def _write(tmp_path, labels, voxel=(40.0, 50.0, 60.0)):
    path = tmp_path / "labels.tif"
    write_volume(path, Volume(labels, voxel))
    return path


def test_stage_reports_library_values_descriptors_and_figure(tmp_path):
    rng = np.random.default_rng(5)
    from scipy.ndimage import gaussian_filter

    field = gaussian_filter(rng.standard_normal((24, 30, 28)), 2.0)
    lab = np.where(field < np.quantile(field, 0.4), 0, 1).astype(np.uint8)
    lab[(field > np.quantile(field, 0.9))] = 3  # "CBD pore" also transports by default
    voxel = (40.0, 50.0, 60.0)
    path = _write(tmp_path, lab, voxel)
    out = tmp_path / "run"
    report = run_pipeline(parse_recipe(_recipe()), path, out, progress=False)
    num = report["numbers"]["mfactor"]
    eps = float(np.isin(lab, (0, 3)).mean())
    assert num["porosity"] == pytest.approx(eps)
    assert num["m_bruggeman"] == pytest.approx(eps**1.5)
    assert num["m_hashin_shtrikman_upper"] == pytest.approx(2 * eps / (3 - eps))
    assert list(num["axes"]) == ["z", "y", "x"]
    for axis, d in num["axes"].items():
        ref = m_factor(lab, voxel_size_nm=voxel, axis=axis)
        assert d["m_factor"] == pytest.approx(ref.m_factor, rel=2e-3)
        assert d["tortuosity_factor"] == pytest.approx(eps / d["m_factor"], rel=1e-9)
        assert 0 < d["m_factor"] < d["m_hashin_shtrikman_upper"]
        desc = d["descriptors"]
        assert desc["geodesic_tortuosity"] >= 1.0
        assert 0 < desc["constrictivity"] <= 1.0
        assert desc["m_stenzel"] == pytest.approx(
            eps**1.15 * desc["constrictivity"] ** 0.37 / desc["geodesic_tortuosity"] ** 4.39
        )
    with open(out / "01-mfactor" / "mfactor.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["axis"] for r in rows] == ["z", "y", "x"]
    assert float(rows[1]["m_factor"]) == pytest.approx(num["axes"]["y"]["m_factor"])
    png = (out / "01-mfactor" / "mfactor.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_stage_straight_channels_and_documented_zero(tmp_path):
    lab = np.ones((12, 14, 16), np.uint8)
    lab[:, ::3, ::4] = 0  # channels along z: no path along y or x
    path = _write(tmp_path, lab)
    rec = parse_recipe(_recipe(axes='"z,x"', descriptors="false"))
    num = run_pipeline(rec, path, tmp_path / "run", progress=False)["numbers"]["mfactor"]
    eps = float((lab == 0).mean())
    assert num["axes"]["z"]["m_factor"] == pytest.approx(eps, abs=1e-3)
    assert num["axes"]["z"]["tortuosity_factor"] == pytest.approx(1.0, abs=1e-3)
    x = num["axes"]["x"]
    assert x["m_factor"] == 0.0 and x["tortuosity_factor"] is None and not x["percolating"]
    assert "do not percolate along x" in num["message"]
    assert "descriptors" not in x


def test_stage_cbd_relative_diffusivity_layers_harmonic_and_arithmetic(tmp_path):
    lab = np.zeros((10, 8, 20), np.uint8)
    lab[..., 4:9] = 2  # CBD layer across x
    lab[..., 14:16] = 1  # insulating AM layer only along part of y: not across x
    lab[:, :4, 14:16] = 0
    path = _write(tmp_path, lab, (30.0, 30.0, 30.0))
    rec = parse_recipe(_recipe(axes='["z", "thickness"]', cbd_relative_diffusivity="0.2"))
    num = run_pipeline(rec, path, tmp_path / "run", progress=False)["numbers"]["mfactor"]
    assert list(num["axes"]) == ["z", "y"]  # thickness = y by default
    fr0, fr2 = float((lab == 0).mean()), float((lab == 2).mean())
    # along z the layers are parallel: arithmetic mean of the diffusivities
    assert num["axes"]["z"]["m_factor"] == pytest.approx(fr0 + 0.2 * fr2, abs=1e-3)
    assert num["axes"]["z"]["effective_porosity"] == pytest.approx(fr0 + 0.2 * fr2)
    assert num["porosity"] == pytest.approx(fr0)
    assert "note" in num["axes"]["z"]["descriptors"]


def test_stage_auto_descriptors_skip_large_volumes(tmp_path, monkeypatch):
    import microstructure.pipeline.builtin.transport as stage_mod

    monkeypatch.setattr(stage_mod, "DESCRIPTORS_AUTO_MAX_VOXELS", 1000)
    lab = np.ones((10, 12, 12), np.uint8)
    lab[:, 2:5, 2:5] = 0
    path = _write(tmp_path, lab)
    rec = parse_recipe(_recipe(axes='"z"'))
    num = run_pipeline(rec, path, tmp_path / "run", progress=False)["numbers"]["mfactor"]
    assert "descriptors skipped" in num["descriptors_note"]
    assert "descriptors" not in num["axes"]["z"]
    assert num["axes"]["z"]["m_factor"] == pytest.approx(9 / 144, abs=1e-3)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"axes": '"w"'}, "axes"),
        ({"phases": "[]"}, "phases"),
        ({"cbd_relative_diffusivity": "1.5"}, "cbd_relative_diffusivity"),
        ({"flux_tol": "0"}, "flux_tol"),
        ({"unknown_key": "1"}, "unknown_key"),
    ],
)
def test_stage_bad_parameters_rejected_before_work(params, match):
    with pytest.raises(ValueError, match=match):
        parse_recipe(_recipe(**params))


def test_stage_absent_phase_set_and_cbd_conflict(tmp_path):
    lab = np.ones((8, 8, 8), np.uint8)
    lab[:, :, :2] = 2
    path = _write(tmp_path, lab)
    with pytest.raises(ValueError, match="phases"):
        run_pipeline(parse_recipe(_recipe()), path, tmp_path / "a", progress=False)
    rec = parse_recipe(_recipe(phases="[0, 2]", cbd_relative_diffusivity="0.3"))
    with pytest.raises(ValueError, match="cbd_relative_diffusivity"):
        run_pipeline(rec, path, tmp_path / "b", progress=False)
