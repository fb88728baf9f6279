"""Stages ``cbd`` (carbon-binder domain into the pore space) and ``nanopores`` (fibrous CBD pores).

The CBD is invisible in the FIB/SEM data, so it is modelled [1]_. The amount comes from the
recipe (the composition calculator turns mass fractions and densities into the CBD : AM solid
volume ratio, Table 1 of [1]_: 11.46 : 88.54) and the segmented AM; the envelope is the solid
divided by ``1 - cbd_porosity``. Or give the envelope fraction directly.

The options' defaults are those of :func:`~microstructure.cbd.insert_cbd`,
:func:`~microstructure.cbd.cbd_envelope_fraction`, :func:`~microstructure.cbd.composition`,
:func:`~microstructure.cbd.cbd_report` and :func:`~microstructure.cbd.add_nanopores`.

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. https://doi.org/10.3390/batteries7040070
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from microstructure.cbd import (
    add_nanopores,
    cbd_envelope_fraction,
    cbd_report,
    composition,
    insert_cbd,
    nanopore_diameters,
)
from microstructure.cbd.calibrate import (
    CALIBRATION_PARAMETERS,
    DEFAULT_FREE,
    DEFAULT_MAX_DIAMETER_NM,
    DEFAULT_PSD_WEIGHT,
    calibrate_cbd,
)
from microstructure.pipeline.stages import (
    Stage,
    StageContext,
    StageOutput,
    StageParams,
    param_default,
    register,
)
from microstructure.volume import Phase, Volume, require_3d

#: How the report marks a value the calibration fitted (``{label}``: the curve's label).
FITTED_ORIGIN = "fitted to the {label}"


class CbdCalibrationParams(StageParams):
    """``[stage.calibrate]`` of ``cbd``: fit the CBD model to a measured MIP curve first
    (:func:`~microstructure.cbd.calibrate.calibrate_cbd`) and insert the fitted CBD; the
    ``nanopores`` stage takes the fitted CBD porosity and diameters with
    ``from_calibration = true``."""

    curve: str = Field(
        ...,
        description="measured MIP curve (curve CSV or instrument export), path relative to "
        "the working directory",
    )
    label: str = Field(
        "measured curve",
        description="what the curve is, for the report (e.g. 'synthetic "
        "measured-like curve'): fitted values are marked 'fitted to the <label>'",
    )
    free: list[str] = Field(list(DEFAULT_FREE), description="parameters to fit")
    bounds: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="name -> [low, high] (set the CBD porosity band)"
    )
    start: dict[str, float] = Field(
        default_factory=dict,
        description="starting values of the nanopore mean and std (nm); "
        "the others start at the stage's own values",
    )
    max_evaluations: int = Field(40, ge=0, description="simulations of the local search")
    global_samples: int | None = Field(None, ge=0, description="Latin hypercube points")
    max_voxels: int | None = Field(
        4_000_000,
        ge=4096,
        description="search on a representative crop of at most this many "
        "voxels (whole thickness); the fitted values then run once on the whole volume",
    )
    psd_weight: float = Field(DEFAULT_PSD_WEIGHT, ge=0.0, description="weight of the PSD term")
    d50_weight: float = Field(
        0.0,
        ge=0.0,
        description="weight of the D50 term (|log10| of the D50 ratio in the resolved range)",
    )
    whole_steps: int = Field(
        0,
        ge=0,
        description="with a crop and d50_weight: whole-volume simulations that re-fit one "
        "parameter (CBD porosity, else nanopore mean, else void) to the D50 (the crop's D50 "
        "need not be the whole volume's)",
    )
    tolerance: float = Field(0.02, gt=0.0, lt=1.0, description="saturation of the sensitivity")
    inlet: str = Field("all-but-bottom", description="mercury inlet faces of the fit")
    max_diameter_nm: float = Field(
        DEFAULT_MAX_DIAMETER_NM, gt=0.0, description="largest simulated throat (the MIP stage's)"
    )

    @field_validator("curve")
    @classmethod
    def _exists(cls, v: str) -> str:
        if not Path(v).expanduser().is_file():
            raise ValueError(f"calibrate.curve: measured curve file {v!r} not found")
        return v

    @field_validator("free")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        bad = [n for n in v if n not in CALIBRATION_PARAMETERS]
        if bad or not v:
            raise ValueError(
                f"calibrate.free: unknown or no parameters {bad}; known "
                f"{list(CALIBRATION_PARAMETERS)}"
            )
        return v


class CbdParams(StageParams):
    method: Literal["contact-angle", "bridge", "deposition"] = Field(
        param_default(insert_cbd, "method"),
        description="insertion algorithm (see microstructure.cbd.insertion)",
    )
    contact_angle_deg: float = Field(
        param_default(insert_cbd, "contact_angle_deg"),
        ge=0.0,
        lt=90.0,
        description="CBD/AM contact angle, degrees (Beuse et al. 2021: 40)",
    )
    volume_fraction: float | None = Field(
        None, gt=0.0, lt=1.0, description="CBD envelope as a fraction of the whole volume"
    )
    cbd_to_am_volume_ratio: float | None = Field(
        None, gt=0.0, description="CBD solid volume per AM volume (Table 1: 11.46/88.54)"
    )
    mass_fractions: dict[str, float] | None = Field(
        None, description="recipe mass fractions, e.g. {AM = 0.95, CB = 0.02, PVdF = 0.03}"
    )
    densities_g_per_cm3: dict[str, float] | None = Field(
        None, description="component densities for mass_fractions, g/cm3"
    )
    cbd_components: list[str] = Field(
        list(param_default(composition, "cbd")),
        description="components of mass_fractions that form the CBD",
    )
    cbd_porosity: float = Field(
        param_default(cbd_envelope_fraction, "cbd_porosity"),
        ge=0.0,
        lt=1.0,
        description="CBD porosity used to size the envelope (0..1)",
    )
    replace_existing: bool = Field(
        False, description="turn CBD already in the input (labels 2, 3) into pore first"
    )
    morphology_w: float = Field(
        param_default(insert_cbd, "morphology_w"),
        ge=0.0,
        le=1.0,
        description="deposition: CBD vs AM weight",
    )
    max_void_diameter_nm: float | None = Field(
        param_default(insert_cbd, "max_void_diameter_nm"),
        gt=0.0,
        description="contact-angle: largest gas void (nm) the CBD leaves; wider voids are "
        "filled by CBD around gas balls of this diameter (None: plain equilibrium)",
    )
    distribution: Literal["contact", "random", "surface"] = Field(
        param_default(insert_cbd, "distribution"),
        description="with max_void_diameter_nm: where the gas voids open first (contact: along "
        "free particle surfaces; random: dispersed; surface: CBD film, gas in void centres)",
    )
    seed: int = Field(param_default(insert_cbd, "seed"), ge=0, description="random seed")
    report: bool = Field(True, description="measure contacts, clusters and the contact angle")
    report_contacts: bool = Field(
        param_default(cbd_report, "contacts"),
        description="with report: count AM particle contacts bridged by CBD (partitions the AM "
        "by a watershed: ~10 min at 124 Mvoxel)",
    )
    fill_closed_pores: bool = Field(
        False,
        description="also put CBD into closed pores (pore enclosed by AM, e.g. inside "
        "particles); by default they stay empty: the slurry cannot reach them",
    )
    calibrate: CbdCalibrationParams | None = Field(
        None,
        description="fit contact angle, largest void, CBD porosity and nanopore diameters to "
        "a measured MIP curve before inserting (the fitted values replace the stage's own)",
    )

    @model_validator(mode="after")
    def _one_target(self) -> CbdParams:
        given = [
            name
            for name in ("volume_fraction", "cbd_to_am_volume_ratio", "mass_fractions")
            if getattr(self, name) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one CBD amount: volume_fraction, cbd_to_am_volume_ratio or "
                f"mass_fractions (+ densities_g_per_cm3); got {given or 'none'}"
            )
        if self.mass_fractions is not None and self.densities_g_per_cm3 is None:
            raise ValueError("mass_fractions needs densities_g_per_cm3")
        if self.calibrate is not None and (
            self.method != "contact-angle" or self.fill_closed_pores
        ):
            raise ValueError(
                "calibrate: needs method 'contact-angle' and fill_closed_pores false (the "
                "calibration's forward model)"
            )
        if self.calibrate is not None and self.volume_fraction is not None:
            raise ValueError(
                "calibrate: give the CBD amount as mass_fractions or cbd_to_am_volume_ratio "
                "(the CBD porosity then sizes the envelope)"
            )
        return self


def _target_envelope_fraction(labels: np.ndarray, params: CbdParams) -> tuple[float, dict]:
    """The CBD envelope fraction to insert, from whichever amount the recipe gives, and the
    numbers that say how it was derived."""
    numbers: dict = {}
    if params.volume_fraction is not None:
        numbers["target_source"] = "volume_fraction"
        return params.volume_fraction, numbers
    if params.mass_fractions is not None:
        comp = composition(
            params.mass_fractions,
            params.densities_g_per_cm3 or {},
            cbd=params.cbd_components,
        )
        ratio = comp.cbd_volume_fraction / (1.0 - comp.cbd_volume_fraction)
        numbers["composition"] = {
            "cbd_solid_volume_fraction": comp.cbd_volume_fraction,
            "cbd_density_g_per_cm3": comp.cbd_density_g_per_cm3,
        }
        numbers["target_source"] = "mass_fractions"
    else:
        ratio = float(params.cbd_to_am_volume_ratio or 0.0)
        numbers["target_source"] = "cbd_to_am_volume_ratio"
    am_fraction = float((labels == Phase.AM).mean())
    target = cbd_envelope_fraction(
        am_fraction, cbd_to_am_volume_ratio=ratio, cbd_porosity=params.cbd_porosity
    )
    numbers["cbd_to_am_volume_ratio"] = ratio
    numbers["am_fraction"] = am_fraction
    return target, numbers


@register
class CbdStage(Stage):
    name = "cbd"
    summary = "insert the carbon-binder domain into the pore space with a contact angle"
    Params = CbdParams
    consumes = "labels"
    produces = "labels"
    #: 2: the calibration's whole-volume D50 step root-finds the saturation at the measured
    #: D50 (2026-12-08)
    version = "2"

    def run(self, volume: Volume, params: CbdParams, ctx: StageContext) -> StageOutput:
        from microstructure.plot import labels_slice_figure

        vs = volume.require_voxel_size("CBD insertion")
        require_3d(volume.data.shape, name="stage 'cbd'", what="the contact-angle CBD insertion")
        labels = volume.data
        if params.replace_existing:
            labels = labels.copy()
            labels[(labels == Phase.CBD) | (labels == Phase.CBD_PORE)] = Phase.PORE
        calibration = None
        if params.calibrate is not None:
            calibration, fitted = _calibrate(labels, vs, params, ctx)
            params = params.model_copy(update=fitted)
        target, numbers = _target_envelope_fraction(labels, params)
        if calibration is not None:
            numbers["calibration"] = calibration
        numbers["target_envelope_fraction"] = target
        domain = labels
        closed = None
        if not params.fill_closed_pores:
            from microstructure.segment import closed_pores

            closed = closed_pores(labels == Phase.AM) & (labels == Phase.PORE)
            numbers["closed_pore_voxels_kept_empty"] = int(closed.sum())
            if closed.any():
                # the closed pores take no CBD: hide them as solid during the insertion
                domain = labels.copy()
                domain[closed] = Phase.AM
        bar = ctx.progress_bar(desc="cbd: void filling", unit="step")
        out, info = insert_cbd(
            domain,
            voxel_size_nm=vs,
            volume_fraction=target,
            contact_angle_deg=params.contact_angle_deg,
            method=params.method,
            seed=params.seed,
            morphology_w=params.morphology_w,
            max_void_diameter_nm=params.max_void_diameter_nm,
            distribution=params.distribution,
            progress=bar.update,
            return_info=True,
        )
        bar.close()
        if closed is not None and closed.any():
            out[closed] = Phase.PORE
        numbers["insertion"] = info
        numbers["cbd_envelope_fraction"] = float(
            ((out == Phase.CBD) | (out == Phase.CBD_PORE)).mean()
        )
        if params.report:
            numbers["report"] = cbd_report(
                out, voxel_size_nm=vs, seed=params.seed, contacts=params.report_contacts
            )
        labels_slice_figure(
            ctx.work_dir / "cbd.png",
            [("before", labels), (f"CBD, {params.method}", out)],
            voxel_size_nm=vs,
            title=f"CBD envelope {numbers['cbd_envelope_fraction']:.4f} (target {target:.4f})",
        )
        meta = {**volume.metadata, "cbd": {"method": params.method, "target": target}}
        figures = ["cbd.png"]
        if calibration is not None:
            figures.append("calibration_overlay.png")
        return StageOutput(volume=Volume(out, vs, meta), numbers=numbers, figures=figures)


def _calibrate(
    labels: np.ndarray, vs: tuple[float, float, float], params: CbdParams, ctx: StageContext
) -> tuple[dict[str, Any], dict[str, float]]:
    """Fit the CBD model to ``params.calibrate.curve`` on ``labels``; the report block
    (fitted values with their sensitivity and origin, whole-volume misfit, settings) and
    the stage options the fitted values replace."""
    from microstructure.cbd._calibrate_model import default_radii_nm
    from microstructure.cbd.calibrate import calibration_figure
    from microstructure.plot import save_figure
    from microstructure.porosimetry.measured import load_mip_curve

    c = params.calibrate
    assert c is not None
    _, numbers = _target_envelope_fraction(labels, params)
    try:
        measured = load_mip_curve(Path(c.curve).expanduser())
        start = {
            "contact_angle_deg": params.contact_angle_deg,
            "cbd_porosity": params.cbd_porosity,
            **(
                {"max_void_diameter_nm": params.max_void_diameter_nm}
                if params.max_void_diameter_nm is not None
                else {}
            ),
            **c.start,
        }
        res = calibrate_cbd(
            labels,
            measured,
            voxel_size_nm=vs,
            cbd_to_am_volume_ratio=float(numbers["cbd_to_am_volume_ratio"]),
            free=c.free,
            bounds=c.bounds,
            start=start,
            distribution=params.distribution,
            inlet=c.inlet,
            thickness_axis=ctx.thickness_axis,
            top_at=ctx.top_at,
            radii_nm=default_radii_nm(vs, c.max_diameter_nm),
            seed=params.seed,
            max_evaluations=c.max_evaluations,
            global_samples=c.global_samples,
            max_voxels=c.max_voxels,
            psd_weight=c.psd_weight,
            d50_weight=c.d50_weight,
            whole_steps=c.whole_steps,
            tolerance=c.tolerance,
        )
    except ValueError as exc:
        raise ValueError(f"stage 'cbd': calibrate ({c.curve}): {exc}") from None
    save_figure(calibration_figure(res), ctx.work_dir / "calibration_overlay.png")
    block = res.to_dict()
    origin = FITTED_ORIGIN.format(label=c.label)
    block["curve"] = c.curve
    block["label"] = c.label
    block["origin"] = {
        n: origin if n in res.free else "set by the recipe" for n in CALIBRATION_PARAMETERS
    }
    block["fitted"] = {
        n: {"value": res.parameters[n], "sensitivity": block["sensitivity"][n], "origin": origin}
        for n in res.free
    }
    fitted = {
        "contact_angle_deg": res.parameters["contact_angle_deg"],
        "max_void_diameter_nm": res.parameters["max_void_diameter_nm"],
        "cbd_porosity": res.parameters["cbd_porosity"],
    }
    return block, fitted


class NanoporesParams(StageParams):
    porosity: float = Field(
        param_default(add_nanopores, "porosity"),
        ge=0.0,
        lt=1.0,
        description="CBD porosity (Beuse et al. 2021: 0.502)",
    )
    mean_diameter_nm: float = Field(
        param_default(add_nanopores, "mean_diameter_nm"),
        gt=0.0,
        description="mean pore diameter, nm",
    )
    std_diameter_nm: float = Field(
        param_default(add_nanopores, "std_diameter_nm"), ge=0.0, description="pore diameter std, nm"
    )
    min_diameter_nm: float | None = Field(
        param_default(add_nanopores, "min_diameter_nm"),
        gt=0.0,
        description="lower truncation, nm (default: the voxel length)",
    )
    length_nm: float | None = Field(
        param_default(add_nanopores, "length_nm"),
        gt=0.0,
        description="fibre (cylinder) length, nm (default 10 mean diameters)",
    )
    centres: Literal["cbd", "volume"] = Field(
        param_default(add_nanopores, "centres"),
        description="where fibre centres are drawn: among the CBD voxels, or uniformly in the "
        "volume (the same fibres whatever the CBD mask, as in the CBD calibration)",
    )
    seed: int = Field(param_default(add_nanopores, "seed"), ge=0, description="random seed")
    measure: bool = Field(True, description="measure the diameters back (local thickness)")
    from_calibration: bool = Field(
        False,
        description="take porosity, mean and std diameter from the calibration of the cbd "
        "stage before this one ([stage.calibrate]); the values given here are then ignored",
    )


def _calibrated(params: NanoporesParams, ctx: StageContext) -> tuple[NanoporesParams, dict]:
    """The stage options with porosity, mean and std from the latest calibrated ``cbd``
    stage's results, and the report block saying so."""
    blocks = [r["calibration"] for r in ctx.results.values() if "calibration" in r]
    if not blocks:
        raise ValueError(
            "stage 'nanopores': from_calibration: no cbd stage with [stage.calibrate] runs "
            "before this one"
        )
    cal = blocks[-1]
    names = {  # this stage's option -> the calibration's parameter
        "porosity": "cbd_porosity",
        "mean_diameter_nm": "nanopore_mean_nm",
        "std_diameter_nm": "nanopore_std_nm",
    }
    fitted = {k: float(cal["parameters"][n]) for k, n in names.items()}
    seed = int(cal.get("settings", {}).get("seed", params.seed))
    block = {
        "values": fitted,
        "origin": {k: cal["origin"][n] for k, n in names.items()},
        "sensitivity": {k: cal["sensitivity"].get(n) for k, n in names.items()},
        "curve": cal.get("curve"),
        # the calibration's forward model: fibre centres in the whole volume, its seed
        "same_model_as_calibration": params.centres == "volume"
        and params.seed == seed
        and params.min_diameter_nm is None
        and params.length_nm is None,
    }
    return params.model_copy(update=fitted), block


@register
class NanoporesStage(Stage):
    name = "nanopores"
    summary = "carve fibrous nanopores with a Gaussian diameter distribution into the CBD"
    Params = NanoporesParams
    consumes = "labels"
    produces = "labels"

    def run(self, volume: Volume, params: NanoporesParams, ctx: StageContext) -> StageOutput:
        from microstructure.plot import labels_slice_figure

        vs = volume.require_voxel_size("CBD nanopores")
        require_3d(volume.data.shape, name="stage 'nanopores'", what="fibrous nanopores")
        calibration = None
        if params.from_calibration:
            params, calibration = _calibrated(params, ctx)
        out, info = add_nanopores(
            volume.data,
            voxel_size_nm=vs,
            porosity=params.porosity,
            mean_diameter_nm=params.mean_diameter_nm,
            std_diameter_nm=params.std_diameter_nm,
            min_diameter_nm=params.min_diameter_nm,
            length_nm=params.length_nm,
            seed=params.seed,
            centres=params.centres,
            return_info=True,
        )
        n_cbd = int(((out == Phase.CBD) | (out == Phase.CBD_PORE)).sum())
        numbers = {
            "cbd_porosity": float((out == Phase.CBD_PORE).sum() / n_cbd) if n_cbd else 0.0,
            "nanopores": info,
        }
        if calibration is not None:
            numbers["calibration"] = calibration
        tables: dict[str, dict[str, Any]] = {}
        if params.measure:
            measured = nanopore_diameters(out, voxel_size_nm=vs)
            diam = np.asarray(measured.pop("diameters_nm"), dtype=float)
            numbers["measured_diameters"] = measured
            if diam.size:
                # volume-weighted histogram of the local diameter of the nanopore voxels
                step = 0.5 * min(vs)
                edges = np.arange(0.0, diam.max() + 2 * step, step)
                counts, edges = np.histogram(diam, bins=edges)
                tables["nanopore_diameters"] = {
                    "diameter_low_nm": edges[:-1],
                    "diameter_high_nm": edges[1:],
                    "voxels": counts,
                    "volume_fraction": counts / diam.size,
                }
        labels_slice_figure(
            ctx.work_dir / "nanopores.png",
            [("CBD", volume.data), ("with nanopores", out)],
            voxel_size_nm=vs,
            title=f"CBD porosity {numbers['cbd_porosity']:.4f} (set {params.porosity:.4f})",
        )
        return StageOutput(
            volume=Volume(out, vs, dict(volume.metadata)),
            numbers=numbers,
            tables=tables,
            figures=["nanopores.png"],
        )
