"""Stage ``mfactor``: image-based M-factor [2]_ and tortuosity factor per axis, beside
Bruggeman, the Hashin-Shtrikman upper bound and (optionally) the Stenzel et al. 2016 prediction
[1]_ from geodesic tortuosity and constrictivity.

Consumes a labels volume (0 pore, 1 AM, 2 CBD, 3 CBD pore); the transporting phases default to
the pore space (0 and 3). ``cbd_relative_diffusivity`` lets the CBD solid (label 2) carry
``D_cbd / D`` of its own (unresolved nanoporosity). Only measures: the volume passes on
unchanged.

Peak memory (measured, ``benchmarks/bench_stage_memory.py``): about 30 bytes per voxel for
the diffusion solve of the pore space (one axis at a time; about 42 with
``cbd_relative_diffusivity``; 2.85 GB process peak for the 88 M-voxel seed-size twin) plus 4
bytes per voxel for the concentration slice of the figure. The descriptors: the geodesic
tortuosity (a numba Dijkstra) about 13 bytes per voxel, the simulated MIP 29, the local
thickness 22, together about twice the solve time per axis. ``descriptors = "auto"``
(default) computes them only up to ``DESCRIPTORS_AUTO_MAX_VOXELS`` (2**25 voxels) and says so
otherwise.

The defaults of ``phases`` and ``flux_tol`` are those of
:func:`microstructure.transport.m_factor`, the Bruggeman exponent that of
:func:`microstructure.transport.formulas.bruggeman`.

References
----------
.. [1] Stenzel, O., Pecho, O., Holzer, L., Neumann, M., Schmidt, V. (2016). Predicting
   effective conductivities based on geometric microstructure characteristics. AIChE J. 62,
   1834-1843. https://doi.org/10.1002/aic.15160
.. [2] Naumann, J. et al. (2024). ACS Appl. Energy Mater. 7, 4786.
   https://doi.org/10.1021/acsaem.4c00505
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from microstructure.pipeline.stages import (
    Stage,
    StageContext,
    StageOutput,
    StageParams,
    param_default,
    register,
)
from microstructure.transport.formulas import bruggeman
from microstructure.transport.mfactor import m_factor
from microstructure.volume import Volume

_AXES = ("z", "y", "x")

#: ``descriptors = "auto"`` computes them up to this many voxels (the stage with them
#: ~30 B/voxel).
DESCRIPTORS_AUTO_MAX_VOXELS = 1 << 25


def _parse_axes(value: str | list[str]) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        key = str(item).strip().lower()
        if key == "all":
            out.extend(_AXES)
        elif key in _AXES or key == "thickness":
            out.append(key)
        else:
            raise ValueError(f"axes: unknown axis {item!r}; use z, y, x, thickness or all")
    if not out:
        raise ValueError("axes: give at least one axis")
    return list(dict.fromkeys(out))


class MFactorParams(StageParams):
    axes: str | list[str] = Field(
        "all",
        description="transport directions: z, y, x, thickness (the [electrode] thickness axis), "
        "all, or a list / comma-separated string of them",
    )
    phases: list[int] = Field(
        [int(p) for p in param_default(m_factor, "phases")],
        min_length=1,
        description="labels with the bulk diffusivity (pore, CBD pore)",
    )
    cbd_relative_diffusivity: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="D_cbd / D of the CBD solid (label 2) with unresolved nanoporosity; "
        "none or 0: insulating",
    )
    flux_tol: float = Field(
        param_default(m_factor, "flux_tol"),
        gt=0.0,
        lt=0.1,
        description="convergence: relative flux spread between planes",
    )
    bruggeman_exponent: float = Field(
        param_default(bruggeman, "exponent"), ge=1.0, description="exponent of the comparison"
    )
    descriptors: bool | Literal["auto"] = Field(
        "auto",
        description="also geodesic tortuosity, constrictivity (simulated MIP and local "
        "thickness) and the Stenzel et al. 2016 M-factor prediction; auto: up to "
        f"{DESCRIPTORS_AUTO_MAX_VOXELS} voxels (the stage with them ~30 bytes per voxel)",
    )

    @field_validator("axes")
    @classmethod
    def _axes_ok(cls, v: str | list[str]) -> str | list[str]:
        _parse_axes(v)
        return v

    @field_validator("phases")
    @classmethod
    def _phases_ok(cls, v: list[int]) -> list[int]:
        if any(p < 0 or p > 255 for p in v):
            raise ValueError(f"phases: labels must lie in 0..255, got {v}")
        return v


def _finite(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _descriptors(
    data: np.ndarray,
    vs: tuple[float, float, float],
    axis: str,
    phases: tuple[int, ...],
    m_sim: float,
    cache: dict[str, Any],
) -> dict[str, Any]:
    from microstructure.porosimetry import invasion_radius, local_thickness
    from microstructure.transport import transport_descriptors

    mask = np.isin(data, np.asarray(phases))
    if "r_max" not in cache:
        cache["r_max"] = local_thickness(mask, voxel_size_nm=vs)
    try:
        r_mip = invasion_radius(mask, voxel_size_nm=vs, inlet=f"{axis}-")
    except ValueError as exc:  # no pore on the inlet face
        return {"error": str(exc)}
    out = transport_descriptors(
        mask,
        voxel_size_nm=vs,
        axis=axis,
        mip_radius_nm=r_mip,
        granulometry_radius_nm=cache["r_max"],
        m_simulated=m_sim,
    )
    return out.to_dict()


_TABLE_COLUMNS = (
    "axis", "m_factor", "tortuosity_factor", "porosity", "effective_porosity",
    "percolating_fraction", "m_bruggeman", "m_hashin_shtrikman_upper",
    "geodesic_tortuosity", "constrictivity", "m_stenzel", "m_stenzel_simplified",
)  # fmt: skip


def _relative_diffusivity(
    params: MFactorParams, phases: tuple[int, ...]
) -> dict[int, float] | None:
    if not params.cbd_relative_diffusivity:
        return None
    if 2 in phases:
        raise ValueError("mfactor: cbd_relative_diffusivity given but label 2 (CBD) is in phases")
    return {2: params.cbd_relative_diffusivity}


def _porosity_and_bound(
    data: np.ndarray, phases: tuple[int, ...], rel: dict[int, float] | None
) -> tuple[float, float]:
    """Volume fraction of the transporting phases and the Hashin-Shtrikman upper bound (bulk
    phases at 1, the CBD at its relative diffusivity, the rest insulating)."""
    from microstructure.transport import formulas as F

    counts = np.bincount(data.ravel(), minlength=256) if data.dtype == np.uint8 else None
    n = data.size

    def frac(label: int) -> float:
        if counts is not None:
            return float(counts[label]) / n
        return float(np.count_nonzero(data == label)) / n

    eps = sum(frac(p) for p in phases)
    if eps <= 0:
        raise ValueError(f"mfactor: none of the phases {list(phases)} occurs in the labels volume")
    fr, sig = [eps], [1.0]
    if rel:
        fr.append(frac(2))
        sig.append(rel[2])
    fr.append(max(0.0, 1.0 - sum(fr)))
    sig.append(0.0)
    return eps, F.hashin_shtrikman_upper(np.array(fr) / sum(fr), sig)


def _descriptors_wanted(setting: bool | str, n_voxels: int) -> tuple[bool, str | None]:
    """Whether to compute the descriptors, and the note when ``auto`` skips them."""
    if setting != "auto":
        return bool(setting), None
    if n_voxels <= DESCRIPTORS_AUTO_MAX_VOXELS:
        return True, None
    return False, (
        f"descriptors skipped: {n_voxels} voxels > {DESCRIPTORS_AUTO_MAX_VOXELS} "
        "(descriptors = true forces them; ~30 bytes per voxel)"
    )


def _concentration_slice(res: Any, axis: str) -> tuple[np.ndarray, str, int]:
    """A slice of the concentration field containing the transport axis (cut across the next
    axis), for the figure."""
    cut = (_AXES.index(axis) + 1) % 3
    return np.take(res.concentration, res.concentration.shape[cut] // 2, axis=cut), axis, cut


def _add_row(
    rows: dict[str, list[Any]], axis: str, d: dict[str, Any], res: Any, desc: dict[str, Any]
) -> None:
    rows["axis"].append(axis)
    for key in ("m_factor", "porosity", "effective_porosity", "percolating_fraction"):
        rows[key].append(d[key])
    rows["tortuosity_factor"].append(
        res.tortuosity_factor if math.isfinite(res.tortuosity_factor) else float("nan")
    )
    rows["m_bruggeman"].append(d["m_bruggeman"])
    rows["m_hashin_shtrikman_upper"].append(d["m_hashin_shtrikman_upper"])
    for key in ("geodesic_tortuosity", "constrictivity", "m_stenzel", "m_stenzel_simplified"):
        v = desc.get(key)
        rows[key].append(float("nan") if v is None else float(v))


@register
class MFactorStage(Stage):
    name = "mfactor"
    summary = "M-factor and tortuosity factor per axis (diffusion solve), Bruggeman, Stenzel"
    Params = MFactorParams
    consumes = "labels"
    produces = "none"

    def run(self, volume: Volume, params: MFactorParams, ctx: StageContext) -> StageOutput:
        from microstructure.transport import NotPercolatingWarning
        from microstructure.transport.figure import plot_m_factor_axes

        vs = volume.require_voxel_size("the M-factor")
        data = np.asarray(volume.data)
        axes = [ctx.thickness_axis if a == "thickness" else a for a in _parse_axes(params.axes)]
        axes = list(dict.fromkeys(axes))
        phases = tuple(params.phases)
        rel = _relative_diffusivity(params, phases)
        eps, hs_upper = _porosity_and_bound(data, phases, rel)
        m_brugg = float(bruggeman(eps, exponent=params.bruggeman_exponent))
        rows: dict[str, list[Any]] = {k: [] for k in _TABLE_COLUMNS}
        do_desc, skipped = _descriptors_wanted(params.descriptors, data.size)
        per_axis: dict[str, Any] = {}
        conc_slice = None
        cache: dict[str, Any] = {}
        for i, axis in enumerate(ctx.progress_bar(axes, desc="M-factor")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotPercolatingWarning)
                res = m_factor(
                    data,
                    voxel_size_nm=vs,
                    axis=axis,
                    phases=phases,
                    relative_diffusivity=rel,
                    flux_tol=params.flux_tol,
                    return_field=(i == 0),
                )
            if res.concentration is not None:
                conc_slice = _concentration_slice(res, axis)
                res.concentration = None
            d = res.to_dict()
            d["m_bruggeman"] = m_brugg
            d["tortuosity_factor_bruggeman"] = float(eps ** (1.0 - params.bruggeman_exponent))
            d["m_over_bruggeman"] = res.m_factor / m_brugg if m_brugg > 0 else None
            d["m_hashin_shtrikman_upper"] = hs_upper
            desc: dict[str, Any] = {}
            if do_desc:
                desc = _descriptors(data, vs, axis, phases, res.m_factor, cache)
                if rel:
                    desc["note"] = "descriptors of the bulk phases only (the CBD is not counted)"
                d["descriptors"] = desc
            per_axis[axis] = d
            _add_row(rows, axis, d, res, desc)

        numbers: dict[str, Any] = {
            "phases": list(phases),
            "cbd_relative_diffusivity": params.cbd_relative_diffusivity,
            "porosity": eps,
            "bruggeman_exponent": params.bruggeman_exponent,
            "m_bruggeman": m_brugg,
            "m_hashin_shtrikman_upper": hs_upper,
            "axes": per_axis,
        }
        if skipped:
            numbers["descriptors_note"] = skipped
        perc = [per_axis[a]["m_factor"] for a in axes if per_axis[a]["percolating"]]
        numbers["m_factor_mean"] = float(np.mean(perc)) if perc else 0.0
        not_perc = [a for a in axes if not per_axis[a]["percolating"]]
        if not_perc:
            numbers["message"] = (
                f"phases {list(phases)} do not percolate along {', '.join(not_perc)}: M = 0 there"
            )
        plot_m_factor_axes(
            ctx.work_dir / "mfactor.png",
            {a: per_axis[a] for a in axes},
            concentration_slice=conc_slice,
            voxel_size_nm=vs,
        )
        table = {k: np.asarray(v) for k, v in rows.items()}
        return StageOutput(
            volume=None, numbers=numbers, tables={"mfactor": table}, figures=["mfactor.png"]
        )
