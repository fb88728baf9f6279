"""The ``cbd`` stage calibrates to a measured curve and feeds the fitted values on.

A small Boolean AM (32^3 voxels of 37.2 nm), a "measured" curve simulated with hidden CBD
parameters (common random numbers), the ``cbd`` stage with ``[stage.calibrate]`` and the
``nanopores`` stage with ``from_calibration``: the fitted values reach both stages, are
marked as fitted in the numbers and in ``reference.md``, and the two stages reproduce the
calibration's own simulated curve. The search itself is replaced by a stub here (it is
tested in tests/cbd/test_calibrate.py); what is tested is the plumbing.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from microstructure.cbd.calibrate import CbdCalibration, cbd_mip_curve, resolved_misfit
from microstructure.pipeline.builtin.cbd import CbdStage, NanoporesStage
from microstructure.pipeline.builtin.reference import ReferenceStage
from microstructure.pipeline.stages import StageContext
from microstructure.porosimetry import simulate_mip
from microstructure.porosimetry.measured import load_mip_curve
from microstructure.volume import Phase, Volume

VOXEL_NM = 37.2
RATIO = 11.46 / 88.54  # solid CBD / AM, Table 1 of doi:10.3390/batteries7040070
HIDDEN = {"cbd_porosity": 0.52, "nanopore_mean_nm": 130.0, "nanopore_std_nm": 30.0}


def _lattice_am(n: int, spacing: int, radius_vox: float) -> np.ndarray:
    """AM (label 1): overlapping balls on a cubic lattice, pore in between."""
    g = (np.arange(n) % spacing) - spacing / 2.0 + 0.5
    d2 = g[:, None, None] ** 2 + g[None, :, None] ** 2 + g[None, None, :] ** 2
    return (d2 <= radius_vox**2).astype(np.uint8)


@pytest.fixture(scope="module")
def measured_csv(tmp_path_factory):
    labels = _lattice_am(24, 12, 6.4)  # 37 % pore
    curve = cbd_mip_curve(
        labels,
        voxel_size_nm=VOXEL_NM,
        cbd_to_am_volume_ratio=RATIO,
        parameters={**HIDDEN, "max_void_diameter_nm": 300.0},
    )
    path = tmp_path_factory.mktemp("cal") / "synthetic.csv"
    curve.to_csv(path)
    return labels, path


def _stub_calibration(calls: list):
    """Stands in for calibrate_cbd (tested on its own in tests/cbd/test_calibrate.py): records
    its arguments and returns FITTED with the forward model's curve on the whole volume."""

    def stub(labels, measured, **kw):
        calls.append(kw)
        p = {**kw["start"], **FITTED}
        common = {k: kw[k] for k in ("voxel_size_nm", "cbd_to_am_volume_ratio", "seed")}
        common.update({k: kw[k] for k in ("distribution", "inlet", "thickness_axis", "top_at")})
        curve = cbd_mip_curve(labels, parameters=p, radii_nm=kw["radii_nm"], **common)
        misfit = resolved_misfit(curve, measured, d_low_nm=37.2, d_high_nm=2000.0)
        return CbdCalibration(
            parameters=p,
            free=tuple(kw["free"]),
            bounds={n: tuple(kw["bounds"][n]) for n in kw["free"]},
            sensitivity={"cbd_porosity": 0.01, "nanopore_mean_nm": math.inf},
            misfit=misfit,
            start_misfit=misfit,
            evaluations=1,
            seconds=0.0,
            range_nm=(37.2, 2000.0),
            simulated=curve,
            measured=measured,
            settings={"seed": kw["seed"], "d50_weight": kw["d50_weight"], "shape": [24] * 3},
            fit_misfit=misfit,
            realisation_misfit={"max_abs": 0.0},
        )

    return stub


#: what the stub "fits" (CBD porosity and nanopore mean; the std stays the recipe's)
FITTED = {"cbd_porosity": 0.53, "nanopore_mean_nm": 140.0}


def test_cbd_stage_calibrates_and_feeds_the_nanopores_stage(measured_csv, tmp_path, monkeypatch):
    from microstructure.pipeline.builtin import cbd as cbd_module

    labels, path = measured_csv
    vs = (VOXEL_NM,) * 3
    calls: list = []
    monkeypatch.setattr(cbd_module, "calibrate_cbd", _stub_calibration(calls))
    cbd_params = CbdStage.Params(
        cbd_to_am_volume_ratio=RATIO,
        cbd_porosity=0.48,  # the start, replaced by the fit
        max_void_diameter_nm=300.0,
        seed=3,
        report=False,
        calibrate={
            "curve": str(path),
            "label": "synthetic curve",
            "free": ["cbd_porosity", "nanopore_mean_nm"],
            "bounds": {"cbd_porosity": [0.46, 0.56], "nanopore_mean_nm": [80.0, 200.0]},
            "start": {"nanopore_mean_nm": 100.0, "nanopore_std_nm": 30.0},
            "d50_weight": 1.5,
        },
    )
    ctx = StageContext(work_dir=tmp_path, progress=False)
    out = CbdStage().run(Volume(labels, vs, {}), cbd_params, ctx)
    # the calibration got the stage's values as the start, its seed, weights and ratio
    (kw,) = calls
    assert kw["start"]["cbd_porosity"] == 0.48 and kw["start"]["max_void_diameter_nm"] == 300.0
    assert kw["seed"] == 3 and kw["d50_weight"] == 1.5
    assert kw["cbd_to_am_volume_ratio"] == pytest.approx(RATIO)
    cal = out.numbers["calibration"]
    assert cal["origin"]["cbd_porosity"] == "fitted to the synthetic curve"
    assert cal["origin"]["max_void_diameter_nm"] == "set by the recipe"
    assert cal["fitted"]["nanopore_mean_nm"]["sensitivity"] is None  # not determined
    assert (tmp_path / "calibration_overlay.png").is_file()
    # the insertion used the fitted porosity: solid CBD = recipe ratio x AM
    env = float(np.isin(out.volume.data, (Phase.CBD, Phase.CBD_PORE)).mean())
    assert env == pytest.approx(out.numbers["target_envelope_fraction"], abs=2e-4)
    assert env * (1.0 - 0.53) == pytest.approx(RATIO * float((labels == 1).mean()), rel=0.02)

    ctx.results = {"cbd": out.numbers}
    nano_params = NanoporesStage.Params(
        porosity=0.30, mean_diameter_nm=500.0, centres="volume", seed=3, from_calibration=True
    )
    nano = NanoporesStage().run(out.volume, nano_params, ctx)
    block = nano.numbers["calibration"]
    assert block["values"] == {"porosity": 0.53, "mean_diameter_nm": 140.0, "std_diameter_nm": 30.0}
    assert block["origin"]["porosity"] == "fitted to the synthetic curve"
    assert block["origin"]["std_diameter_nm"] == "set by the recipe"
    assert block["same_model_as_calibration"] is True
    assert nano.numbers["cbd_porosity"] == pytest.approx(0.53, abs=0.03)
    # the two stages reproduce the calibration's simulated curve exactly
    twin = simulate_mip(
        nano.volume.data,
        voxel_size_nm=vs,
        inlet="all-but-bottom",
        thickness_axis="y",
        top_at=0,
        radii_nm=kw["radii_nm"],
    ).curve
    redo = resolved_misfit(twin, load_mip_curve(path), d_low_nm=37.2, d_high_nm=2000.0)
    assert redo["max_abs"] == cal["misfit"]["max_abs"]
    assert redo["d50_simulated_nm"] == cal["misfit"]["d50_simulated_nm"]

    # reference.md marks a fitted value as fitted and lists the calibration
    ref = ReferenceStage.Params(
        values=[{"key": "nanopores.cbd_porosity", "low": 0.46, "high": 0.56, "origin": "fitted"}]
    )
    ctx.results["nanopores"] = nano.numbers
    ref_out = ReferenceStage().run(nano.volume, ref, ctx)
    assert ref_out.numbers["checks"][0]["origin"] == "fitted"
    assert ref_out.numbers["n_inputs"] == 1
    text = (tmp_path / "reference.md").read_text()
    assert "| fitted to the synthetic curve |" in text.split("## CBD calibration")[0]
    assert "CBD calibration (stage cbd): fitted to the synthetic curve" in text
    assert "| nanopore_mean_nm | 140 | not determined | fitted to the synthetic curve |" in text


def test_from_calibration_without_a_calibrated_cbd_stage_is_refused(tmp_path):
    labels = np.zeros((8, 8, 8), dtype=np.uint8)
    labels[:4] = Phase.AM
    labels[4:6] = Phase.CBD
    params = NanoporesStage.Params(from_calibration=True)
    ctx = StageContext(work_dir=tmp_path, progress=False, results={"cbd": {}})
    with pytest.raises(ValueError, match="stage 'nanopores': from_calibration: no cbd stage"):
        NanoporesStage().run(Volume(labels, (VOXEL_NM,) * 3, {}), params, ctx)


def test_whole_volume_d50_step_meets_the_measured_d50():
    from microstructure.cbd._calibrate_whole import (
        D50_STEP_TOLERANCE_DECADES,
        refine_on_whole,
    )

    calls = []

    def evaluate(p):  # D50 = 40 nm x void^0.3 (elasticity 0.3), measured 248 nm
        calls.append(p["max_void_diameter_nm"])
        d50 = 40.0 * p["max_void_diameter_nm"] ** 0.3
        ratio = abs(math.log10(d50 / 248.0))
        return {
            "d50_simulated_nm": d50,
            "d50_measured_nm": 248.0,
            # simulated curve 1 / (1 + (D / D50)^3) at the measured D50
            "saturation_at_d50_measured": 1.0 / (1.0 + (248.0 / d50) ** 3),
            "objective": ratio,
            "max_abs": 0.1,
        }, None

    start = {"max_void_diameter_nm": 520.0, "cbd_porosity": 0.5}
    fitted, report = refine_on_whole(evaluate, start, (250.0, 700.0), 4, "max_void_diameter_nm")
    d50 = 40.0 * fitted["max_void_diameter_nm"] ** 0.3
    assert abs(math.log10(d50 / 248.0)) <= D50_STEP_TOLERANCE_DECADES
    assert fitted["cbd_porosity"] == 0.5 and len(calls) <= 5
    assert report["crop_value"] == 520.0 and report["selected"] == fitted["max_void_diameter_nm"]
    # the band bounds the step; no steps: the crop's values
    low, _ = refine_on_whole(evaluate, start, (500.0, 700.0), 3, "max_void_diameter_nm")
    assert low["max_void_diameter_nm"] == pytest.approx(500.0)
    same, _ = refine_on_whole(evaluate, start, (250.0, 700.0), 0)
    assert same == start
