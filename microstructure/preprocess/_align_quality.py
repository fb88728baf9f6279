"""How well an alignment worked: the drift removed and kept, the trend geometry explains, and
the residual shift between aligned neighbours re-measured on the output (the quality block of
:func:`microstructure.preprocess.align_slices_report`).

Geometry of the face recession: milling a slice of thickness ``t`` moves the cross-section
face by ``t`` along its normal; the SEM, at ``tilt_deg`` (52 deg on most dual-beam
instruments) to the FIB column, sees that normal at ``90 - tilt_deg`` deg, so the face moves
by ``t cos(tilt)`` along y in the image, ``t cos(tilt) / sin(tilt)`` once y was stretched by
``1 / sin(tilt)`` (tilt correction). Any other drift is stage/beam drift to be removed.

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

from microstructure.preprocess._align_uncertainty import MAX_DRIFT_UNCERTAINTY_PX
from microstructure.quality import check, quality_block

__all__ = [
    "MAX_RESIDUAL_PX",
    "MAX_UNEXPLAINED_TREND_PX",
    "RESIDUAL_PAIRS",
    "face_recession_nm_per_slice",
    "residual_index",
    "residual_shifts",
    "drift_numbers",
    "expected_trend",
    "add_quality",
]

#: largest residual shift between aligned neighbours (re-measured on the output), px
MAX_RESIDUAL_PX = 0.5
#: largest kept drift over the whole stack that the given geometry does not explain, px
MAX_UNEXPLAINED_TREND_PX = 1.0
#: evenly spaced neighbour pairs of the output the residual is re-measured on
RESIDUAL_PAIRS = 6
#: the residual is re-measured to 1 / this px
RESIDUAL_UPSAMPLE = 10


def face_recession_nm_per_slice(
    slice_thickness_nm: float, tilt_deg: float, *, tilt_corrected: bool = True
) -> float:
    """Apparent y shift (nm, in the stack's y units) of the cross-section per slice from the
    face recession: ``t cos(tilt)``, over ``sin(tilt)`` when y was stretched by
    ``1 / sin(tilt)`` (``tilt_corrected``)."""
    t, a = float(slice_thickness_nm), math.radians(float(tilt_deg))
    if not (t > 0 and 0 < a < math.pi / 2):
        raise ValueError(
            f"slice_thickness_nm/tilt_deg: need > 0 and 0 < tilt < 90 deg, got "
            f"{slice_thickness_nm!r}, {tilt_deg!r}"
        )
    dy = t * math.cos(a)
    return dy / math.sin(a) if tilt_corrected else dy


def residual_index(nz: int) -> np.ndarray:
    """First slices ``k`` of the output pairs ``(k, k+1)`` the residual is measured on."""
    if nz < 2:
        return np.zeros(0, dtype=int)
    return np.unique(np.linspace(0, nz - 2, min(nz - 1, RESIDUAL_PAIRS)).round().astype(int))


def _prepared(img: np.ndarray) -> np.ndarray:
    """Slightly smoothed (1 px), mean-removed and Tukey-windowed slice: the crop edge, the
    same in every output slice, would otherwise pull every measurement towards 0."""
    im = ndimage.gaussian_filter(np.asarray(img, dtype=np.float64), 1.0)
    im = im - im.mean()
    return im * np.outer(_tukey(im.shape[0]), _tukey(im.shape[1]))


def _tukey(n: int, alpha: float = 0.3) -> np.ndarray:
    """Tukey window (as :func:`scipy.signal.windows.tukey`, without importing scipy.signal)."""
    if n < 2:
        return np.ones(n)
    x = np.arange(n, dtype=np.float64) / (n - 1)
    w = np.ones(n)
    edge = alpha / 2.0
    lo, hi = x < edge, x > 1.0 - edge
    w[lo] = 0.5 * (1.0 + np.cos(np.pi * (x[lo] / edge - 1.0)))
    w[hi] = 0.5 * (1.0 + np.cos(np.pi * ((x[hi] - 1.0) / edge + 1.0)))
    return w


def residual_shifts(slices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) displacements of slice ``2i+1`` relative to slice ``2i`` of ``slices`` (pairs of
    neighbouring output slices) by :func:`skimage.registration.phase_cross_correlation`
    (1/10 px) of the windowed slices: plain correlation of the smoothed images (robust to
    noise; the check) and phase-normalised (whitened; reported alongside)."""
    from skimage.registration import phase_cross_correlation

    plain, phase = [], []
    for i in range(0, len(slices) - 1, 2):
        a, b = _prepared(slices[i]), _prepared(slices[i + 1])
        if not (np.std(a) > 0 and np.std(b) > 0):
            plain.append([0.0, 0.0])
            phase.append([0.0, 0.0])
            continue
        fa, fb = np.fft.fft2(a), np.fft.fft2(b)
        for norm, out in ((None, plain), ("phase", phase)):
            shift, _, _ = phase_cross_correlation(
                fa, fb, space="fourier", upsample_factor=RESIDUAL_UPSAMPLE, normalization=norm
            )
            out.append([-float(shift[0]), -float(shift[1])])  # skimage: shift to register b
    return (
        np.asarray(plain, dtype=np.float64).reshape(-1, 2),
        np.asarray(phase, dtype=np.float64).reshape(-1, 2),
    )


def _unexplained(trend: np.ndarray, expected_px: np.ndarray | None, keep_trend: bool) -> float:
    """Kept drift over the stack (px) beyond the expected linear trend: per axis the slope in
    excess of the expected magnitude times the stack length plus the non-linear part."""
    nz = trend.shape[0]
    if not keep_trend or nz < 2:
        return 0.0
    idx = np.arange(nz, dtype=np.float64)
    worst = 0.0
    for k in range(2):
        slope, icpt = np.polyfit(idx, trend[:, k], 1)
        exp = 0.0 if expected_px is None else abs(float(expected_px[k]))
        nonlin = float(np.abs(trend[:, k] - (slope * idx + icpt)).max())
        worst = max(worst, max(0.0, abs(float(slope)) - exp) * (nz - 1) + nonlin)
    return worst


def drift_numbers(
    positions: np.ndarray,
    trend: np.ndarray,
    residual: np.ndarray,
    residual_pairs: np.ndarray,
    *,
    residual_phase: np.ndarray | None = None,
    keep_trend: bool,
    expected_nm: tuple[float, float] | None,
    expected_source: str | None,
    pixel_nm: tuple[float, float] | None,
    uncertainty_px: float | None = None,
) -> dict[str, Any]:
    """The drift removed and kept, the residual and the ``quality`` block (JSON-ready);
    ``uncertainty_px`` (the tile-spread estimate of :mod:`._align_uncertainty`, None when it
    could not be made) is checked against ``MAX_DRIFT_UNCERTAINTY_PX``."""
    applied = positions - trend
    mag = np.sqrt(np.sum(applied**2, axis=1))
    nz = positions.shape[0]
    idx = np.arange(nz, dtype=np.float64)
    kept = [float(np.polyfit(idx, trend[:, k], 1)[0]) if nz > 1 else 0.0 for k in range(2)]
    # the kept trend stays in the output: the residual is what remains beyond it
    steps = trend[residual_pairs + 1] - trend[residual_pairs] if len(residual_pairs) else None
    res = residual - steps if steps is not None else residual
    res_mag = np.sqrt(np.sum(res**2, axis=1)) if len(res) else np.zeros(0)
    if residual_phase is not None and len(residual_phase):
        rp = residual_phase - steps if steps is not None else residual_phase
        phase_max = float(np.sqrt(np.sum(rp**2, axis=1)).max())
    else:
        phase_max = 0.0
    out: dict[str, Any] = {
        "drift_removed_rms_px": float(np.sqrt(np.mean(mag**2))) if nz else 0.0,
        "drift_removed_max_px": float(mag.max()) if nz else 0.0,
        "drift_kept_px_per_slice": kept,
        "residual_shift_px": res.tolist(),
        "residual_pairs": [[int(k), int(k) + 1] for k in residual_pairs],
        "residual_max_px": float(res_mag.max()) if len(res_mag) else 0.0,
        "residual_max_phase_normalised_px": phase_max,
    }
    notes: list[str] = []
    expected_px = None
    if pixel_nm is not None:
        out["drift_removed_rms_nm"] = out["drift_removed_rms_px"] * float(np.mean(pixel_nm))
        out["drift_kept_nm_per_slice"] = [kept[0] * pixel_nm[0], kept[1] * pixel_nm[1]]
        if expected_nm is not None:
            expected_px = np.array(
                [expected_nm[0] / pixel_nm[0], expected_nm[1] / pixel_nm[1]], dtype=np.float64
            )
    if expected_nm is not None:
        out["expected_trend_nm_per_slice"] = [float(expected_nm[0]), float(expected_nm[1])]
        out["expected_trend_source"] = expected_source
        if pixel_nm is None and keep_trend:
            notes.append("expected trend given in nm but the pixel size is unknown: not compared")
    checks: dict[str, Any] = {}
    if len(res_mag):
        checks["residual_shift_px"] = check(
            out["residual_max_px"],
            MAX_RESIDUAL_PX,
            meaning="largest shift between aligned neighbours beyond the kept trend, "
            "re-measured by phase correlation",
        )
    if uncertainty_px is not None:
        checks["drift_uncertainty_px"] = check(
            float(uncertainty_px),
            MAX_DRIFT_UNCERTAINTY_PX,
            meaning="RMS uncertainty of the slice positions (spread of independent "
            "registrations of disjoint tiles): error the changing structure puts into the drift",
        )
        if pixel_nm is not None:
            out["drift_uncertainty_nm"] = float(uncertainty_px) * float(np.mean(pixel_nm))
    elif nz > 2:
        notes.append(
            "drift uncertainty not estimated: the registration region holds fewer than 2 tiles "
            "of >= 16 px"
        )
    if keep_trend:
        unexplained = _unexplained(trend, expected_px, keep_trend)
        out["kept_trend_unexplained_px"] = unexplained
        checks["kept_trend_unexplained_px"] = check(
            unexplained,
            MAX_UNEXPLAINED_TREND_PX,
            meaning="drift kept over the stack that the given geometry does not explain",
        )
        if expected_nm is None:
            notes.append(
                f"a trend of {kept[0]:.3g}, {kept[1]:.3g} px/slice (y, x) was kept with no "
                "geometry to explain it: give expected_trend_nm_per_slice or "
                "slice_thickness_nm and tilt_deg, or keep_trend=false"
            )
    out["quality"] = quality_block(checks, notes)
    return out


def expected_trend(
    expected_nm: Any, thickness_nm: float | None, tilt_deg: float | None, corrected: bool
) -> tuple[tuple[float, float], str] | None:
    """The trend geometry explains, (dy, dx) nm per slice, and where it came from."""
    if expected_nm is not None:
        try:
            dy, dx = (float(v) for v in expected_nm)
        except (TypeError, ValueError):
            raise ValueError(
                f"expected_trend_nm_per_slice: expected (dy, dx) numbers, got {expected_nm!r}"
            ) from None
        return (dy, dx), "expected_trend_nm_per_slice"
    if thickness_nm is None and tilt_deg is None:
        return None
    if thickness_nm is None or tilt_deg is None:
        raise ValueError(
            "slice_thickness_nm/tilt_deg: give both for the face-recession trend, got "
            f"{thickness_nm!r}, {tilt_deg!r}"
        )
    dy = face_recession_nm_per_slice(thickness_nm, tilt_deg, tilt_corrected=corrected)
    return (dy, 0.0), (
        f"face recession: {thickness_nm:g} nm slices at {tilt_deg:g} deg"
        f"{' (y tilt-corrected)' if corrected else ''}"
    )


def add_quality(
    aligned: Any,
    positions: np.ndarray,
    info: dict[str, Any],
    keep_trend: bool,
    expected: tuple[tuple[float, float], str] | None,
    voxel_size_nm: Any,
    region: Any = None,
) -> None:
    """Re-measure neighbours of the output (on ``region``, the registration region in slice
    0's frame, when one was given or found) and add the drift numbers and ``quality``."""
    ks = residual_index(int(aligned.shape[0]))
    take = np.ravel(np.column_stack([ks, ks + 1])) if len(ks) else np.zeros(0, dtype=int)
    sub = aligned[take] if len(take) else np.zeros((0,) + tuple(aligned.shape[1:]))
    if region is not None and len(take):
        (cy, _), (cx, _) = info["crop"]["y"], info["crop"]["x"]
        y0, y1 = max(0, math.ceil(region[0]) - cy), math.floor(region[1]) - cy
        x0, x1 = max(0, math.ceil(region[2]) - cx), math.floor(region[3]) - cx
        if min(y1 - y0, x1 - x0) >= 16:  # else the whole output
            sub = sub[:, y0:y1, x0:x1]
    sub = np.asarray(sub.compute() if hasattr(sub, "compute") else sub)
    pixel = None
    if voxel_size_nm is not None:
        from microstructure.volume import parse_voxel_size

        vs = parse_voxel_size(voxel_size_nm)
        pixel = (float(vs[1]), float(vs[2]))
    plain, phase = residual_shifts(sub)
    info.update(
        drift_numbers(
            positions,
            np.asarray(info["trend_px"], dtype=np.float64).reshape(-1, 2),
            plain,
            ks,
            residual_phase=phase,
            keep_trend=keep_trend,
            expected_nm=None if expected is None else expected[0],
            expected_source=None if expected is None else expected[1],
            pixel_nm=pixel,
            uncertainty_px=info.get("drift_uncertainty_px"),
        )
    )
