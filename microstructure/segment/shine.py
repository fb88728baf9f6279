"""Shine-through (pore backs): material behind the section plane seen through the pores.

In FIB/SEM of a porous electrode the pores of slice ``k`` show the solid behind them, the one
the ion beam cuts only in a later slice ``k + d`` (milling direction +z). Its grey value fades
with the depth ``d`` (roughly ``exp(-d / lambda)``, a few slices), so the voxels just in front
of a particle are brighter than pore and a global threshold labels them solid (Beuse et al.
2021 [1]_ name this as the reason automatic segmentation of electrodes is hard).

Criterion (after the first-cut idea of Salzer et al. 2012 [2]_: a voxel belongs to the solid
from the slice where it is cut, i.e. where its grey value has risen to the solid's level; before
that it is the back of a pore): a threshold-solid voxel is a **pore back** when the grey value
of its own (y, x) column rises further within the next ``slices`` slices, by more than ``rise``
times the grey-value contrast (median above minus median below the threshold)::

    plateau(k) = max_{j = 1..slices} min(I(k + j), I(k + j + 1))
    pore back  = I(k) > t  and  plateau(k) - I(k) > rise * contrast

The plateau takes the lower of two consecutive slices, so a single noisy voxel does not make
one. Inside a particle the value stays level, at its end it falls, at a true cut it is already
the solid's value: none of them rises. Partial-volume voxels at particle rims, z blur and
in-plane edges rise as often towards +z as towards -z; pore backs only towards +z.

Detection (``pore_backs="auto"``): the **excess** = (forward-rising minus backward-rising
threshold-solid voxels) / threshold-solid voxels. Symmetric effects cancel; shine-through
leaves a positive excess. Detected when it exceeds :data:`SHINE_DETECTION_LIMIT` (measured:
0.002-0.003 on synthetic spheres without shine-through, with or without z blur; 0.017-0.047
with an attenuation length of 2-4 slices; tests/segment/test_shine_through.py) while at most
:data:`MAX_FORWARD_FRACTION` of the solid rises (more is a brightness trend along z, reported).
A clearly negative excess means the stack runs against the milling direction (reported, not
corrected).

Self-report (:func:`front_back_profile`, check ``shine_through_unhandled``): when a pore
back renders as bright as the solid (strong shine-through with bright pore backs), no rule on
a column's profile can place the first cut, and the excess above stays near 0 although the
AM fraction is too high. The population statistic that still sees it: the median pore grey
value ``FRONT_BACK_OFFSET`` slices in front of particle fronts minus behind particle backs.
Shine-through lights only the pores in front of uncut material; blur, partial volume and
rims are z-symmetric. Above :data:`FRONT_BACK_LIMIT` (times the contrast) and pore backs not
removed, the quality check fails. When it sees shine-through the segmentation trims the dim
fronts of the solid runs (:mod:`microstructure.segment.front_trim`, which takes most of the
bias; the pore backs one slice in front of a particle stay) and the check passes, with a
note of what was trimmed. What it cannot see: cracks and pores thinner than the
shine-through depth lit by their own back wall (on the realistic phantom's held-out seeds
the AM excess left after the trim is their volume, 0.003-0.019; none of the front/back
statistics tried correlates with it across seeds 1-12, |r| <= 0.5; front_trim's notes). That
excess came mostly from a rendering bug of the phantom (its shine-through lit the pore pixels
beside the solid); on the fixed phantom the AM error is within 0.01 on realistic seeds 1-16
but seed 9 (+0.016, its front/back asymmetry 0.0325 under the limit).

A slice-to-slice brightness drift or flicker would also make voxels rise: the median step
between consecutive slices (over voxels solid in both, :func:`slice_steps`) is removed first.

Everything is per voxel with ``slices + 1`` slices of z context, so the chunked path (Dask
``map_overlap`` with that halo) gives the same voxels and the same integer counts.

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. doi:10.3390/batteries7040070
.. [2] Salzer, M., Spettl, A., Stenzel, O., Smit, J.-H., Schmidt, V. (2012). A two-stage
   approach to the segmentation of FIB-SEM images of highly porous materials. *J. Microsc.*
   248, 161-171. doi:10.1111/j.1365-2818.2012.03626.x
.. [3] Prill, T., Schladitz, K., Jeulin, D., Faessel, M., Wieser, C. (2013). Morphological
   segmentation of FIB-SEM data of highly porous media. *J. Microsc.* 250, 77-87.
   doi:10.1111/jmi.12002
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "PORE_BACK_MODES",
    "DEFAULT_PORE_BACKS",
    "DEFAULT_PORE_BACK_SLICES",
    "DEFAULT_PORE_BACK_RISE",
    "SHINE_DETECTION_LIMIT",
    "grey_stats",
    "pore_back_codes",
    "slice_steps",
    "steps_level",
    "brightness_trend",
    "shine_through_info",
    "front_back_profile",
    "front_back_info",
    "FRONT_BACK_LIMIT",
    "closed_pore_backs_wanted",
]

#: values of the ``pore_backs`` option
PORE_BACK_MODES: tuple[str, ...] = ("auto", "off", "on")
#: remove pore backs when shine-through is detected (``"on"`` always, ``"off"`` never)
DEFAULT_PORE_BACKS = "auto"
#: slices ahead (+z) in which a pore back must reach the solid's grey value
DEFAULT_PORE_BACK_SLICES = 4
#: rise (times the grey-value contrast) that marks a pore back; 0.2 kept the AM fraction within
#: 1 % on synthetic spheres with attenuation lengths of 2-4 slices and noise 0.03-0.06 of a
#: contrast of 0.65 (tests/segment/test_shine_through.py)
DEFAULT_PORE_BACK_RISE = 0.2
#: excess of forward- over backward-rising solid voxels above which shine-through is detected
SHINE_DETECTION_LIMIT = 0.01
#: pore backs are a surface effect: when more than this fraction of the threshold-solid voxels
#: rises towards +z, the cause is a brightness trend along z (not detected as shine-through)
MAX_FORWARD_FRACTION = 0.3
#: half-width (times the contrast) of the band around the threshold counted as "near" it
NEAR_BAND = 0.1

#: slices between the pore voxel read and the first (last) solid voxel of a run along z
FRONT_BACK_OFFSET = 2
#: solid slices a run must have for its ends to count (particle fronts and backs, not specks)
FRONT_BACK_MIN_RUN = 3
#: front-minus-back pore grey value (times the contrast) above which shine-through is seen in
#: front of the solid. Measured after the default recipe's preprocessing (64 x 160 x 160,
#: docs/validation_segment.md): -0.01 to +0.015 on the default phantom and on the realistic one
#: with shine-through off (AM not biased by it), +0.0225 at half the realistic shine-through
#: (AM error +0.008), +0.05 to +0.135 on the realistic phantom (AM error +0.014 to +0.029).
#: Eighth session (the phantom's shine-through no longer lights pore pixels beside the solid):
#: default phantom seeds 1-12 -0.0025 to +0.020, realistic seeds 1-16 +0.0325 to +0.155. Realistic
#: seed 9 reads 0.0325 and is not trimmed (AM +0.016; trimmed +0.001), but the seed-000 twin's
#: phantom (half the shine-through, 37.2 nm slices) reads the same 0.0325 with no AM bias
#: (-0.0015 untrimmed, -0.0041 trimmed, and the shine-through steps cost 5x the stage at the
#: seed's size): the statistic cannot tell them apart there, and the limit stays 0.035
FRONT_BACK_LIMIT = 0.035
#: particle fronts and backs each needed before the asymmetry is read
FRONT_BACK_MIN_COUNT = 200
#: histogram of the pore grey values (times the contrast, from the pore median) used for the
#: medians: the same integer counts slab by slab as in memory
_PROFILE_RANGE, _PROFILE_BINS = (-1.0, 2.0), 1200

# bits of the per-voxel code
_SOLID, _FWD, _BWD = 1, 2, 4


def grey_stats(values: np.ndarray, t: float) -> dict[str, Any]:
    """Separability numbers of a threshold ``t`` from the grey-value sample ``values``.

    Returns ``class_medians`` (below, above ``t``), ``contrast`` (their difference),
    ``separability`` (Otsu's between-class over total variance at ``t``, 0..1: 1 for two
    sharp levels, 0.64 for one Gaussian mode, 0.75 for a flat histogram) and
    ``near_threshold_fraction`` (fraction of the values within ``NEAR_BAND`` x contrast of
    ``t``).
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    above = v > np.float32(t)
    n1 = int(np.count_nonzero(above))
    n0 = v.size - n1
    if n0 == 0 or n1 == 0:
        return {
            "class_medians": [None, None],
            "contrast": 0.0,
            "separability": 0.0,
            "near_threshold_fraction": 1.0,
        }
    lo, hi = float(np.median(v[~above])), float(np.median(v[above]))
    var = float(v.var())
    w0, w1 = n0 / v.size, n1 / v.size
    between = w0 * w1 * (float(v[above].mean()) - float(v[~above].mean())) ** 2
    contrast = hi - lo
    near = float(np.count_nonzero(np.abs(v - t) <= NEAR_BAND * contrast)) / v.size
    return {
        "class_medians": [lo, hi],
        "contrast": contrast,
        "separability": between / var if var > 0 else 0.0,
        "near_threshold_fraction": near,
    }


def _plateau_ahead(s: np.ndarray, slices: int) -> np.ndarray:
    """max over j = 1..slices of min(s[k + j], s[k + j + 1]) (-inf beyond the block's end)."""
    pair = s.copy()
    pair[:-1] = np.minimum(s[:-1], s[1:])
    out = np.full(s.shape, -np.inf, np.float32)
    for j in range(1, slices + 1):
        if j >= s.shape[0]:
            break
        np.maximum(out[:-j], pair[j:], out=out[:-j])
    return out


def steps_level(stats: dict[str, Any], t: float) -> float:
    """The grey value above which :func:`slice_steps` takes voxels: halfway between the
    threshold and the median of the solid, so pore backs (darker than the solid) rarely count.
    """
    hi = stats["class_medians"][1]
    return float(t) if hi is None else 0.5 * (float(t) + float(hi))


def slice_steps(block: np.ndarray, *, level: float) -> np.ndarray:
    """Brightness step between consecutive slices: for each pair (z, z + 1) of ``block`` the
    median of ``I(z + 1) - I(z)`` over the voxels above ``level`` in both (NaN where there
    are none); float64, ``len(block) - 1`` values. Those are the solid's bright interior (pore
    backs are darker), so this is the slice-to-slice brightness drift or flicker (measured
    bias from shine-through: 0.001 per slice at a contrast of 0.65)."""
    a = np.asarray(block).astype(np.float32, copy=False)
    tf = np.float32(level)
    out = np.full(max(0, a.shape[0] - 1), np.nan, np.float64)
    for z in range(out.size):
        both = (a[z] > tf) & (a[z + 1] > tf)
        if both.any():
            out[z] = float(np.median(a[z + 1][both] - a[z][both]))
    return out


def brightness_trend(steps: np.ndarray) -> np.ndarray:
    """Per-slice brightness offsets (float32, shape (nz, 1, 1)) from the steps of
    :func:`slice_steps` of the whole stack; subtracted before looking for rises."""
    trend = np.concatenate([[0.0], np.cumsum(filled_steps(steps))])
    return trend.astype(np.float32)[:, None, None]


def filled_steps(steps: np.ndarray) -> np.ndarray:
    """The steps of :func:`slice_steps` with the unknown ones (no bright voxel in both slices)
    set to the median of the known ones (the drift goes on; 0 when none is known)."""
    st = np.asarray(steps, np.float64).copy()
    known = np.isfinite(st)
    st[~known] = float(np.median(st[known])) if known.any() else 0.0
    return st


def pore_back_codes(
    block: np.ndarray, trend: np.ndarray, *, t: float, delta: float, slices: int
) -> np.ndarray:
    """Per voxel bits: 1 = above ``t`` (threshold solid), 2 = rises by more than ``delta``
    within ``slices`` slices towards +z (a pore back), 4 = the same towards -z (uint8).
    ``trend``: the block's slices of :func:`brightness_trend`, removed before the rises.

    Every voxel needs ``slices + 1`` slices on each side; at the block's ends the window is
    cut (as at the stack's ends), so a block with that halo gives the in-memory codes."""
    raw = np.asarray(block).astype(np.float32, copy=False)
    code = (raw > np.float32(t)).astype(np.uint8)
    s = raw - np.asarray(trend, np.float32)
    d = np.float32(delta)
    fwd = (_plateau_ahead(s, slices) - s) > d
    bwd = (_plateau_ahead(s[::-1], slices)[::-1] - s) > d
    code |= (fwd & (code == 1)).astype(np.uint8) * _FWD
    code |= (bwd & (code & 1).astype(bool)).astype(np.uint8) * _BWD
    return code


def front_back_profile(
    block: np.ndarray,
    trend: np.ndarray,
    *,
    t: float,
    lo: float,
    contrast: float,
    core: tuple[int, int] | None = None,
) -> np.ndarray:
    """Histograms (int64, shape (2, bins)) of the pore grey value ``FRONT_BACK_OFFSET`` slices
    in front of each particle front (row 0) and behind each particle back (row 1).

    A front is a threshold-solid voxel whose column is not solid in the slice before and stays
    solid for ``FRONT_BACK_MIN_RUN`` slices; a back the same towards -z. Values are
    ``(I - trend - lo) / contrast``. Shine-through lights the pore in front of material not yet
    cut (the material is behind it), not the pore behind material already milled away, so the
    front median exceeds the back median; z-symmetric effects (blur, partial volume, rims)
    cancel. ``core`` = (z0, z1): only runs whose end
    lies in block slices z0..z1 - 1 count (a slab with a halo of ``max(FRONT_BACK_OFFSET,
    FRONT_BACK_MIN_RUN)`` slices gives the in-memory counts)."""
    raw = np.asarray(block).astype(np.float32, copy=False)
    s = raw - np.asarray(trend, np.float32)
    a = raw > np.float32(t)
    nz = a.shape[0]
    c0, c1 = (0, nz) if core is None else (int(core[0]), int(core[1]))
    off, run = FRONT_BACK_OFFSET, FRONT_BACK_MIN_RUN
    out = np.zeros((2, _PROFILE_BINS), np.int64)
    z0, z1 = max(c0, off, 1), min(c1, nz - run + 1)  # fronts at z
    if z1 > z0:
        cond = ~a[z0 - 1 : z1 - 1]
        for j in range(run):
            cond &= a[z0 + j : z1 + j]
        out[0] = _profile_hist(s[z0 - off : z1 - off][cond], lo, contrast)
    z0, z1 = max(c0, run - 1), min(c1, nz - off)  # backs at z
    if z1 > z0:
        cond = ~a[z0 + 1 : z1 + 1]
        for j in range(run):
            cond &= a[z0 - j : z1 - j]
        out[1] = _profile_hist(s[z0 + off : z1 + off][cond], lo, contrast)
    return out


def _profile_hist(values: np.ndarray, lo: float, contrast: float) -> np.ndarray:
    v = (values.astype(np.float64) - float(lo)) / max(float(contrast), 1e-12)
    np.clip(v, _PROFILE_RANGE[0], _PROFILE_RANGE[1], out=v)
    return np.histogram(v, bins=_PROFILE_BINS, range=_PROFILE_RANGE)[0].astype(np.int64)


def _hist_median(h: np.ndarray) -> float:
    n = int(h.sum())
    k = int(np.searchsorted(np.cumsum(h), (n + 1) / 2.0))
    width = (_PROFILE_RANGE[1] - _PROFILE_RANGE[0]) / _PROFILE_BINS
    return float(_PROFILE_RANGE[0] + (k + 0.5) * width)


def front_back_info(profile: np.ndarray) -> dict[str, Any]:
    """The shine-through seen in front of the solid from :func:`front_back_profile`'s
    histograms: medians in front and behind (times the contrast), their difference
    ``front_back_asymmetry`` and ``seen_in_front`` (above :data:`FRONT_BACK_LIMIT`)."""
    h = np.asarray(profile, np.int64)
    n_front, n_back = int(h[0].sum()), int(h[1].sum())
    enough = min(n_front, n_back) >= FRONT_BACK_MIN_COUNT
    front = _hist_median(h[0]) if enough else None
    back = _hist_median(h[1]) if enough else None
    asym = front - back if enough else 0.0  # type: ignore[operator]
    return {
        "front_back_statistic": f"median pore grey value {FRONT_BACK_OFFSET} slices in front "
        f"of particle fronts minus behind particle backs (x contrast; runs >= "
        f"{FRONT_BACK_MIN_RUN} slices)",
        "particle_fronts": n_front,
        "particle_backs": n_back,
        "front_pore_grey": front,
        "back_pore_grey": back,
        "front_back_asymmetry": float(asym),
        "front_back_limit": FRONT_BACK_LIMIT,
        "seen_in_front": bool(enough and asym > FRONT_BACK_LIMIT),
    }


def closed_pore_backs_wanted(shine: dict[str, Any]) -> bool:
    """Whether the lit backs of the closed pores are completed
    (:mod:`microstructure.segment.closed_backs`) and the lit fronts of the solid trimmed
    (:mod:`microstructure.segment.front_trim`) for a segmentation's ``shine_through``
    description: pore backs not switched off, shine-through seen in front of the solid and
    not removed by the z-profile rule (whose rise criterion already takes the lit backs)."""
    return (
        shine.get("pore_backs") != "off"
        and bool(shine.get("seen_in_front"))
        and not shine.get("removed")
    )


def code_counts(code: np.ndarray) -> tuple[int, int, int]:
    """(threshold-solid, forward-rising, backward-rising) voxel counts of a code block."""
    return (
        int(np.count_nonzero(code & _SOLID)),
        int(np.count_nonzero(code & _FWD)),
        int(np.count_nonzero(code & _BWD)),
    )


def is_pore_back(code: Any) -> Any:
    """The pore-back mask of a code array (numpy or Dask)."""
    return (code & _FWD) > 0


def check_pore_back_options(mode: str, slices: int, rise: float) -> None:
    """ValueError for a bad ``pore_backs`` mode, window or rise."""
    if mode not in PORE_BACK_MODES:
        raise ValueError(f"pore_backs: expected one of {', '.join(PORE_BACK_MODES)}, got {mode!r}")
    if isinstance(slices, bool) or int(slices) != slices or not 1 <= int(slices) <= 64:
        raise ValueError(f"pore_back_slices: expected an integer 1..64, got {slices!r}")
    r = float(rise)
    if not (np.isfinite(r) and r > 0):
        raise ValueError(f"pore_back_rise: expected a fraction > 0 of the contrast, got {rise!r}")


def shine_through_info(
    counts: tuple[int, int, int],
    *,
    n_voxels: int,
    mode: str,
    contrast: float,
    slices: int,
    rise: float,
    steps: np.ndarray,
    profile: np.ndarray,
) -> dict[str, Any]:
    """The JSON description of the detection and whether the pore backs are removed
    (``steps``: :func:`slice_steps` of the stack; ``profile``: the summed histograms of
    :func:`front_back_profile`)."""
    n_solid, n_fwd, n_bwd = counts
    filled = filled_steps(steps)
    excess = (n_fwd - n_bwd) / n_solid if n_solid else 0.0
    fwd_fraction = n_fwd / n_solid if n_solid else 0.0
    trend = excess > SHINE_DETECTION_LIMIT and fwd_fraction > MAX_FORWARD_FRACTION
    detected = excess > SHINE_DETECTION_LIMIT and not trend
    applied = mode == "on" or (mode == "auto" and detected)
    return {
        "pore_backs": mode,
        "detected": bool(detected),
        "statistic": "excess of forward- over backward-rising threshold-solid voxels",
        "excess": float(excess),
        "detection_limit": SHINE_DETECTION_LIMIT,
        "forward_rising_fraction": fwd_fraction,
        "z_trend_suspected": bool(trend),
        "backward_rising_fraction": n_bwd / n_solid if n_solid else 0.0,
        "reversed_direction_suspected": bool(-excess > SHINE_DETECTION_LIMIT),
        "removed": bool(applied),
        "removed_voxels": int(n_fwd) if applied else 0,
        "removed_fraction": n_fwd / max(1, int(n_voxels)) if applied else 0.0,
        "window_slices": int(slices),
        "rise": float(rise),
        "rise_grey": float(rise) * float(contrast),
        "slice_brightness_step_rms": float(np.sqrt(np.mean(np.square(filled))))
        if filled.size
        else 0.0,
        "slice_brightness_drift": float(np.sum(filled)),
        **front_back_info(profile),
    }


#: the separability (Otsu's between-class over total variance) a threshold must reach
MIN_SEPARABILITY = 0.8
#: the largest fraction of voxels allowed within ``NEAR_BAND`` x contrast of the threshold
MAX_NEAR_THRESHOLD = 0.10
#: the largest share of backward- over forward-rising voxels when pore backs were removed
MAX_SYMMETRIC_SHARE = 0.85
#: the largest fraction of voxels that may still change phase in the last local-means pass
#: (measured on the real nanopore volume after 10 passes: 0.0021 with the default 4-voxel
#: Gaussian; on its 64 x 128 x 128 corner 0.0025, and 0.009 / 0.013 with 2 / 1.5 voxels, where
#: the boundary still moves; synthetic blurred spheres: 0)
MAX_REFINE_CHANGE = 0.005


def segment_quality(info: dict[str, Any]) -> dict[str, Any]:
    """The segment stage's quality block (:func:`microstructure.quality.quality_block`) from
    the description of a segmentation: threshold separability, voxels near the threshold,
    whether a local-means refinement settled, shine-through left in the mask and, when pore
    backs were removed, how much of the removal z-symmetric effects explain."""
    from microstructure.quality import check, quality_block

    checks: dict[str, Any] = {}
    notes: list[str] = []
    stats = info.get("grey_stats")
    if stats is not None:
        checks["threshold_separability"] = check(
            stats["separability"],
            MIN_SEPARABILITY,
            below=False,
            meaning="between-class over total grey-value variance at the threshold (1 = two "
            "sharp levels, 0.64 = one Gaussian mode)",
        )
        checks["near_threshold_fraction"] = check(
            stats["near_threshold_fraction"],
            MAX_NEAR_THRESHOLD,
            meaning=f"fraction of voxels within {NEAR_BAND:g} x contrast of the threshold "
            "(their phase is uncertain)",
        )
    refine = info.get("refine") or {}
    if refine.get("method") == "local-means" and "changed_fraction" in refine:
        checks["refine_converged"] = check(
            refine["changed_fraction"],
            MAX_REFINE_CHANGE,
            meaning="fraction of voxels that still changed phase in the last local-means pass "
            "(the boundary has not settled between two grey levels)",
        )
    shine = info.get("shine_through") or {}
    if "excess" in shine:
        checks["shine_through_left"] = check(
            0.0 if shine["removed"] else shine["excess"],
            SHINE_DETECTION_LIMIT,
            meaning="excess of +z- over -z-rising solid voxels left in the mask (pore backs "
            "seen through pores, labelled solid; 0 when removed)",
        )
        trimmed = bool((shine.get("front_trim") or {}).get("applied"))
        if "front_back_asymmetry" in shine:
            checks["shine_through_unhandled"] = check(
                0.0 if shine["removed"] or trimmed else shine["front_back_asymmetry"],
                FRONT_BACK_LIMIT,
                meaning="pore grey value in front of particle fronts minus behind particle "
                "backs (x contrast): shine-through lighting the pores in front of uncut "
                "material, whose pore backs stay labelled solid (0 when removed or the lit "
                "fronts trimmed)",
            )
            if shine["seen_in_front"] and not shine["removed"] and not trimmed:
                notes.append(
                    f"shine-through seen in front of the solid (pores "
                    f"{shine['front_back_asymmetry']:.2f} x contrast brighter in front of "
                    "particles than behind them) but not removed: pore backs are labelled "
                    "solid, the AM fraction is too high and closed pores are lost"
                )
        if shine["removed"]:
            fwd = shine["forward_rising_fraction"]
            checks["pore_back_symmetric_share"] = check(
                shine["backward_rising_fraction"] / fwd if fwd > 0 else 0.0,
                MAX_SYMMETRIC_SHARE,
                meaning="-z- over +z-rising solid voxels: share of the removed pore backs that "
                "z-symmetric blur or rims explain (real material removed)",
            )
            notes.append(
                f"shine-through detected (excess {shine['excess']:.3f} > "
                f"{shine['detection_limit']:g}): {shine['removed_voxels']} pore-back voxels "
                f"({shine['removed_fraction']:.1%} of the volume) relabelled pore"
                if shine["detected"]
                else f"pore backs removed although not detected (pore_backs = 'on'; excess "
                f"{shine['excess']:.3f})"
            )
        if shine["reversed_direction_suspected"]:
            notes.append(
                f"shine-through seen towards -z (excess {shine['excess']:.3f}): the stack may "
                "run against the milling direction; reverse it to correct pore backs"
            )
        if shine.get("z_trend_suspected"):
            notes.append(
                f"{shine['forward_rising_fraction']:.0%} of the solid voxels brighten towards "
                "+z: a brightness trend along z, not shine-through (pore backs not removed)"
            )
        notes.extend(_closed_back_notes(shine.get("closed_pore_backs"), trimmed=trimmed))
        ft = shine.get("front_trim") or {}
        if ft and not trimmed:
            notes.append(str(ft.get("note", "lit particle fronts not trimmed")))
        if trimmed:
            notes.append(
                f"shine-through seen in front of the solid (pores "
                f"{shine['front_back_asymmetry']:.2f} x contrast brighter in front of particles "
                f"than behind them): {ft['trimmed_voxels']} voxels "
                f"({ft['trimmed_fraction']:.2%} of the volume) at the fronts of the solid runs "
                f"below grey {ft['front_level']:.3f} relabelled pore (at most "
                f"{ft['max_slices']} slices per run); pore backs one slice in front of a "
                "particle and cracks or pores thinner than the shine-through depth, lit by "
                "the wall behind them, render as bright as the cut and stay solid: the AM "
                "fraction is too high by their volume, which the image does not show"
            )
    elif "note" in shine:
        notes.append(shine["note"])
    return quality_block(checks, notes)


def _closed_back_notes(closed: dict[str, Any] | None, *, trimmed: bool = False) -> list[str]:
    """The report's note on the completion of the closed pores' lit backs (``trimmed``: the
    lit particle fronts were trimmed too, with a note of their own)."""
    if not closed:
        return []
    if not closed.get("applied"):
        return [str(closed.get("note", "closed pores' lit backs not completed"))]
    fronts = "" if trimmed else "; the pore backs in front of the particles stay labelled solid"
    return [
        f"closed pores completed through their lit backs: {closed['relabelled_voxels']} "
        f"voxels ({closed['relabelled_fraction']:.2%} of the volume) relabelled pore "
        f"(closed-pore voxels before: {closed['closed_pore_voxels_before']}){fronts}; "
        "the closed porosity stays uncertain under shine-through: small closed pores are lit "
        "by their own back wall (on the realistic phantom 0.5-0.65 of the true closed-pore "
        "voxels are found and the completed pores are a voxel too wide; found / true 0.56-1.34 "
        "on 16 seeds)"
    ]
