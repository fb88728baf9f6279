"""Generation of the phantom: geometry, then ideal rendering, then acquisition, then truth.

Each stage draws from its own random stream (a :class:`numpy.random.SeedSequence` of the seed
spawned into eight), so switching one artefact off leaves the others unchanged.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from microstructure.phantom.acquisition import _acquire, _add_noise, _curtain_field, drift_shifts
from microstructure.phantom.artefacts import (
    charging_field,
    dense_curtain_field,
    drift_jumps,
    shading_field,
    slice_positions,
)
from microstructure.phantom.geometry import Geometry, _closed_pores, build_geometry, make_canvas
from microstructure.phantom.params import (
    DEFAULT_SHAPE,
    DEFAULT_VOXEL_SIZE_NM,
    PHANTOM_FORMAT_VERSION,
    PRESETS,
    PhantomParams,
)
from microstructure.phantom.rendering import _render
from microstructure.phantom.result import Phantom
from microstructure.volume import parse_voxel_size

__all__ = ["generate_phantom", "phantom_memory_bytes", "check_phantom_memory"]

#: peak bytes per canvas voxel of :func:`generate_phantom` (numpy allocations, tracemalloc):
#: 23.1 at 80 x 128 x 128, 23.6 at 64 x 96 x 96 (canvas incl. margins); 26 measured for a
#: 481 x 395 x 650 volume (4.5 GB). The larger value is used for the estimate.
PHANTOM_BYTES_PER_CANVAS_VOXEL = 26.0
#: a phantom is refused when its estimate exceeds this share of the available memory
PHANTOM_MEMORY_SHARE = 0.9

# the random streams, in the order they are spawned from the seed
# (new streams are appended: spawning more children leaves the first ones unchanged)
_STREAMS = (
    "pack",
    "part",
    "cbd",
    "tex",
    "curt",
    "drift",
    "noise",
    "fill",
    "jump",
    "jitter",
    "shade",
    "charge",
    "dcurt",
)


def _check_inputs(
    shape: Any,
    voxel_size_nm: Any,
    seed: Any,
    params: Any,
    overrides: dict[str, Any],
    preset: str = "default",
) -> tuple[tuple[int, int, int], tuple[float, float, float], PhantomParams]:
    """Validated (shape, voxel size nm, parameters with the overrides applied)."""
    try:
        shp = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape: expected three integers (z, y, x), got {shape!r}") from None
    if len(shp) != 3 or any(s != t for s, t in zip(shp, shape, strict=False)):
        raise ValueError(f"shape: expected three integers (z, y, x), got {shape!r}")
    if min(shp) < 8:
        raise ValueError(f"shape: every axis needs at least 8 voxels, got {shp}")
    vox_nm = parse_voxel_size(voxel_size_nm, name="voxel_size_nm")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ValueError(f"preset: unknown phantom preset {preset!r}; known: {', '.join(PRESETS)}")
    if params is None:
        params = PhantomParams.preset(preset)
    elif preset != "default":
        raise ValueError(f"preset: give either params or preset={preset!r}, not both")
    elif not isinstance(params, PhantomParams):
        raise ValueError(f"params: expected a PhantomParams, got {type(params).__name__}")
    if overrides:
        known = {f.name for f in dataclasses.fields(PhantomParams)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown phantom parameter")
        params = dataclasses.replace(params, **overrides)

    return shp, vox_nm, params


def phantom_memory_bytes(shape: Any, params: PhantomParams | None = None) -> int:
    """Estimated peak memory (bytes) of :func:`generate_phantom` for ``shape`` (z, y, x):
    ``PHANTOM_BYTES_PER_CANVAS_VOXEL`` times the canvas (volume plus margins, no drift)."""
    p = params if params is not None else PhantomParams.preset("default")
    shp = tuple(int(n) for n in shape)
    cv = make_canvas(shp, (1.0, 1.0, 1.0), p)  # type: ignore[arg-type]
    return int(PHANTOM_BYTES_PER_CANVAS_VOXEL * math.prod(cv.cshape))


def check_phantom_memory(shape: Any, params: PhantomParams | None = None) -> None:
    """One-line ``ValueError`` (naming ``shape``, the estimate and the available memory) when
    a phantom of ``shape`` would not fit in the machine's available memory."""
    import psutil

    need = phantom_memory_bytes(shape, params)
    avail = int(psutil.virtual_memory().available)
    if need > PHANTOM_MEMORY_SHARE * avail:
        raise ValueError(
            f"shape: a phantom of {tuple(int(n) for n in shape)} voxels needs about "
            f"{need / 2**30:.1f} GiB, more than the {avail / 2**30:.1f} GiB of memory available "
            "on this machine; choose a smaller shape"
        )


def generate_phantom(
    shape: tuple[int, int, int] = DEFAULT_SHAPE,
    *,
    voxel_size_nm: Any = DEFAULT_VOXEL_SIZE_NM,
    seed: int = 0,
    params: PhantomParams | None = None,
    preset: str = "default",
    **overrides: Any,
) -> Phantom:
    """Generate a synthetic FIB/SEM stack of a battery cathode with its ground truth.

    Parameters
    ----------
    shape
        (z, y, x) voxels of the truth volume, each >= 8. z is the FIB slice direction, y the
        electrode thickness (separator side at y = 0).
    voxel_size_nm
        Voxel size in nm, one value or (z, y, x). Default 60 nm (the bundled sample).
    seed
        Seed of every random choice; the same seed and parameters give identical arrays.
    params
        A :class:`PhantomParams`; keyword ``overrides`` replace individual fields
        (e.g. ``curtain_strength=0``, ``target_am_fraction=0.6``).
    preset
        Named parameter set when ``params`` is None: ``"default"`` (the bundled sample's
        phantom) or ``"realistic"`` (every acquisition effect on, calibrated on real images;
        see :data:`microstructure.phantom.params.PRESETS`). Overrides apply on top.

    Returns
    -------
    Phantom
        Acquired image, labels, intermediate renderings, masks, shifts and ``truth``.

    Raises
    ------
    ValueError
        For a bad shape, voxel size, seed, preset or parameter (one line naming it), or a
        shape whose memory estimate (:func:`phantom_memory_bytes`) exceeds the available memory.

    Notes
    -----
    Peak memory is about 26 bytes per canvas voxel (the canvas is the volume plus
    ``canvas_margin_px``): 4.5 GB measured for a 481 x 395 x 650 volume (the scale of the
    FIB/SEM data of Beuse et al. 2021, doi:10.3390/batteries7040070).
    """
    shp, vox_nm, p = _check_inputs(shape, voxel_size_nm, seed, params, overrides, preset)
    check_phantom_memory(shp, p)  # refuse before allocating, not with a MemoryError later
    streams = np.random.SeedSequence(int(seed)).spawn(len(_STREAMS))
    rngs = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, streams, strict=True)}
    nz, ny, nx = shp
    sin_t = math.sin(math.radians(p.tilt_angle_deg)) if p.tilt else 1.0
    ny_acq = max(8, int(round(ny * sin_t))) if p.tilt else ny
    shifts, jump_at, reach = _drift(nz, p, rngs, sin_t)
    cv = make_canvas(shp, vox_nm, p, drift_px=reach)
    geo = build_geometry(cv, p, rngs)

    # ---- rendering of the ideal image on the canvas, then the truth-frame arrays
    clean_c = _render(geo.labels, geo.owner, p, vox_nm, rngs["tex"])
    crop = cv.crop
    labels = np.ascontiguousarray(geo.labels[crop])
    clean = np.ascontiguousarray(clean_c[crop])
    crack_mask = np.ascontiguousarray(geo.cracks[crop] & (labels == 0))
    particle_ids = np.ascontiguousarray(geo.owner[crop])
    positions = slice_positions(nz, cv.cshape[0], p, rngs["jitter"])
    sectioned = _sectioned(geo.labels, positions, crop) if p.slice_jitter > 0 else None
    geo.labels = geo.owner = geo.cracks = None  # free the canvas arrays
    closed = _closed_pores(labels)

    # ---- acquisition: drift, tilt, shading, charging, curtains, noise
    acq = _acquisition(clean_c, cv.margin, shp, ny_acq, sin_t, shifts, positions, p, rngs)
    del clean_c

    # ---- truth summary
    particles = _particle_list(geo, particle_ids)
    acq_vox = (vox_nm[0], vox_nm[1], vox_nm[2])  # the microscope's pixel pitch, uncorrected
    truth = _truth_summary(
        seed=int(seed),
        p=p,
        geo=geo,
        vox_nm=vox_nm,
        acquired_shape=[nz, ny_acq, nx],
        acq_vox=acq_vox,
        labels=labels,
        closed=closed,
        crack_mask=crack_mask,
        particles=particles,
        shifts=shifts,
        sin_t=sin_t,
        out_of_canvas=acq["outside"],
        stripes=acq["stripes"],
    )
    truth.update(_realistic_truth(p, preset, acq, jump_at, vox_nm))
    return Phantom(
        image=acq["image"],
        labels=labels,
        clean=clean,
        stripe_free=acq["stripe_free"],
        curtain=acq["curtain"],
        closed_pores=closed,
        cracks=crack_mask,
        particle_ids=particle_ids,
        shifts_px=shifts,
        voxel_size_nm=vox_nm,
        acquired_voxel_size_nm=acq_vox,
        particles=particles,
        params=p,
        truth=truth,
        shading=acq["shading"],
        charging=acq["charging"],
        slice_positions_px=positions,
        labels_sectioned=sectioned,
    )


def _drift(
    nz: int, p: PhantomParams, rngs: dict[str, np.random.Generator], sin_t: float
) -> tuple[np.ndarray, list[int], float]:
    """Per-slice shifts (random walk + trend + jumps), the jump slices and the reach to cover.

    The reach (truth pixels) widens the automatic canvas margin only when the jump switch is on
    (then the drifted edges keep real structure; the wider canvas changes the packing), so the
    default phantom keeps its canvas and geometry.
    """
    jumps, jump_at = drift_jumps(nz, p, rngs["jump"])
    shifts = drift_shifts(nz, p, rngs["drift"]) + jumps
    on = p.drift_jump_probability > 0 and p.drift_jump_px > 0
    reach = float(np.abs(shifts / np.array([sin_t, 1.0])).max()) if on else 0.0
    return shifts, jump_at, reach


def _sectioned(canvas_labels: np.ndarray, positions: np.ndarray, crop: tuple) -> np.ndarray:
    """The labels each acquired slice really cuts (nearest canvas slice to its true z)."""
    planes = canvas_labels[np.rint(positions).astype(int)]
    return np.ascontiguousarray(planes[:, crop[1], crop[2]])


def _acquisition(
    clean_c: np.ndarray,
    margin: tuple[int, int, int],
    shp: tuple[int, int, int],
    ny_acq: int,
    sin_t: float,
    shifts: np.ndarray,
    positions: np.ndarray,
    p: PhantomParams,
    rngs: dict[str, np.random.Generator],
) -> dict[str, Any]:
    """The acquired stack and the true artefact fields (each effect only when switched on)."""
    nz, ny, nx = shp
    jittered = p.slice_jitter > 0
    stripe_free, outside = _acquire(
        clean_c, shifts, ny, ny_acq, margin[1:], sin_t, positions if jittered else None
    )
    shading = charging = None
    if p.shading_amplitude > 0 or p.depth_gradient != 0:
        shading = shading_field(ny_acq, nx, p, rngs["shade"])
        stripe_free *= shading[None]
        np.clip(stripe_free, 0.0, 1.0, out=stripe_free)
    if p.charging_strength > 0:
        charging = charging_field(stripe_free, p, rngs["charge"])
        stripe_free += charging
        np.clip(stripe_free, 0.0, 1.0, out=stripe_free)
    curtain, stripes = _curtain_field(nz, ny_acq, nx, p, rngs["curt"])
    dense: list[dict[str, Any]] = []
    if p.dense_curtain_strength > 0:
        field_, dense = dense_curtain_field(stripe_free[nz // 2], nz, p, rngs["dcurt"])
        curtain += field_
        del field_
    if p.curtain_frame == "sample":
        curtain = _with_the_sample(curtain, shifts, nz // 2)
    noisy_in = stripe_free + curtain
    np.clip(noisy_in, 0.0, 1.0, out=noisy_in)
    image = _add_noise(noisy_in, p, rngs["noise"])
    return {
        "image": image,
        "stripe_free": stripe_free,
        "curtain": curtain,
        "stripes": stripes,
        "dense_stripes": dense,
        "shading": shading,
        "charging": charging,
        "positions": positions,
        "outside": outside,
    }


def _with_the_sample(curtain: np.ndarray, shifts: np.ndarray, ref: int) -> np.ndarray:
    """The curtain field moved slice by slice with the drift (relative to slice ``ref``, on
    whose content the dense curtains' origins were placed): curtains cut into the face."""
    from scipy import ndimage

    out = np.empty_like(curtain)
    for k in range(curtain.shape[0]):
        d = np.asarray(shifts[k], dtype=np.float64) - np.asarray(shifts[ref], dtype=np.float64)
        out[k] = ndimage.shift(curtain[k], d, order=3, mode="nearest")
    return out


def _realistic_truth(
    p: PhantomParams,
    preset: str,
    acq: dict[str, Any],
    jump_at: list[int],
    vox_nm: tuple[float, float, float],
) -> dict[str, Any]:
    """``truth.json`` entries of the realistic acquisition effects and the switches used."""
    pos = acq["positions"]
    shading = acq["shading"]
    return {
        "preset": preset,
        "switches": p.switches(),
        "slice_positions_px": np.round(pos, 6).tolist(),
        "slice_positions_nm": np.round(pos * vox_nm[0], 3).tolist(),
        "drift_jumps_at": jump_at,
        "dense_curtain": {
            "n_stripes": len(acq["dense_stripes"]),
            "tilt_deg": p.curtain_tilt_deg,
            "stripes": acq["dense_stripes"],
        },
        "shading": None
        if shading is None
        else {
            "min": round(float(shading.min()), 6),
            "max": round(float(shading.max()), 6),
            "depth_gradient": p.depth_gradient,
        },
        "curtain_energy": round(float(np.mean(acq["curtain"].astype(np.float64) ** 2)), 9),
    }


def _particle_list(geo: Geometry, particle_ids: np.ndarray) -> list[dict[str, Any]]:
    """One dict per particle with voxels in the field of view (truth frame, um)."""
    radii, centers = geo.radii, geo.centers
    ids_count = np.bincount(particle_ids.ravel(), minlength=radii.size + 1)
    f_scale = np.array([geo.bulge_zx, geo.flattening_y, geo.bulge_zx]) * geo.radius_scale
    particles = []
    for i in range(radii.size):
        if ids_count[i + 1] == 0:
            continue
        particles.append(
            {
                "id": i + 1,
                "center_um": [round(float(v), 5) for v in centers[i]],
                "diameter_um": round(float(2 * radii[i]), 5),
                "radii_um": [round(float(radii[i] * s), 5) for s in f_scale],
                "cracked": bool(geo.cracked[i]),
                "closed_pores": int(geo.n_pores[i]),
                "filler": bool(geo.fillers[i]),
                "voxels": int(ids_count[i + 1]),
            }
        )
    return particles


def _truth_summary(
    *,
    seed: int,
    p: PhantomParams,
    geo: Geometry,
    vox_nm: tuple[float, float, float],
    acquired_shape: list[int],
    acq_vox: tuple[float, float, float],
    labels: np.ndarray,
    closed: np.ndarray,
    crack_mask: np.ndarray,
    particles: list[dict[str, Any]],
    shifts: np.ndarray,
    sin_t: float,
    out_of_canvas: bool,
    stripes: list[dict[str, Any]],
) -> dict[str, Any]:
    """The JSON-ready ``truth.json`` content."""
    from microstructure import __version__

    n_total = geo.canvas.n_total
    counts = np.bincount(labels.ravel(), minlength=4)
    fractions = {
        name: float(counts[v]) / n_total for v, name in ((0, "pore"), (1, "am"), (2, "cbd"))
    }
    return {
        "version": PHANTOM_FORMAT_VERSION,
        "microstructure_version": __version__,
        "seed": seed,
        "shape": list(geo.canvas.shape),
        "voxel_size_nm": list(vox_nm),
        "acquired_shape": acquired_shape,
        "acquired_voxel_size_nm": list(acq_vox),
        "axes": "zyx",
        "thickness_axis": "y",
        "top_at": 0,
        "intensity_scale": "image = round(255 * intensity), intensities 0..1",
        "phase_codes": {"pore": 0, "am": 1, "cbd": 2},
        "phase_fractions": fractions,
        "porosity": fractions["pore"],
        "closed_porosity": float(np.count_nonzero(closed)) / n_total,
        "crack_porosity": float(np.count_nonzero(crack_mask)) / n_total,
        "am_fraction_target": p.target_am_fraction,
        "am_fraction_achieved": fractions["am"],
        "cbd_fraction_target": p.cbd_fraction,
        "radius_scale": geo.radius_scale,
        "calendering": {
            "calender_ratio": p.calender_ratio,
            "particle_flattening_y": geo.flattening_y,
            "particle_bulge_zx": geo.bulge_zx,
        },
        "packing": {**geo.pack_stats, "n_filler": int(geo.n_filler)},
        "n_particles": len(particles),
        "n_cracked": int(sum(1 for q in particles if q["cracked"])),
        "particles": particles,
        "shifts_px": np.round(shifts, 6).tolist(),
        "shifts_true_px": np.round(shifts / np.array([sin_t, 1.0]), 6).tolist(),
        "shift_convention": "content of acquired slice z is displaced by +(dy, dx) px "
        "relative to the true geometry; slice 0 is (0, 0)",
        "drift_exceeds_canvas": bool(out_of_canvas),
        "tilt": {
            "enabled": p.tilt,
            "angle_deg": p.tilt_angle_deg if p.tilt else None,
            "y_scale": sin_t,
            "corrected": False,
        },
        "curtain": {"n_stripes": len(stripes), "stripes": stripes},
        "canvas_margin_px": list(geo.canvas.margin),
        "params": p.to_dict(),
    }
