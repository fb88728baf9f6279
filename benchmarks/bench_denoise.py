"""Denoising on band-limited, correlated noise: NLM variants, the z-aware mode and BM3D.

    python benchmarks/bench_denoise.py [--parts phantom,nanomesh,throughput] [--no-bm3d]

``phantom``: the ``realistic`` phantom (32 x 160 x 160, seeds 1-3; band-limited noise of std
0.073) scored against its noise-free rendering (``Phantom.noise_free``): PSNR, mean SSIM per
slice, PSNR in the edge band (the 10 % of pixels with the strongest noise-free gradient: blur
shows here), edge energy kept (gradient energy of the 2 px smoothed output over that of the
noise-free rendering in the edge band), the stage's reported ``noise_reduction_factor`` and the
true one (noise std before/after in the input's flat pixels), CPU seconds (one thread).
Methods: ``nlm slices`` (the previous default: 2D NLM, patch from the correlation length,
search 5, h 0.8 sigma), ``nlm slices p7 d7`` (patch and search from the correlation length
made larger), ``nlm 3-slice patches`` (scikit-image NLM with the neighbouring slices as
channels: 3D patches, in-plane search), ``slices_z`` (the new default on correlated noise:
2D NLM + similarity-guided z averaging), and the anchor ``bm3d`` (``bm3d`` 4.0.3 per slice,
the noise PSD of a Gaussian-filtered white noise with the measured correlation length and
sigma; skipped when not installed; its PSD path calls ``np.trapz``, removed in numpy 2.4, so
the benchmark aliases it to ``np.trapezoid``).

``nanomesh``: the real nanopore EM volume (``../shared/validation``): the stage's noise
reduction factor, an independent one (noise-only std from the growth of the slice-difference
std with the lag, ``n^2 = (4 s(L)^2 - s(2L)^2) / 3`` for structure changing linearly in z; lag
1 before and after ``slices``; none after ``slices_z``, whose outputs share input slices up to
2 apart while at lags 3 and 6 this volume's differences are structure), ``z_contrast_kept``,
the mode ``auto`` chooses, and the pore
fraction per third along axes 0 and 1 after the automatic shading correction and the default
segmentation (as ``docs/scripts/realistic_phantom_eval.py --nanomesh``).

``throughput``: CPU seconds of ``slices`` and ``auto`` on 48 x 395 x 481 (seed size in y, x).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

VALIDATION = Path(__file__).resolve().parents[1] / ".." / "shared" / "validation"


def _psnr(a: np.ndarray, ref: np.ndarray) -> float:
    return float(10.0 * np.log10(1.0 / np.mean((a - ref) ** 2)))


def _scores(out: np.ndarray, ref: np.ndarray, img: np.ndarray) -> dict:
    from skimage.metrics import structural_similarity

    from microstructure.preprocess._noise import flat_mask

    g = ndimage.gaussian_gradient_magnitude(ref, (0, 1, 1))
    band = g >= np.percentile(g, 90)
    go = ndimage.gaussian_gradient_magnitude(ndimage.gaussian_filter(out, (0, 2, 2)), (0, 1, 1))
    gn = ndimage.gaussian_gradient_magnitude(ndimage.gaussian_filter(ref, (0, 2, 2)), (0, 1, 1))
    flat = np.stack([flat_mask(s) for s in img])
    return {
        "psnr": _psnr(out, ref),
        "ssim": float(
            np.mean(
                [structural_similarity(o, r, data_range=1.0) for o, r in zip(out, ref, strict=True)]
            )
        ),
        "psnr_edge": float(10.0 * np.log10(1.0 / np.mean((out[band] - ref[band]) ** 2))),
        "edge_kept": float(np.sum(go[band] ** 2) / np.sum(gn[band] ** 2)),
        "true_nrf": float(np.std((img - ref)[flat]) / np.std((out - ref)[flat])),
    }


def _channels_nlm(img: np.ndarray, sigma: float, patch: int) -> np.ndarray:
    from skimage.restoration import denoise_nl_means

    out = np.empty_like(img)
    for k in range(len(img)):
        lo, hi = max(0, k - 1), min(len(img), k + 2)
        res = denoise_nl_means(
            np.moveaxis(img[lo:hi], 0, -1),
            patch_size=patch,
            patch_distance=5,
            h=0.8 * sigma,
            sigma=sigma,
            fast_mode=True,
            channel_axis=-1,
            preserve_range=True,
        )
        out[k] = res[..., k - lo]
    return out


def _bm3d(img: np.ndarray, sigma: float, corr_px: float) -> np.ndarray:
    import bm3d

    if not hasattr(np, "trapz"):  # bm3d 4.0.3's PSD path calls np.trapz (gone in numpy 2.4)
        setattr(np, "trapz", np.trapezoid)  # noqa: B010
    ny, nx = img.shape[1:]
    g = max(0.3, corr_px / (2.0 * np.sqrt(np.log(2.0))))  # Gaussian filter with that rho(c)=1/2
    r = int(np.ceil(4 * g))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    k = np.exp(-(yy**2 + xx**2) / (2 * g * g))
    k *= sigma / np.sqrt(np.sum(k**2))
    psd = np.abs(np.fft.fft2(k, (ny, nx))) ** 2 * ny * nx
    return np.stack([bm3d.bm3d(s, sigma_psd=psd) for s in img]).astype(np.float32)


def _method(name: str, img: np.ndarray, sig: float, corr: float) -> tuple[np.ndarray, dict]:
    from microstructure.preprocess import denoise_nl_means_report

    if name == "input":
        return img, {}
    if name.startswith("nlm slices p7"):
        return denoise_nl_means_report(
            img, mode="slices", patch_size=7, patch_distance=7, workers=1
        )
    if name.startswith("nlm slices"):
        return denoise_nl_means_report(img, mode="slices", workers=1)
    if name.startswith("nlm 3-slice"):
        return _channels_nlm(img, sig, 5), {}
    if name.startswith("slices_z"):
        return denoise_nl_means_report(img, workers=1)
    return _bm3d(img, sig, corr), {}


def phantom(use_bm3d: bool) -> None:
    from microstructure.phantom import generate_phantom
    from microstructure.preprocess.denoise import estimate_noise

    rows: dict[str, list[dict]] = {}
    for seed in (1, 2, 3):
        ph = generate_phantom((32, 160, 160), seed=seed, preset="realistic")
        img, ref = ph.image.astype(np.float32) / 255.0, ph.noise_free
        est = estimate_noise(img)
        names = [
            "input",
            "nlm slices (previous default)",
            "nlm slices p7 d7",
            "nlm 3-slice patches",
            "slices_z (new default)",
        ]
        if use_bm3d:
            names.append("bm3d per slice, correlated PSD")
        for name in names:
            c0 = time.process_time()
            out, info = _method(name, img, est["sigma"], est["correlation_length_px"])
            row = _scores(out, ref, img)
            row["cpu_s"] = time.process_time() - c0
            row["nrf"] = info.get("noise_reduction_factor", float("nan"))
            rows.setdefault(name, []).append(row)
            print(seed, name, {k: round(v, 3) for k, v in row.items()}, flush=True)
    print(
        "\n| method | PSNR dB | SSIM | edge-band PSNR dB | edge energy kept | reported NRF "
        "| true NRF (flat) | CPU s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, rr in rows.items():
        cells = []
        for key, fmt in (
            ("psnr", ".2f"),
            ("ssim", ".3f"),
            ("psnr_edge", ".2f"),
            ("edge_kept", ".3f"),
            ("nrf", ".2f"),
            ("true_nrf", ".2f"),
            ("cpu_s", ".1f"),
        ):
            v = [r[key] for r in rr]
            cells.append(f"{min(v):{fmt}}-{max(v):{fmt}}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def _noise_only(stack: np.ndarray, lag: int) -> float:
    from microstructure.preprocess._noise import noise_from_pairs, pair_index

    s = []
    for ll in (lag, 2 * lag):
        idx, pairs = pair_index(stack.shape[0], lag=ll)
        s.append(noise_from_pairs(stack[idx], pairs)["sigma"])
    return float(np.sqrt(max(0.0, (4 * s[0] ** 2 - s[1] ** 2) / 3.0)))


def nanomesh() -> None:
    from microstructure.preprocess import correct_geometry, denoise_nl_means_report
    from microstructure.segment import segmentation

    path = VALIDATION / "nanomesh_nanopores3d.npy"
    if not path.is_file():
        print(f"nanomesh: {path} not found, skipped")
        return
    raw = np.load(path, allow_pickle=False).astype(np.float32) / 255.0
    fixed = correct_geometry(raw, angle_deg=None)[0]
    n0 = _noise_only(fixed, 1)
    for mode in ("none", "auto", "slices", "slices_z"):
        c0 = time.process_time()
        if mode == "none":
            out, info = fixed, {}
        else:
            out, info = denoise_nl_means_report(fixed, mode=mode, workers=1)
        cpu = time.process_time() - c0
        # after slices_z, slices < 3 apart share input slices, and at lags 3 and 6 the
        # structure dominates the differences of this volume: no independent number
        ran = info.get("mode", "none")
        indep = {"none": 1.0, "slices": None}.get(ran)
        if ran == "slices":
            indep = n0 / _noise_only(out, 1)
        indep_s = f"{indep:.2f}" if indep is not None else "n/a"
        pore = ~np.asarray(segmentation(out).am)
        thirds = {}
        for ax in (0, 1):
            p = np.moveaxis(pore, ax, 0)
            n = p.shape[0] // 3
            thirds[ax] = [round(float(p[i * n : (i + 1) * n].mean()), 3) for i in range(3)]
        print(
            f"| {mode} ({ran}) | {info.get('noise_reduction_factor', 1.0):.2f} | {indep_s} | "
            f"{info.get('z_contrast_kept') or float('nan'):.2f} | "
            f"{' / '.join(map(str, thirds[0]))} ({np.ptp(thirds[0]):.3f}) | "
            f"{' / '.join(map(str, thirds[1]))} ({np.ptp(thirds[1]):.3f}) | {cpu:.1f} |",
            flush=True,
        )


def throughput() -> None:
    from microstructure.phantom import generate_phantom
    from microstructure.preprocess import denoise_nl_means_report

    img = generate_phantom((48, 395, 481), seed=0, preset="realistic").image
    img = img.astype(np.float32) / 255.0
    for mode in ("slices", "auto"):
        c0 = time.process_time()
        _, info = denoise_nl_means_report(img, mode=mode, workers=1)
        print(
            f"throughput 48x395x481 {mode} -> {info['mode']}: CPU {time.process_time() - c0:.1f} s"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="phantom,nanomesh,throughput")
    ap.add_argument("--no-bm3d", action="store_true")
    args = ap.parse_args()
    parts = args.parts.split(",")
    if "phantom" in parts:
        use = not args.no_bm3d
        if use:
            try:
                import bm3d  # noqa: F401
            except ImportError:
                print("bm3d not installed: anchor skipped")
                use = False
        phantom(use)
    if "nanomesh" in parts:
        print(
            "\n| nanomesh | stage NRF | independent NRF | z contrast kept | pore fraction "
            "per third, axis 0 (spread) | axis 1 (spread) | CPU s |"
        )
        print("|---|---|---|---|---|---|---|")
        nanomesh()
    if "throughput" in parts:
        throughput()


if __name__ == "__main__":
    main()
