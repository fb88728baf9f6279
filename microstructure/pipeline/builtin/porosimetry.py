"""Stages ``mip`` (simulated mercury intrusion/extrusion, optional measured-curve comparison)
and ``granulometry`` (local-thickness PSD, pore-shielding comparison with the MIP D50).

Both consume a labels volume (0 pore, 1 AM, 2 CBD, 3 CBD pore; pore space = 0 and 3) and only
measure: the volume passes on unchanged. Each stage is one call of the public function
(:func:`~microstructure.porosimetry.simulate_mip`, :func:`~microstructure.porosimetry.granulometry`)
on numpy labels, or on the Dask labels chunk by chunk (their ``chunks`` key, or labels above
the runner's size threshold) with the same numbers; what cannot run chunked is declared by the
function and refused when the recipe is loaded (:meth:`Stage.chunked_refusals`). Peak memory
of ``mip`` in memory, measured on a 123 Mvoxel volume: about 15 bytes per voxel above the
labels (about 38 with extrusion, the default); ``granulometry`` needs about the same as
``mip`` without extrusion. The runner records the measured peak of every run in each stage's
``params.json``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from microstructure.faces import parse_faces
from microstructure.parallel.support import chunked_refusals
from microstructure.pipeline.stages import (
    Stage,
    StageContext,
    StageOutput,
    StageParams,
    above_size_threshold,
    in_memory,
    param_default,
    register,
)
from microstructure.porosimetry._intrusion_chunked import DEFAULT_CHUNK
from microstructure.porosimetry.distribution import BINS_PER_DECADE
from microstructure.porosimetry.hybrid import (
    CBD_MEAN_DIAMETER_NM,
    CBD_STD_DIAMETER_NM,
    LOWEST_DIAMETER_NM,
    MAX_PRESSURE_MPA,
)
from microstructure.porosimetry.measured import read_mip_file
from microstructure.porosimetry.washburn import CONTACT_ANGLE_DEG, SURFACE_TENSION_N_PER_M
from microstructure.volume import Volume

_PHASE_KEYS = {"am", "cbd", "1", "2"}
#: log-spaced radii per decade of a capped run (``max_diameter_nm``)
RADII_PER_DECADE = 40


class MeasuredCurveParams(StageParams):
    """A measured intrusion curve to compare the simulation with (``[stage.measured]``)."""

    path: str = Field(
        ..., description="instrument export (2+ columns: pressure, cumulative volume) or curve CSV"
    )
    pressure_unit: Literal["psi", "psia", "mpa", "kpa", "pa", "bar", "atm"] | None = Field(
        None, description="pressure unit of the export (default: from the header, else psi)"
    )
    volume_unit: Literal["ml", "cm3", "cc", "mm3", "ul", "l"] | None = Field(
        None, description="volume unit of the export (default: from the header, else mL)"
    )
    runs: Literal["merge", "low", "high"] = Field(
        param_default(read_mip_file, "runs"),
        description="low- and high-pressure runs of the export: merged, or one of them",
    )
    decimal: Literal["auto", ".", ","] = Field(
        param_default(read_mip_file, "decimal"),
        description="decimal separator of the export (auto: told from the numbers)",
    )
    sample_mass_g: Annotated[float, Field(gt=0)] | None = Field(
        None, description="sample mass (g) when the volumes are absolute, not per gram"
    )
    min_pressure_mpa: Annotated[float, Field(ge=0)] | None = Field(
        None, description="lowest pressure used (MPa); Beuse et al. 2021 used the high-pressure run"
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
    contact_angle_deg: float = Field(
        CONTACT_ANGLE_DEG, gt=90.0, le=180.0, description="Hg contact angle (deg)"
    )
    surface_tension_n_per_m: float = Field(
        SURFACE_TENSION_N_PER_M, gt=0.0, description="Hg surface tension (N/m)"
    )
    radii_nm: list[Annotated[float, Field(gt=0)]] | None = Field(
        None, description="discrete radius list (nm); default exact fractional radii"
    )
    batch_size_nm: Annotated[float, Field(gt=0)] | None = Field(
        None, description="diameter step (nm) as GeoDict's batch size; Beuse et al.: voxel length"
    )
    max_diameter_nm: Annotated[float, Field(gt=0)] | None = Field(
        None,
        description="largest throat diameter resolved (nm), the lowest pressure of the run: "
        "wider pores intrude at its pressure. Radii are then log-spaced (radii_per_decade) "
        "from half a voxel; bounds the cost on volumes with large voids",
    )
    radii_per_decade: int = Field(
        RADII_PER_DECADE, ge=5, le=1000, description="with max_diameter_nm"
    )
    densities_g_per_cm3: dict[str, Annotated[float, Field(gt=0)]] | None = Field(
        None, description="skeletal densities for mm3/g, e.g. {am = 4.76, cbd = 1.935}"
    )
    extrusion: bool = Field(
        True, description="also simulate extrusion and Hg entrapment (in memory and chunked)"
    )
    cbd_porosity: Annotated[float, Field(ge=0.0, lt=1.0)] | None = Field(
        None,
        description="unresolved CBD nanoporosity (0..1): hybrid curve below the voxel size "
        "(in memory only)",
    )
    cbd_mean_diameter_nm: float = Field(CBD_MEAN_DIAMETER_NM, gt=0.0)
    cbd_std_diameter_nm: float = Field(CBD_STD_DIAMETER_NM, gt=0.0)
    max_pressure_mpa: float = Field(
        MAX_PRESSURE_MPA, gt=0.0, description="top of the hybrid curve (MPa)"
    )
    bins_per_decade: int = Field(
        BINS_PER_DECADE, ge=1, le=100, description="dV/dlogD bins per decade"
    )
    measured: MeasuredCurveParams | None = Field(
        None, description="measured curve to compare with (path and reading options)"
    )
    compare_inlets: list[str] = Field(
        default_factory=list,
        description="further inlet settings simulated beside `inlet` (intrusion only), e.g. "
        "['top']: Beuse et al. 2021 Fig. 8c intrude from all sides but the current collector "
        "and from the top only",
    )
    subvoxel_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] | None = Field(
        None,
        description="measured fraction of the intruded volume in throats below the resolution "
        "limit (Beuse et al. 2021: 0.037 below 18.6 nm); adds sub-voxel corrected curves",
    )
    subvoxel_min_diameter_nm: Annotated[float, Field(gt=0)] | None = Field(
        None, description="resolution limit (nm); default half the smallest voxel edge"
    )
    subvoxel_lowest_diameter_nm: float = Field(
        LOWEST_DIAMETER_NM,
        gt=0.0,
        description="smallest diameter of the added sub-voxel volume (nm)",
    )
    chunks: Annotated[int, Field(ge=16)] | None = Field(
        None,
        description="run chunk by chunk (Dask arrays over Zarr, resumable) with cubic work "
        "chunks of this edge (voxels), with the in-memory numbers (max_diameter_nm, when set, "
        "bounds the chunk overlap). Automatic (128) when the labels exceed the runner's size "
        "threshold",
    )

    @field_validator("inlet")
    @classmethod
    def _faces_ok(cls, v: str) -> str:
        parse_faces(v, name="inlet")
        return v

    @field_validator("compare_inlets")
    @classmethod
    def _more_faces_ok(cls, v: list[str]) -> list[str]:
        for item in v:
            parse_faces(item, name="compare_inlets")
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


#: rows kept when a curve travels to later stages in the run's numbers (report.json)
_CURVE_ROWS = 120


def curve_to_numbers(curve: Any, *, rows: int = _CURVE_ROWS) -> dict[str, Any]:
    """A curve as JSON lists, resampled on a log-diameter grid of at most ``rows`` rows.

    The cumulative values are those of the step curve (everything intruded at diameters
    >= D), so D-values of the resampled curve agree with the full one to the grid spacing.
    """
    import numpy as np

    d = np.asarray(curve.diameter_nm, dtype=float)
    out: dict[str, Any] = {"label": curve.label, "porosity": _finite(curve.porosity)}
    if d.size > rows:
        grid = np.logspace(np.log10(d.max()), np.log10(d.min()), rows)
        # rows with diameter >= g: the curve is sorted by decreasing diameter
        idx = np.searchsorted(-d, -grid, side="right") - 1
        idx = np.clip(idx, 0, d.size - 1)
        idx[-1] = d.size - 1
    else:
        grid, idx = d, np.arange(d.size)
    out["diameter_nm"] = [float(x) for x in grid]
    for name in ("saturation", "intruded_fraction"):
        vals = np.asarray(getattr(curve, name), dtype=float)[idx]
        out[name] = [float(x) if np.isfinite(x) else None for x in vals]
    return out


def curve_from_numbers(data: dict[str, Any], **washburn: float) -> Any:
    """Inverse of :func:`curve_to_numbers` (pressures from the Washburn equation)."""
    import numpy as np

    from microstructure.porosimetry import MipCurve, washburn_pressure_mpa

    d = np.asarray(data["diameter_nm"], dtype=float)
    vals = {
        k: np.asarray([np.nan if x is None else x for x in data[k]], dtype=float)
        for k in ("saturation", "intruded_fraction")
    }
    por = data.get("porosity")
    return MipCurve(
        diameter_nm=d,
        pressure_mpa=washburn_pressure_mpa(d, **washburn),
        porosity=float("nan") if por is None else float(por),
        label=str(data.get("label", "")),
        **vals,
    )


def capped_radii_nm(
    radii_nm: list[float] | None,
    max_diameter_nm: float | None,
    radii_per_decade: int,
    voxel_size_nm: tuple[float, float, float],
    *,
    other: Any = None,
) -> list[float] | None:
    """The radius list of a capped run: log-spaced from half a voxel to ``max_diameter_nm / 2``.

    ``None`` when no cap is set (exact fractional radii, or the given ``radii_nm``).
    """
    if max_diameter_nm is None:
        return radii_nm
    if radii_nm is not None or other is not None:
        raise ValueError("max_diameter_nm: give it or radii_nm / batch_size_nm, not both")
    import numpy as np

    r_lo = 0.5 * min(voxel_size_nm)
    r_hi = 0.5 * float(max_diameter_nm)
    if r_hi <= r_lo:
        raise ValueError(
            f"max_diameter_nm: {max_diameter_nm} nm is not above one voxel ({2 * r_lo:g} nm)"
        )
    n = max(2, int(np.ceil(np.log10(r_hi / r_lo) * radii_per_decade)) + 1)
    return [float(x) for x in np.geomspace(r_lo, r_hi, n)]


def _slug(inlet: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in inlet).strip("_")


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


#: work chunk edge (voxels) of the automatic chunked path: the functions' default
AUTO_CHUNK = DEFAULT_CHUNK


def chunked_edge(volume: Volume, chunks: int | None, ctx: StageContext) -> int | None:
    """The work chunk edge when the stage runs chunked, else None.

    Chunked when the stage's ``chunks`` option is set, or when the labels are larger than the
    runner's size threshold (``ctx.zarr_threshold_bytes`` when the runner provides it, else
    the runner's default, :data:`microstructure.pipeline.runner.ZARR_THRESHOLD_BYTES`).
    """
    if chunks is not None:
        return int(chunks)
    return AUTO_CHUNK if above_size_threshold(volume, ctx) else None


def _chunk_folder(ctx: StageContext, name: str) -> Path | None:
    return None if ctx.chunk_dir is None else Path(ctx.chunk_dir) / name


def _stage_data(volume: Volume, chunks: int | None, ctx: StageContext) -> tuple[Any, int | None]:
    """The labels to hand the function and its ``chunks``: the (Dask) data as it is when the
    stage runs chunked, else a numpy array (a small Dask volume is loaded)."""
    edge = chunked_edge(volume, chunks, ctx)
    return (volume.data if edge is not None else in_memory(volume.data)), edge


@register
class MipStage(Stage):
    name = "mip"
    summary = "simulated mercury intrusion and extrusion, PSD, D-values, measured-curve comparison"
    Params = MipParams
    consumes = "labels"
    produces = "none"
    #: Dask labels run chunked above the size threshold; smaller ones are loaded
    supports_dask = True

    def chunked_refusals(self, params: MipParams) -> list[str]:
        from microstructure.porosimetry import simulate_mip

        return chunked_refusals(simulate_mip, {"cbd_porosity": params.cbd_porosity})

    def run(self, volume: Volume, params: MipParams, ctx: StageContext) -> StageOutput:
        from microstructure.porosimetry import simulate_mip

        vs = volume.require_voxel_size("simulated MIP")
        radii = capped_radii_nm(
            params.radii_nm,
            params.max_diameter_nm,
            params.radii_per_decade,
            vs,
            other=params.batch_size_nm,
        )
        data, edge = _stage_data(volume, params.chunks, ctx)
        # the same simulation settings for the main inlet and every compared one
        common = {
            "voxel_size_nm": vs,
            "thickness_axis": ctx.thickness_axis,
            "top_at": ctx.top_at,
            "radii_nm": radii,
            "batch_size_nm": params.batch_size_nm,
            "densities_g_per_cm3": params.densities_g_per_cm3,
            "cbd_porosity": params.cbd_porosity,
            "cbd_mean_diameter_nm": params.cbd_mean_diameter_nm,
            "cbd_std_diameter_nm": params.cbd_std_diameter_nm,
            "max_pressure_mpa": params.max_pressure_mpa,
            "contact_angle_deg": params.contact_angle_deg,
            "surface_tension_n_per_m": params.surface_tension_n_per_m,
            "chunks": edge,
        }
        runs = [
            simulate_mip(
                data,
                inlet=inlet,
                extrusion=params.extrusion and i == 0,
                resume_dir=_chunk_folder(ctx, f"mip-{i}-{_slug(inlet)}"),
                **common,
            )
            for i, inlet in enumerate([params.inlet, *params.compare_inlets])
        ]
        res = runs[0]
        numbers, tables, curves_out = _mip_numbers(res, [r.curve for r in runs[1:]], params, vs)
        figures = _mip_figures(res, curves_out, params, ctx.work_dir, numbers.get("d50_nm"))
        if params.measured is not None:
            figures.append(_compare_measured(res.curve, params, ctx.work_dir, numbers, tables))
        return StageOutput(volume=None, numbers=numbers, tables=tables, figures=figures)


def _mip_numbers(
    res: Any, others: list[Any], params: MipParams, vs: tuple[float, float, float]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], list[Any]]:
    """Numbers, tables and the curves to draw of the main and the compared inlet settings."""
    from microstructure.porosimetry import subvoxel_correction

    curve = res.curve
    curve.label = f"MIP, inlet {params.inlet}"
    settings = [(params.inlet, curve)]
    for inlet, other in zip(params.compare_inlets, others, strict=True):
        other.label = f"MIP, inlet {inlet}"
        settings.append((inlet, other))
    psd = curve.psd(bins_per_decade=params.bins_per_decade)
    numbers: dict[str, Any] = res.summary()
    numbers["resolved_d50_nm"] = res.resolved_curve.d_values()["d50_nm"]
    numbers["psd_mode_nm"] = psd.mode_nm()
    numbers["psd_quantity"] = psd.quantity
    tables: dict[str, dict[str, Any]] = {"mip_curve": curve.columns(), "mip_psd": psd.columns()}
    if res.extrusion is not None:
        numbers["entrapped_pore_fraction"] = res.extrusion.entrapped_pore_fraction
        tables["mip_extrusion"] = res.extrusion.curve.columns()
    d_limit = params.subvoxel_min_diameter_nm or 0.5 * min(vs)
    lowest = min(params.subvoxel_lowest_diameter_nm, 0.5 * d_limit)
    curves_out: list[Any] = []
    numbers["inlet_settings"] = {}
    for inlet, c in settings:
        entry: dict[str, Any] = {
            "d50_nm": c.d_values()["d50_nm"],
            "intruded_porosity": c.total_intruded_fraction,
        }
        curves_out.append(c)
        if params.subvoxel_fraction is not None:
            corrected = subvoxel_correction(
                c,
                fraction_below=params.subvoxel_fraction,
                min_diameter_nm=d_limit,
                lowest_diameter_nm=lowest,
            )
            corrected.label = f"{c.label}, sub-voxel corrected"
            entry["d50_corrected_nm"] = corrected.d_values()["d50_nm"]
            entry["intruded_porosity_corrected"] = corrected.total_intruded_fraction
            curves_out.append(corrected)
            key = "mip_curve" if inlet == params.inlet else f"mip_curve_{_slug(inlet)}"
            tables[f"{key}_subvoxel"] = corrected.columns()
        if inlet != params.inlet:
            tables[f"mip_curve_{_slug(inlet)}"] = c.columns()
        numbers["inlet_settings"][inlet] = entry
    if params.subvoxel_fraction is not None:
        numbers["subvoxel"] = {
            "fraction_below": params.subvoxel_fraction,
            "min_diameter_nm": d_limit,
            "lowest_diameter_nm": lowest,
            **numbers["inlet_settings"][params.inlet],
        }
    numbers["curves"] = [curve_to_numbers(c) for c in curves_out]
    return numbers, tables, curves_out


def _mip_figures(
    res: Any, curves_out: list[Any], params: MipParams, work_dir: Path, d50: Any
) -> list[str]:
    """The curve figure (with extrusion) and, with several curves, the inlet-settings one."""
    from microstructure.plot import save_figure
    from microstructure.porosimetry import mip_curve_figure, mip_curves_figure

    figures = ["mip_curve.png"]
    fig = mip_curve_figure(
        res.curve,
        extrusion=None if res.extrusion is None else res.extrusion.curve,
        title=(
            f"simulated MIP, inlet {','.join(res.inlet)}: D50 "
            + (f"{d50:.4g} nm" if _finite(d50) else "n/a")
        ),
    )
    save_figure(fig, work_dir / "mip_curve.png")
    if len(curves_out) > 1:
        fig = mip_curves_figure(
            curves_out,
            title="simulated MIP: inlet settings"
            + (", sub-voxel correction" if params.subvoxel_fraction is not None else ""),
        )
        save_figure(fig, work_dir / "mip_inlets.png")
        figures.append("mip_inlets.png")
    return figures


def _compare_measured(
    curve: Any, params: MipParams, work_dir: Path, numbers: dict[str, Any], tables: dict
) -> str:
    """Read the measured curve, add the comparison numbers and table; returns the figure."""
    from microstructure.plot import save_figure
    from microstructure.porosimetry import (
        compare_mip_curves,
        load_mip_curve,
        mip_comparison_figure,
    )

    m = params.measured
    assert m is not None
    opts = {
        "pressure_unit": m.pressure_unit,
        "volume_unit": m.volume_unit,
        "sample_mass_g": m.sample_mass_g,
        "min_pressure_mpa": m.min_pressure_mpa,
        "max_pressure_mpa": m.max_pressure_mpa,
        "bulk_density_g_per_cm3": m.bulk_density_g_per_cm3,
        "runs": m.runs,
        "decimal": m.decimal,
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
    fig = mip_comparison_figure(curve, measured, title=f"simulated vs {Path(m.path).name}")
    save_figure(fig, work_dir / "mip_compare.png")
    return "mip_compare.png"


class GranulometryParams(StageParams):
    radii_nm: list[Annotated[float, Field(gt=0)]] | None = Field(
        None, description="discrete radius list (nm); default exact fractional radii"
    )
    max_diameter_nm: Annotated[float, Field(gt=0)] | None = Field(
        None,
        description="largest sphere diameter (nm); wider pores count at it. Radii are then "
        "log-spaced (radii_per_decade) from half a voxel; bounds the cost with large voids",
    )
    radii_per_decade: int = Field(
        RADII_PER_DECADE, ge=5, le=1000, description="with max_diameter_nm"
    )
    contact_angle_deg: float = Field(
        CONTACT_ANGLE_DEG,
        gt=90.0,
        le=180.0,
        description="Hg contact angle (deg), only for the pressure column of the table",
    )
    surface_tension_n_per_m: float = Field(
        SURFACE_TENSION_N_PER_M, gt=0.0, description="Hg surface tension (N/m)"
    )
    bins_per_decade: int = Field(
        BINS_PER_DECADE, ge=1, le=100, description="dV/dlogD bins per decade"
    )
    chunks: Annotated[int, Field(ge=16)] | None = Field(
        None,
        description="run chunk by chunk (Dask arrays over Zarr, resumable) with cubic work "
        "chunks of this edge (voxels), with the in-memory numbers (max_diameter_nm, when set, "
        "bounds the chunk overlap). Automatic (128) when the labels exceed the runner's size "
        "threshold",
    )

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
    #: Dask labels run chunked above the size threshold; smaller ones are loaded
    supports_dask = True

    def chunked_refusals(self, params: GranulometryParams) -> list[str]:
        from microstructure.porosimetry.granulometry import granulometry

        return chunked_refusals(granulometry, {"radii_nm": params.radii_nm})

    def run(self, volume: Volume, params: GranulometryParams, ctx: StageContext) -> StageOutput:
        from microstructure.porosimetry.granulometry import granulometry

        vs = volume.require_voxel_size("granulometry")
        radii = capped_radii_nm(
            params.radii_nm, params.max_diameter_nm, params.radii_per_decade, vs
        )
        data, edge = _stage_data(volume, params.chunks, ctx)
        gran = granulometry(
            data,
            voxel_size_nm=vs,
            radii_nm=radii,
            contact_angle_deg=params.contact_angle_deg,
            surface_tension_n_per_m=params.surface_tension_n_per_m,
            chunks=edge,
            resume_dir=_chunk_folder(ctx, "granulometry"),
            # chunked: the field stays on disk (removed with the chunk folder), counts suffice
            out_zarr=_chunk_folder(ctx, "local_thickness.zarr"),
        )
        psd = gran.curve.psd(quantity="saturation", bins_per_decade=params.bins_per_decade)
        numbers: dict[str, Any] = gran.summary()
        numbers["psd_mode_nm"] = psd.mode_nm()
        mip = ctx.results.get("mip") or {}
        numbers["shielding"] = _shielding(numbers.get("d50_nm"), mip)
        figures = _granulometry_figures(gran, numbers, mip, params, ctx.work_dir)
        return StageOutput(
            volume=None,
            numbers=numbers,
            tables={"granulometry_curve": gran.curve.columns(), "granulometry_psd": psd.columns()},
            figures=figures,
        )


def _shielding(d50_gran: Any, mip: dict[str, Any]) -> dict[str, Any] | None:
    """Granulometry D50 against the MIP's (pore shielding, Beuse et al. 2021 Fig. 8c)."""
    # the resolved MIP curve is the like-for-like one (granulometry sees no nanopores)
    d50_mip = _finite(mip.get("resolved_d50_nm", mip.get("d50_nm")))
    if d50_mip is None or d50_mip <= 0 or _finite(d50_gran) is None:
        return None
    return {
        "d50_mip_nm": d50_mip,
        "d50_granulometry_nm": float(d50_gran),
        "d50_ratio": float(d50_gran) / d50_mip,
        "mip_inlet": mip.get("inlet"),
    }


def _granulometry_figures(
    gran: Any, numbers: dict[str, Any], mip: dict[str, Any], params: Any, work_dir: Path
) -> list[str]:
    """The granulometry curve (with the MIP D50) and, after a ``mip`` stage, both together."""
    from microstructure.plot import save_figure
    from microstructure.porosimetry import mip_curve_figure, mip_curves_figure

    d50_gran = numbers.get("d50_nm")
    shielding = numbers["shielding"]
    markers = {} if shielding is None else {"MIP D50": shielding["d50_mip_nm"]}
    fig = mip_curve_figure(
        gran.curve,
        markers_nm=markers,
        xlabel="pore diameter D (nm), largest inscribed sphere",
        title=(
            "granulometry (local thickness): D50 "
            + (f"{d50_gran:.4g} nm" if _finite(d50_gran) else "n/a")
        ),
    )
    save_figure(fig, work_dir / "granulometry.png")
    figures = ["granulometry.png"]
    washburn = {
        "contact_angle_deg": params.contact_angle_deg,
        "surface_tension_n_per_m": params.surface_tension_n_per_m,
    }
    mip_curves = [curve_from_numbers(c, **washburn) for c in mip.get("curves") or []]
    if mip_curves:
        # Beuse et al. 2021 Fig. 8c: simulated MIP (each inlet setting) beside the granulometry
        gran.curve.label = "granulometry (sphere filling)"
        fig = mip_curves_figure(
            [*mip_curves, gran.curve],
            styles=[("-", "--")[i % 2] for i in range(len(mip_curves))] + ["k-."],
            title="simulated MIP and granulometry (cf. Beuse et al. 2021, Fig. 8c)",
        )
        save_figure(fig, work_dir / "mip_granulometry.png")
        figures.append("mip_granulometry.png")
    return figures
