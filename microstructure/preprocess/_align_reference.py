"""A static reference region for slice alignment (``roi="auto"`` of
:func:`microstructure.preprocess.align_slices_report`).

In slice-and-view the sectioned structure changes from slice to slice, so registering on it
makes errors of its own that accumulate along the stack; practice registers on something that
does not change with depth: the protective cap deposited over the region of interest, lines
milled into it along the slicing direction, the trench edges. Such a region keeps its
correlation between slices far apart, the structure loses it. After a first registration on
the whole field, the slices moved back by the positions found are band-passed and compared at
distance 1 and at distance ``REFERENCE_DISTANCE`` (up to ``REFERENCE_PAIRS`` evenly spaced
pairs each; band-pass ``REFERENCE_BANDPASS_PX``, coarser than the registration's, so the error
of the first positions does not hide the static band); per band of ``REFERENCE_BAND_PX``
rows (and of columns) the normalised correlation at the long distance must be at least
``REFERENCE_MIN_CORR`` and at least ``REFERENCE_KEEP`` of the one at distance 1. The
largest run of such rows or columns that reaches an edge of the field (a cap, a trench
wall; inside the field a large particle can pass the test), at least
``REFERENCE_MIN_RUN_PX`` long and widened by half a band on each side so the edge that
bounds it is kept, inside the region every slice
covers) becomes the registration region, and the slices are registered on it again
starting from the first positions; none found, the whole field is used and the report
says so.

References
----------
Guizar-Sicairos, M., Thurman, S. T. and Fienup, J. R. (2008). Efficient subpixel image
registration algorithms. Opt. Lett. 33, 156-158. doi:10.1364/OL.33.000156
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage

from microstructure.preprocess._registration import _dog_transfer, common_region

__all__ = [
    "REFERENCE_DISTANCE",
    "REFERENCE_PAIRS",
    "REFERENCE_BAND_PX",
    "REFERENCE_BANDPASS_PX",
    "REFERENCE_MIN_CORR",
    "REFERENCE_KEEP",
    "REFERENCE_MIN_RUN_PX",
    "REFERENCE_AXIS_SNR",
    "REFERENCE_AXIS_SHARE",
    "static_region",
    "region_axes",
    "reference_crop",
    "drop_reference_band",
]

#: slice distance at which a static region must still correlate
REFERENCE_DISTANCE = 8
#: evenly spaced slice pairs per distance
REFERENCE_PAIRS = 6
#: rows (columns) averaged into one correlation value
REFERENCE_BAND_PX = 8
#: (fine, coarse) band-pass sigmas (px) of the comparison: coarser than the registration's,
#: so the first positions' error (a few px, from the structure) does not hide a static band
REFERENCE_BANDPASS_PX = (2.0, 10.0)
#: smallest correlation at ``REFERENCE_DISTANCE``
REFERENCE_MIN_CORR = 0.5
#: shortest run of static rows (columns) accepted, before widening by half a band per side
REFERENCE_MIN_RUN_PX = 12
#: smallest ratio of the correlation at ``REFERENCE_DISTANCE`` to that at distance 1
REFERENCE_KEEP = 0.8
#: slices averaged into the static image of a found region (:func:`region_axes`)
REFERENCE_AXIS_SLICES = 16
#: smallest ratio of the static image's gradient energy along an axis to what the slices'
#: changing content leaves in a mean of that many slices: below it the region does not fix
#: that axis (a smooth cap: Pt grain drawn anew per slice, edges only along x; on the
#: realistic phantom with a 24-row cap, seeds 1-3: x 1.8-5.8 without milled marks, 77-235
#: with them; y 16-55 from the cap/structure interface)
REFERENCE_AXIS_SNR = 8.0
#: ... and smallest share of the other axis's static gradient energy (the same cases: x/y
#: 0.04-0.17 without marks, 1.4-3.7 with them)
REFERENCE_AXIS_SHARE = 0.25


def _moved_back(sl: Any, shift: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """Band-passed slice moved back by ``shift`` (Fourier shift, periodic)."""
    img = np.asarray(sl.compute() if hasattr(sl, "compute") else sl, dtype=np.float32)
    ny, nx = img.shape
    f = np.fft.rfft2(img) * _dog_transfer((ny, nx), float(band[0]), float(band[1]))
    ky = np.fft.fftfreq(ny)[:, None]
    kx = np.fft.rfftfreq(nx)[None, :]
    f = f * np.exp(2j * np.pi * (ky * float(shift[0]))).astype(np.complex64)
    f = f * np.exp(2j * np.pi * (kx * float(shift[1]))).astype(np.complex64)
    return np.fft.irfft2(f, s=(ny, nx))


def _comparison_band(band: tuple[float, float]) -> tuple[float, float]:
    """The registration's band-pass widened to at least ``REFERENCE_BANDPASS_PX``."""
    return (
        max(float(band[0]), REFERENCE_BANDPASS_PX[0]),
        max(float(band[1]), REFERENCE_BANDPASS_PX[1]),
    )


def _profiles(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised correlation of ``a`` and ``b`` per band of rows and per band of columns."""
    out = []
    for axis in (1, 0):  # sum along x -> a value per row; along y -> per column
        ab = ndimage.uniform_filter1d((a * b).sum(axis=axis), REFERENCE_BAND_PX)
        aa = ndimage.uniform_filter1d((a * a).sum(axis=axis), REFERENCE_BAND_PX)
        bb = ndimage.uniform_filter1d((b * b).sum(axis=axis), REFERENCE_BAND_PX)
        out.append(ab / np.sqrt(np.maximum(aa * bb, 1e-30)))
    return out[0], out[1]


def _longest_run(ok: np.ndarray) -> tuple[int, int]:
    """Half-open (start, stop) of the longest run of True in ``ok`` that reaches to within
    ``REFERENCE_BAND_PX`` of either end ((0, 0) when none): a cap or a trench wall lies at an
    edge of the field, while a band inside it is a persistent piece of structure (a large
    particle stays correlated over 8 slices; a 42-column band at 0.79 on the realistic
    phantom with a bright cap outscored the cap)."""
    best, start, n = (0, 0), None, len(ok)
    for i, v in enumerate(np.append(ok, False)):
        if v and start is None:
            start = i
        elif not v and start is not None:
            edge = start <= REFERENCE_BAND_PX or i >= n - REFERENCE_BAND_PX
            if edge and i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return best


def static_region(
    arr: Any, positions: np.ndarray, band: tuple[float, float]
) -> tuple[tuple[float, float, float, float] | None, dict[str, Any]]:
    """The static band of rows or columns to register on (y0, y1, x0, x1 in slice 0's frame,
    None when there is none) and the detection report; ``band`` is the registration's
    band-pass, widened to at least ``REFERENCE_BANDPASS_PX`` for the comparison."""
    band = _comparison_band(band)
    nz, ny, nx = (int(s) for s in arr.shape)
    info: dict[str, Any] = {"requested": "auto", "found": False}
    dist = min(REFERENCE_DISTANCE, nz - 1)
    if dist < 2:
        info["note"] = "fewer than 3 slices: no static region can be told from the structure"
        return None, info
    r = common_region(positions, (ny, nx))
    y0, y1 = max(0, math.ceil(r[0])), min(ny, math.floor(r[0] + r[1]) + 1)
    x0, x1 = max(0, math.ceil(r[2])), min(nx, math.floor(r[2] + r[3]) + 1)
    if min(y1 - y0, x1 - x0) < 16:
        info["note"] = "the region every slice covers is under 16 px"
        return None, info
    starts = np.unique(np.linspace(0, nz - 1 - dist, min(REFERENCE_PAIRS, nz - dist)).round())
    cache: dict[int, np.ndarray] = {}

    def get(k: int) -> np.ndarray:
        if k not in cache:
            cache[k] = _moved_back(arr[k], positions[k], band)[y0:y1, x0:x1]
        return cache[k]

    prof = {1: [np.zeros(y1 - y0), np.zeros(x1 - x0)], dist: [np.zeros(y1 - y0), np.zeros(x1 - x0)]}
    for i in starts.astype(int):
        for d in (1, dist):
            row, col = _profiles(get(i), get(i + d))
            prof[d][0] += row / len(starts)
            prof[d][1] += col / len(starts)
    best: tuple[float, float, float, float] | None = None
    for axis, off, name in ((0, y0, "rows"), (1, x0, "columns")):
        c1, cd = prof[1][axis], prof[dist][axis]
        ok = (cd >= REFERENCE_MIN_CORR) & (cd >= REFERENCE_KEEP * c1)
        a, b = _longest_run(ok)
        info[f"correlation_{name}_median"] = [float(np.median(c1)), float(np.median(cd))]
        if b - a < REFERENCE_MIN_RUN_PX:
            continue
        # the band filter blurs the run's ends by half a band: keep the edge that bounds it
        # (e.g. the cap/structure interface, the only y information of vertical marks)
        hi = (y1, x1)[axis] - off
        a, b = max(0, a - REFERENCE_BAND_PX // 2), min(hi, b + REFERENCE_BAND_PX // 2)
        cand = (off + a, off + b, x0, x1) if axis == 0 else (y0, y1, off + a, off + b)
        area = (cand[1] - cand[0]) * (cand[3] - cand[2])
        if best is None or area > (best[1] - best[0]) * (best[3] - best[2]):
            best = tuple(float(v) for v in cand)  # type: ignore[assignment]
            info.update(
                found=True,
                axis=name,
                region=[float(v) for v in cand],
                correlation_at_distance=[float(c1[a:b].mean()), float(cd[a:b].mean())],
            )
    info["distance"] = int(dist)
    if best is None:
        info["note"] = (
            f"no band of >= {REFERENCE_MIN_RUN_PX} rows or columns keeps a correlation >= "
            f"{REFERENCE_MIN_CORR} over {dist} slices: registered on the whole field (the "
            "structure)"
        )
    return best, info


def region_axes(
    arr: Any,
    positions: np.ndarray,
    region: tuple[float, float, float, float],
    band: tuple[float, float],
) -> dict[str, Any]:
    """Which axes a static region fixes: ``{"informative": [y, x], ...}``.

    A protective cap without milled marks is static and edged along x only (its top and its
    interface with the structure): registered on it, y is right and x is whatever the Pt
    grain gives (2-5 px RMS off on the realistic phantom). The slices (up to
    ``REFERENCE_AXIS_SLICES``, evenly spaced) are band-passed, moved back by ``positions``
    and cut to ``region``; their mean is the static image. An axis is informative when the
    static image's gradient energy along it is at least ``REFERENCE_AXIS_SNR`` times the
    slices' deviation from the mean divided by the number of slices (what a mean of
    changing content keeps) and at least ``REFERENCE_AXIS_SHARE`` of the other axis's.
    """
    band = _comparison_band(band)
    nz = int(arr.shape[0])
    y0, y1, x0, x1 = (int(round(float(v))) for v in region)
    ks = np.unique(np.linspace(0, nz - 1, min(nz, REFERENCE_AXIS_SLICES)).round().astype(int))
    cut = np.stack([_moved_back(arr[k], positions[k], band)[y0:y1, x0:x1] for k in ks])
    static = cut.mean(axis=0)
    dev = cut - static
    energy = [float(np.mean(np.diff(static, axis=a) ** 2)) for a in (0, 1)]
    noise = [float(np.mean(np.diff(dev, axis=a + 1) ** 2)) / len(ks) for a in (0, 1)]
    snr = [e / max(n, 1e-30) for e, n in zip(energy, noise, strict=True)]
    share = [energy[0] / max(energy[1], 1e-30), energy[1] / max(energy[0], 1e-30)]
    ok = [bool(snr[a] >= REFERENCE_AXIS_SNR and share[a] >= REFERENCE_AXIS_SHARE) for a in (0, 1)]
    return {
        "informative": ok,
        "static_gradient_snr": [round(v, 2) for v in snr],
        "static_gradient_share": [round(v, 3) for v in share],
        "slices": int(len(ks)),
    }


def reference_crop(
    found: dict[str, Any], positions: np.ndarray, applied: np.ndarray, crop: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The output ``crop`` without the static reference band when it lies at an edge.

    A cap found by ``roi="auto"`` is not sample: it lies at the top (or another edge) of
    every slice, and a segmentation would take the Pt for solid. ``found`` is the
    ``reference_region`` report (``axis`` and ``region`` in slice 0's frame); a band that
    starts within ``REFERENCE_BAND_PX`` of an edge of the kept output (in every slice) is cut
    off together with the rows it was widened by. Returns the new crop (the input crop when
    nothing is dropped) and what was done (``dropped`` rows/columns, or a note why not).
    """
    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    app = np.asarray(applied, dtype=np.float64).reshape(-1, 2)
    axis = 0 if found.get("axis") == "rows" else 1
    name = ("y", "x")[axis]
    lo_r, hi_r = (float(v) for v in found["region"][2 * axis : 2 * axis + 2])
    # output coordinate of a slice-0 frame coordinate in slice i: c - p_i + applied_i
    off = app[:, axis] - pos[:, axis]
    lo, hi = (int(v) for v in crop[name])
    start, stop = lo_r + float(off.min()), hi_r + float(off.max())
    new = (lo, hi)
    if start <= lo + REFERENCE_BAND_PX:
        new = (max(lo, math.ceil(stop - 1e-6)), hi)
    elif stop >= hi - REFERENCE_BAND_PX:
        new = (lo, min(hi, math.floor(start + 1e-6)))
    else:
        return crop, {"dropped": 0, "note": "the reference band is inside the field: kept"}
    if new[1] - new[0] < max(2, (hi - lo) // 4):
        return crop, {"dropped": 0, "note": "the reference band covers most of the field: kept"}
    out = {**crop, name: [int(new[0]), int(new[1])]}
    return out, {"dropped": int((hi - lo) - (new[1] - new[0])), "dropped_axis": name}


def drop_reference_band(aligned: Any, positions: np.ndarray, info: dict[str, Any]) -> Any:
    """``aligned`` (numpy or lazy) without the reference band found at its edge
    (:func:`reference_crop`); ``info["crop"]`` and ``info["reference_region"]`` updated."""
    ref = info.get("reference_region") or {}
    if not ref.get("found") or not info["crop"].get("cropped"):
        return aligned
    old = info["crop"]
    new, what = reference_crop(ref, positions, info["applied_shifts_px"], old)
    ref.update(what)
    if new is old:
        return aligned
    (y0, y1), (x0, x1) = new["y"], new["x"]
    (oy, _), (ox, _) = old["y"], old["x"]
    info["crop"] = {**new, "before_reference_drop": {"y": old["y"], "x": old["x"]}}
    cut = aligned[:, y0 - oy : y1 - oy, x0 - ox : x1 - ox]
    return cut if hasattr(cut, "compute") else np.ascontiguousarray(cut)
