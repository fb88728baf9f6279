"""Stages ``mip`` (simulated mercury intrusion/extrusion, optional measured-curve comparison)
and ``granulometry`` (local-thickness PSD, pore-shielding comparison with the MIP D50).

Both consume a labels volume (0 pore, 1 AM, 2 CBD, 3 CBD pore; pore space = 0 and 3) and only
measure: the volume passes on unchanged. Peak memory of ``mip`` measured on a 123 Mvoxel
volume: about 15 bytes per voxel above the labels (about 38 with extrusion, the default);
``granulometry`` needs about the same as ``mip`` without extrusion. The runner records the
measured peak of every run in each stage's ``params.json``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from microstructure.faces import parse_faces
from microstructure.pipeline.stages import Stage, StageContext, StageOutput, StageParams, register
from microstructure.volume import Volume

_PHASE_KEYS = {"am", "cbd", "1", "2"}


class MeasuredCurveParams(StageParams):
    """A measured intrusion curve to compare the simulation with (``[stage.measured]``)."""

    path: str = Field(
        ..., description="instrument export (2+ columns: pressure, cumulative volume) or curve CSV"
    )
    pressure_unit: Literal["psi", "psia", "mpa", "kpa", "pa", "bar"] | None = Field(
        None, description="pressure unit of the export (default: from the header, else psi)"
    )
    volume_unit: Literal["ml", "cm3", "cc", "mm3", "ul"] | None = Field(
        None, description="volume unit of the export (default: from the header, else mL)"
    )
    sample_mass_g: Annotated[float, Field(gt=0)] | None = Field(
        None, description="sample mass (g) when the volumes are absolute, not per gram"
    )
    min_pressure_mpa: Annotated[float, Field(ge=0)] | None = Field(
        None, description="lowest pressure used (MPa); seed 000 used the high-pressure run only"
    )
    max_pressure_mpa: Annotated[float, Field(gt=0)] | None = Field(
        None, description="highest pressure used (MPa)"
    )
    bulk_density_g_per_cm3: Annotated[float, Field(gt=0)] | None = Field(
        None, description="sample bulk density, to express the measured intruded porosity"
    )

    @field_validator("path")
    @classmethod
    def _exists(cls, v: str) -> str:
        if not Path(v).expanduser().is_file():
            raise ValueError(f"measured curve file {v!r} not found")
        return v


def _check_densities(v: dict[str, float] | None) -> dict[str, float] | None:
    if v is not None:
        bad = {k for k in v if str(k).lower() not in _PHASE_KEYS}
        if bad:
            raise ValueError(f"unknown phase(s) {sorted(bad)}; use am, cbd")
    return v


class MipParams(StageParams):
    inlet: str = Field(
        "all-but-bottom",
        description="faces in contact with mercury: all, top, bottom, all-but-bottom, z-, ... "
        "(comma-separated); aliases follow the [electrode] orientation",
    )
    contact_angle_deg: float = Field(140.0, gt=90.0, le=180.0, description="Hg contact angle")
    surface_tension_n_per_m: float = Field(0.48, gt=0.0, description="Hg surface tension (N/m)")
    radii_nm: list[Annotated[float, Field(gt=0)]] | None = Field(
        None, description="discrete radius list (nm); default exact fractional radii"
    )
    batch_size_nm: Annotated[float, Field(gt=0)] | None = Field(
        None, description="diameter step (nm) as GeoDict's batch size; seed 000: voxel length"
    )
    densities_g_per_cm3: dict[str, Annotated[float, Field(gt=0)]] | None = Field(
        None, description="skeletal densities for mm3/g, e.g. {am = 4.76, cbd = 1.935}"
    )
    extrusion: bool = Field(True, description="also simulate extrusion and Hg entrapment")
    cbd_porosity: Annotated[float, Field(ge=0.0, lt=1.0)] | None = Field(
        None, description="unresolved CBD nanoporosity (0..1): hybrid curve below the voxel size"
    )
    cbd_mean_diameter_nm: float = Field(100.0, gt=0.0)
    cbd_std_diameter_nm: float = Field(30.0, gt=0.0)
    max_pressure_mpa: float = Field(400.0, gt=0.0, description="top of the hybrid curve (MPa)")
    bins_per_decade: int = Field(10, ge=1, le=100, description="dV/dlogD bins per decade")
    measured: MeasuredCurveParams | None = Field(
        None, description="measured curve to compare with (path and reading options)"
    )

    @field_validator("inlet")
    @classmethod
    def _faces_ok(cls, v: str) -> str:
        parse_faces(v, name="inlet")
        return v

    @field_validator("densities_g_per_cm3")
    @classmethod
    def _phases_ok(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        return _check_densities(v)

    @field_validator("radii_nm")
    @classmethod
    def _radii_ok(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and not v:
            raise ValueError("radii_nm: give at least one radius, or leave it out")
        return v


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


@register
class MipStage(Stage):
    name = "mip"
    summary = "simulated mercury intrusion and extrusion, PSD, D-values, measured-curve comparison"
    Params = MipParams
    consumes = "labels"
    produces = "none"

    def run(self, volume: Volume, params: MipParams, ctx: StageContext) -> StageOutput:
        from microstructure.porosimetry import (
            compare_mip_curves,
            plot_mip_comparison,
            plot_mip_curve,
            simulate_mip,
        )

        vs = volume.require_voxel_size("simulated MIP")
        res = simulate_mip(
            volume.data,
            voxel_size_nm=vs,
            inlet=params.inlet,
            contact_angle_deg=params.contact_angle_deg,
            surface_tension_n_per_m=params.surface_tension_n_per_m,
            thickness_axis=ctx.thickness_axis,
            top_at=ctx.top_at,
            radii_nm=params.radii_nm,
            batch_size_nm=params.batch_size_nm,
            densities_g_per_cm3=params.densities_g_per_cm3,
            extrusion=params.extrusion,
            cbd_porosity=params.cbd_porosity,
            cbd_mean_diameter_nm=params.cbd_mean_diameter_nm,
            cbd_std_diameter_nm=params.cbd_std_diameter_nm,
            max_pressure_mpa=params.max_pressure_mpa,
        )
        curve = res.curve
        psd = curve.psd(bins_per_decade=params.bins_per_decade)
        numbers: dict[str, Any] = res.summary()
        numbers["resolved_d50_nm"] = res.resolved_curve.d_values()["d50_nm"]
        numbers["psd_mode_nm"] = psd.mode_nm()
        numbers["psd_quantity"] = psd.quantity
        tables: dict[str, dict[str, Any]] = {
            "mip_curve": curve.columns(),
            "mip_psd": psd.columns(),
        }
        if res.extrusion is not None:
            numbers["entrapped_pore_fraction"] = res.extrusion.entrapped_pore_fraction
            tables["mip_extrusion"] = res.extrusion.curve.columns()
        d50 = numbers.get("d50_nm")
        plot_mip_curve(
            curve,
            ctx.work_dir / "mip_curve.png",
            extrusion=None if res.extrusion is None else res.extrusion.curve,
            title=(
                f"simulated MIP, inlet {','.join(res.inlet)}: D50 "
                + (f"{d50:.4g} nm" if _finite(d50) else "n/a")
            ),
        )
        figures = ["mip_curve.png"]
        if params.measured is not None:
            from microstructure.io.mip_files import load_mip_curve

            m = params.measured
            opts = {
                "pressure_unit": m.pressure_unit,
                "volume_unit": m.volume_unit,
                "sample_mass_g": m.sample_mass_g,
                "min_pressure_mpa": m.min_pressure_mpa,
                "max_pressure_mpa": m.max_pressure_mpa,
                "bulk_density_g_per_cm3": m.bulk_density_g_per_cm3,
                "contact_angle_deg": params.contact_angle_deg,
                "surface_tension_n_per_m": params.surface_tension_n_per_m,
            }
            measured = load_mip_curve(
                Path(m.path).expanduser(),
                label=f"measured ({Path(m.path).name})",
                **{k: v for k, v in opts.items() if v is not None},
            )
            numbers["comparison"] = compare_mip_curves(curve, measured).to_dict()
            numbers["measured"] = measured.summary()
            tables["measured_curve"] = measured.columns()
            plot_mip_comparison(
                curve,
                measured,
                ctx.work_dir / "mip_compare.png",
                title=f"simulated vs {Path(m.path).name}",
            )
            figures.append("mip_compare.png")
        return StageOutput(volume=None, numbers=numbers, tables=tables, figures=figures)


class GranulometryParams(StageParams):
    radii_nm: list[Annotated[float, Field(gt=0)]] | None = Field(
        None, description="discrete radius list (nm); default exact fractional radii"
    )
    contact_angle_deg: float = Field(
        140.0, gt=90.0, le=180.0, description="only for the pressure column of the table"
    )
    surface_tension_n_per_m: float = Field(0.48, gt=0.0)
    bins_per_decade: int = Field(10, ge=1, le=100, description="dV/dlogD bins per decade")

    @field_validator("radii_nm")
    @classmethod
    def _radii_ok(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and not v:
            raise ValueError("radii_nm: give at least one radius, or leave it out")
        return v


@register
class GranulometryStage(Stage):
    name = "granulometry"
    summary = "exact local thickness PSD of the pore space, D-values, shielding vs MIP D50"
    Params = GranulometryParams
    consumes = "labels"
    produces = "none"

    def run(self, volume: Volume, params: GranulometryParams, ctx: StageContext) -> StageOutput:
        from microstructure.porosimetry import granulometry, plot_mip_curve

        vs = volume.require_voxel_size("granulometry")
        gran = granulometry(
            volume.data,
            voxel_size_nm=vs,
            radii_nm=params.radii_nm,
            contact_angle_deg=params.contact_angle_deg,
            surface_tension_n_per_m=params.surface_tension_n_per_m,
        )
        psd = gran.curve.psd(quantity="saturation", bins_per_decade=params.bins_per_decade)
        numbers: dict[str, Any] = gran.summary()
        numbers["psd_mode_nm"] = psd.mode_nm()
        d50_gran = numbers.get("d50_nm")
        mip = ctx.results.get("mip") or {}
        # the resolved MIP curve is the like-for-like one (granulometry sees no nanopores)
        d50_mip = _finite(mip.get("resolved_d50_nm", mip.get("d50_nm")))
        if d50_mip is not None and d50_mip > 0 and _finite(d50_gran) is not None:
            numbers["shielding"] = {
                "d50_mip_nm": d50_mip,
                "d50_granulometry_nm": float(d50_gran),
                "d50_ratio": float(d50_gran) / d50_mip,
                "mip_inlet": mip.get("inlet"),
            }
        else:
            numbers["shielding"] = None
        markers = {} if numbers["shielding"] is None else {"MIP D50": d50_mip}
        plot_mip_curve(
            gran.curve,
            ctx.work_dir / "granulometry.png",
            markers_nm=markers,
            xlabel="pore diameter D (nm), largest inscribed sphere",
            title=(
                "granulometry (local thickness): D50 "
                + (f"{d50_gran:.4g} nm" if _finite(d50_gran) else "n/a")
            ),
        )
        return StageOutput(
            volume=None,
            numbers=numbers,
            tables={"granulometry_curve": gran.curve.columns(), "granulometry_psd": psd.columns()},
            figures=["granulometry.png"],
        )
