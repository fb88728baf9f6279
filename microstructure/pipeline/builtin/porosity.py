"""Stage ``porosity``: phase fractions, closed/accessible porosity, densities, surface, profile.

One call of :func:`microstructure.porosity.porosity_report`; the defaults of the options are
that function's.

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. https://doi.org/10.3390/batteries7040070
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from microstructure.faces import parse_faces
from microstructure.pipeline.stages import (
    Stage,
    StageContext,
    StageOutput,
    StageParams,
    param_default,
    register,
)
from microstructure.porosity.report import porosity_report
from microstructure.volume import Volume


class PorosityParams(StageParams):
    faces: str = Field(
        param_default(porosity_report, "faces"),
        description="faces a pore must connect to to count as open (contract face names)",
    )
    densities_g_per_cm3: dict[str, Annotated[float, Field(gt=0)]] | None = Field(
        param_default(porosity_report, "densities_g_per_cm3"),
        description="phase densities, e.g. {am = 4.76, cbd = 1.935}",
    )
    cbd_nanoporosity: float = Field(
        param_default(porosity_report, "cbd_nanoporosity"),
        ge=0.0,
        lt=1.0,
        description="unresolved porosity of the CBD solid phase (0..1)",
    )
    surface_method: Literal["crofton", "mesh", "none"] = Field(
        param_default(porosity_report, "surface_method"),
        description="interface areas: crofton (fast), mesh (accurate) or none",
    )

    @field_validator("faces")
    @classmethod
    def _faces_ok(cls, v: str) -> str:
        parse_faces(v)
        return v

    @field_validator("densities_g_per_cm3")
    @classmethod
    def _phases_ok(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is not None:
            bad = set(v) - {"am", "cbd", "cbd_pore", "pore"}
            if bad:
                raise ValueError(f"unknown phase(s) {sorted(bad)}; use am, cbd")
        return v


@register
class PorosityStage(Stage):
    name = "porosity"
    summary = "phase fractions, closed and accessible porosity, density, surface, profile"
    Params = PorosityParams
    consumes = "labels"
    produces = "none"
    version = "2"  # 2: profile and labels figures

    def run(self, volume: Volume, params: PorosityParams, ctx: StageContext) -> StageOutput:
        from microstructure.plot import labels_slice_figure, profile_figure

        report = porosity_report(
            volume.data,
            voxel_size_nm=volume.voxel_size_nm,
            faces=params.faces,
            thickness_axis=ctx.thickness_axis,
            top_at=ctx.top_at,
            densities_g_per_cm3=params.densities_g_per_cm3,
            cbd_nanoporosity=params.cbd_nanoporosity,
            surface=params.surface_method != "none",
            surface_method=(
                param_default(porosity_report, "surface_method")
                if params.surface_method == "none"
                else params.surface_method
            ),
        )
        tables = {}
        figures = []
        profile = report.get("profile")
        if isinstance(profile, dict) and profile:
            cols = {k: v for k, v in profile.items() if isinstance(v, list | tuple)}
            if cols and len({len(v) for v in cols.values()}) == 1:
                tables["profile"] = cols
                curves = {
                    name: cols[name]
                    for name in ("porosity", "am", "cbd", "cbd_pore")
                    if name in cols and max(cols[name], default=0.0) > 0.0
                }
                if "depth_um" in cols and curves:
                    profile_figure(
                        ctx.work_dir / "profile.png",
                        cols["depth_um"],
                        curves,
                        xlabel=f"depth from the separator side along {ctx.thickness_axis} (um)",
                        title="phase fractions through the electrode thickness",
                    )
                    figures.append("profile.png")
        labels_slice_figure(
            ctx.work_dir / "labels.png",
            [("labels (middle z slice)", volume.data)],
            voxel_size_nm=volume.voxel_size_nm,
            title=f"porosity {report['total_porosity']:.3f}, "
            f"closed {report['closed_porosity']:.4f}",
        )
        figures.append("labels.png")
        return StageOutput(volume=None, numbers=report, tables=tables, figures=figures)
