"""Measure the acquisition statistics of real FIB/SEM images that calibrate the phantom.

Reads the third-party images in ``../shared/validation/`` (see its MANIFEST.md) and prints:

* ``nanomesh_nanopores3d.npy`` (200^3 real EM volume): noise level (std in flat solid tiles,
  relative to the solid-pore contrast), the radially averaged noise power spectrum and the
  Gaussian noise-PSF sigma fitted to its fall-off, the ratio of noise power near Nyquist to
  power at low frequency, and the strength/width/tilt of its faint streaks;
* ``helios_slices/*.tif`` (three real FEI Helios slices): the drift between consecutive
  slices (``skimage.registration.phase_cross_correlation``), noise level and noise PSF,
  curtain tilt, width and strength, low-frequency shading amplitude.

and then measures the same statistics with the same code on the phantom's ``realistic``
preset (48 x 192 x 192, seed 0) for comparison.

Run: ``python benchmarks/calibrate_phantom.py`` (about a minute). The phantom's ``realistic``
preset (:data:`microstructure.phantom.params.PRESETS`) cites these numbers.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

VALIDATION = Path(__file__).resolve().parents[1] / ".." / "shared" / "validation"


def radial_psd(tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean 2D power spectrum of mean-free tiles (n, t, t), radially binned: (f cyc/px, psd)."""
    t = tiles.shape[-1]
    win = np.outer(np.hanning(t), np.hanning(t))
    x = (tiles - tiles.mean(axis=(1, 2), keepdims=True)) * win
    psd = (np.abs(np.fft.fft2(x)) ** 2).mean(axis=0) / (win**2).sum()
    f = np.fft.fftfreq(t)
    fr = np.hypot(f[:, None], f[None, :])
    bins = np.linspace(0.0, 0.5, 11)
    idx = np.digitize(fr, bins) - 1
    prof = np.array([psd[idx == i].mean() for i in range(10)])
    return 0.5 * (bins[1:] + bins[:-1]), prof


def fit_psf_sigma(f: np.ndarray, psd: np.ndarray) -> float:
    """Gaussian noise-PSF sigma (px) from log PSD = c - 4 pi^2 sigma^2 f^2 (0.05..0.45)."""
    sel = (f > 0.05) & (f < 0.45)
    slope = np.polyfit(f[sel] ** 2, np.log(psd[sel]), 1)[0]
    return math.sqrt(max(-slope, 0.0) / (4 * math.pi**2))


def flat_tiles(img: np.ndarray, mask: np.ndarray, t: int = 16, keep: float = 0.3) -> np.ndarray:
    """Tiles t x t fully inside ``mask`` with the weakest smoothed structure (``keep`` fraction)."""
    smooth = ndimage.gaussian_filter(img, 3.0)
    out, score = [], []
    for i in range(0, img.shape[0] - t + 1, t):
        for j in range(0, img.shape[1] - t + 1, t):
            if mask[i : i + t, j : j + t].all():
                out.append(img[i : i + t, j : j + t])
                score.append(smooth[i : i + t, j : j + t].std())
    if not out:
        return np.empty((0, t, t))
    order = np.argsort(score)[: max(1, int(len(score) * keep))]
    return np.array(out)[order]


def stripe_stats(img: np.ndarray) -> dict[str, float]:
    """Tilt (deg), width (px, FWHM of the autocorrelation) and std of vertical streaks."""
    hp = img - ndimage.gaussian_filter1d(img, 8.0, axis=1)
    ny = hp.shape[0]
    yy = np.arange(ny) - ny / 2
    best = (0.0, -1.0)
    for ang in np.arange(-5.0, 5.01, 0.1):
        sh = np.tan(np.radians(ang)) * yy
        sheared = np.array([ndimage.shift(hp[i], -sh[i], order=1) for i in range(ny)])
        v = sheared[:, 10:-10].mean(axis=0).var()
        if v > best[1]:
            best = (float(ang), float(v))
    sh = np.tan(np.radians(best[0])) * yy
    prof = np.array([ndimage.shift(hp[i], -sh[i], order=1) for i in range(ny)])[:, 10:-10]
    prof = prof.mean(axis=0)
    prof -= prof.mean()
    ac = np.correlate(prof, prof, "full")[prof.size - 1 :]
    ac /= ac[0]
    half = int(np.argmax(ac < 0.5)) if (ac < 0.5).any() else ac.size
    return {"tilt_deg": best[0], "width_px": 2.0 * half, "column_std": float(prof.std())}


def nanomesh() -> None:
    path = VALIDATION / "nanomesh_nanopores3d.npy"
    a = np.load(path).astype(np.float64)
    smooth = ndimage.gaussian_filter(a, 2.0)
    from skimage.filters import threshold_otsu

    thr = float(threshold_otsu(smooth))
    solid = smooth > thr
    contrast = a[solid].mean() - a[~solid].mean()
    print(f"== {path.name}: shape {a.shape}, otsu {thr:.1f}, contrast {contrast:.1f} grey")
    for ax in range(3):
        sl = np.moveaxis(a, ax, 0)
        ms = ndimage.binary_erosion(np.moveaxis(solid, ax, 0), iterations=2)
        tiles = np.concatenate([flat_tiles(sl[k], ms[k], t=12, keep=0.5) for k in range(0, 200, 5)])
        f, psd = radial_psd(tiles)
        sig = fit_psf_sigma(f, psd)
        noise = float(tiles.std(axis=(1, 2)).mean())
        print(
            f"  planes normal to axis {ax}: {len(tiles)} flat tiles, noise std {noise:.2f} grey"
            f" = {noise / 255:.4f} (0..1) = {noise / contrast:.3f} of contrast; "
            f"PSD(0.45)/PSD(0.05) {psd[-1] / psd[0]:.3f}; noise PSF sigma {sig:.2f} px"
        )
        print(
            "    radial PSD (f, log10):",
            " ".join(f"{x:.2f}:{np.log10(y):.2f}" for x, y in zip(f, psd, strict=True)),
        )
    for ax in range(3):
        st = [stripe_stats(np.moveaxis(a, ax, 0)[k]) for k in (50, 100, 150)]
        print(
            f"  streaks in planes normal to axis {ax}: tilt "
            f"{[round(s['tilt_deg'], 2) for s in st]} deg, width {[s['width_px'] for s in st]} px, "
            f"column std {[round(s['column_std'] / 255, 4) for s in st]} (0..1)"
        )


def helios() -> None:
    import tifffile
    from skimage.registration import phase_cross_correlation

    files = sorted((VALIDATION / "helios_slices").glob("*.tif"))
    imgs = [tifffile.imread(f).astype(np.float64) for f in files]
    print(f"== helios_slices: {len(imgs)} slices {imgs[0].shape}")
    roi = (slice(700, 1700), slice(300, 1400))  # the milled face (rows, cols)
    shifts = []
    for i in range(len(imgs) - 1):
        s, _, _ = phase_cross_correlation(imgs[i], imgs[i + 1], upsample_factor=20)
        shifts.append(s)
        print(f"  drift {files[i].name} -> {files[i + 1].name}: (dy, dx) = {s} px")
    d = np.diff(np.array(shifts), axis=0)
    print(f"  change of the per-slice step: {d[0]} px (random-walk step scale)")
    for k, img in enumerate(imgs):
        face = img[roi]
        mask = np.ones(face.shape, bool)
        tiles = flat_tiles(face, mask, t=32)
        f, psd = radial_psd(tiles)
        noise = float(tiles.std(axis=(1, 2)).mean())
        low = ndimage.gaussian_filter(face, 100.0)
        print(
            f"  slice {k + 1}: noise std {noise:.2f} grey = {noise / 255:.4f}, "
            f"PSD(0.45)/PSD(0.05) {psd[-1] / psd[0]:.3f}, noise PSF sigma "
            f"{fit_psf_sigma(f, psd):.2f} px; shading (smoothed 100 px) range "
            f"{(low.max() - low.min()) / face.mean():.3f} of the mean"
        )
    st = stripe_stats(imgs[0][roi][::2, :])  # every 2nd row: tilt doubled back below
    tilt = math.degrees(math.atan(math.tan(math.radians(st["tilt_deg"])) / 2.0))
    print(
        f"  curtains (slice 1 face): tilt {tilt:.2f} deg, width {st['width_px']:.0f} px, "
        f"column std {st['column_std'] / 255:.4f} (0..1)"
    )


def phantom() -> None:
    from skimage.filters import threshold_otsu
    from skimage.registration import phase_cross_correlation

    from microstructure.phantom import generate_phantom

    ph = generate_phantom((48, 192, 192), seed=0, preset="realistic")
    a = ph.image.astype(np.float64)
    smooth = ndimage.gaussian_filter(a, 2.0)
    solid = smooth > threshold_otsu(smooth)
    contrast = a[solid].mean() - a[~solid].mean()
    ms = ndimage.binary_erosion(solid, iterations=2)
    tiles = np.concatenate([flat_tiles(a[k], ms[k], t=12, keep=0.5) for k in range(0, 48, 2)])
    f, psd = radial_psd(tiles)
    noise = float(tiles.std(axis=(1, 2)).mean())
    print(f"== realistic phantom (48, 192, 192), seed 0, contrast {contrast:.1f} grey")
    print(
        f"  slices: {len(tiles)} flat tiles, noise std {noise:.2f} grey = {noise / 255:.4f} "
        f"= {noise / contrast:.3f} of contrast; PSD(0.45)/PSD(0.05) {psd[-1] / psd[0]:.3f}; "
        f"noise PSF sigma {fit_psf_sigma(f, psd):.2f} px"
    )
    st = stripe_stats(ph.curtain[24].astype(np.float64))
    print(
        f"  true curtain field: tilt {st['tilt_deg']:.2f} deg (set "
        f"{ph.params.curtain_tilt_deg}), width {st['width_px']:.0f} px, column std "
        f"{st['column_std']:.4f}"
    )
    steps = np.diff(ph.shifts_px, axis=0)
    found = [
        phase_cross_correlation(ph.stripe_free[z], ph.stripe_free[z + 1], upsample_factor=20)[0]
        for z in range(0, 47, 8)
    ]
    print(
        f"  drift: true step std (dy, dx) {steps.std(axis=0).round(2)} px, jumps at "
        f"{ph.truth['drift_jumps_at']}; phase correlation of neighbouring slices vs truth: "
        + ", ".join(
            f"{-np.asarray(g).round(2)} vs {steps[z].round(2)}"
            for g, z in zip(found, range(0, 47, 8), strict=True)
        )
    )


def main() -> int:
    if not VALIDATION.is_dir():
        print(f"validation data not found: {VALIDATION}")
        return 1
    nanomesh()
    helios()
    phantom()
    return 0


if __name__ == "__main__":
    sys.exit(main())
