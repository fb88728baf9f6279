"""Curtaining removal: our robust method against the wavelet-FFT filter and pyVSNR.

    python benchmarks/bench_curtaining.py [--data synthetic,nanomesh,helios] [--vsnr-level 20]
    python benchmarks/bench_curtaining.py --throughput   # CPU s at 48 x 395 x 481

Datasets: synthetic dense narrow curtains tilted 2 deg that fade out (known field,
``microstructure.preprocess._curtain_synth``; 24 x 256 x 256), the nanomesh nanopore volume
(real EM, faint full-height streaks; 64 planes of 200 x 200 with the streaks along y) and
the three Helios slice-and-view slices (real FIB/SEM, 1618 x 2007), both read from
``../shared/validation`` (skipped when absent). Methods, all in this process:

- ``robust``: :func:`microstructure.preprocess.remove_curtaining` (defaults: tilt estimated);
  ``robust z5 t1.5``: the same with a 5-slice z window and garrote threshold 1.5 (curtains
  that change within a few slices, as the nanomesh streaks do); ``robust mask``: with
  ``structure_mask=True`` (structure residues left out of the column medians,
  :mod:`microstructure.preprocess._curtain_masked`);
- ``fade``: the same with ``method="fade"`` (per-column start row and fade, structure
  masked, noise measured; :mod:`microstructure.preprocess._curtain_fade`);
- ``wavelet-fft``: the Muench et al. (2009) filter as published (vertical stripes, automatic
  level; :func:`microstructure.preprocess.wavelet_fft_destripe` per slice) - the anchor;
- ``pyvsnr``: the variational stationary noise remover (Fehrenbach, Weiss and Lorenzo 2012,
  doi:10.1109/TIP.2012.2206037; the destriper of PyStack3D), ``pyvsnr.vsnr2d`` with one Gabor
  filter elongated along the curtains (sigma (1, 40) px, theta = the estimated tilt, noise
  level 2: the best true residual of 1, 2, 5, 20, 80 on the synthetic curtains), 20
  iterations, ``norm=False`` on intensities in 0..1; skipped cleanly when not installed.

Numbers (on up to 8 sample slices, the same for every method, measured in the stripe wedge
around our estimated tilt, :func:`microstructure.preprocess._curtain_metrics.wedge_numbers`):
stripe energy left (after / before), energy changed outside the wedge (over the stripe energy
before), wedge energy over-removed (the output's wedge below its isotropic expectation, over
the stripe energy before: structure along the curtains taken), wall time; on the synthetic
data also the true residual (energy of removed minus the known curtains over the curtain
energy). Ratios are to the wavelet-FFT anchor: of the wedge error (left + over-removed: how
far the output's stripe wedge is from an isotropic one, either way) and of the time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

VALIDATION = Path(__file__).resolve().parents[1] / ".." / "shared" / "validation"


def _datasets(names: list[str]) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    from microstructure.preprocess._curtain_synth import synthetic_curtains

    out: list[tuple[str, np.ndarray, np.ndarray | None]] = []
    if "synthetic" in names:
        s = synthetic_curtains((24, 256, 256), angle_deg=2.0, seed=1)
        out.append(("synthetic tilted 2 deg, 24x256x256", s.image, s.curtain))
    nano = VALIDATION / "nanomesh_nanopores3d.npy"
    if "nanomesh" in names and nano.is_file():
        vol = np.load(nano).astype(np.float32) / 255.0
        out.append(("nanomesh (real EM), 64x200x200", vol.transpose(1, 0, 2)[:64].copy(), None))
    helios = sorted((VALIDATION / "helios_slices").glob("*.tif"))
    if "helios" in names and helios:
        import tifffile

        st = np.stack([tifffile.imread(p) for p in helios]).astype(np.float32) / 255.0
        out.append((f"helios (real FIB/SEM), {'x'.join(map(str, st.shape))}", st, None))
    return out


def _vsnr(stack: np.ndarray, angle: float, level: float) -> np.ndarray | None:
    try:
        from pyvsnr import vsnr2d
    except ImportError:
        return None
    # pyvsnr's theta turns the other way than our tilt (checked on the synthetic curtains)
    filters = [{"name": "Gabor", "noise_level": level, "sigma": (1, 40), "theta": -angle}]
    out = np.empty_like(stack)
    for k in range(stack.shape[0]):
        out[k] = vsnr2d(stack[k], filters, maxit=20, algo="numpy", norm=False)
    return out


def throughput(repeats: int = 2) -> None:
    """CPU seconds of ``remove_curtaining_report`` (robust and fade) on synthetic curtains
    over 48 x 395 x 481 (the seed's slice size), alternating, after a warm-up (numba)."""
    from microstructure.preprocess import remove_curtaining_report
    from microstructure.preprocess._curtain_synth import synthetic_curtains

    s = synthetic_curtains((48, 395, 481), angle_deg=2.0, seed=1)
    remove_curtaining_report(s.image[:24, :96, :96], method="fade")
    for _ in range(repeats):
        for method in ("robust", "fade"):
            c0, t0 = time.process_time(), time.perf_counter()
            out, info = remove_curtaining_report(s.image, method=method)
            cpu, wall = time.process_time() - c0, time.perf_counter() - t0
            true = float(np.mean((s.image - out - s.curtain) ** 2) / np.mean(s.curtain**2))
            print(
                f"throughput 48x395x481 {method}: CPU {cpu:.2f} s, wall {wall:.2f} s, "
                f"true residual {true:.3f}, stripe energy left "
                f"{info['stripe_energy_left_fraction']:.3f}",
                flush=True,
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="synthetic,nanomesh,helios")
    ap.add_argument("--vsnr-level", type=float, default=2.0)
    ap.add_argument("--throughput", action="store_true", help="only the 48x395x481 timing")
    args = ap.parse_args()
    if args.throughput:
        throughput()
        return

    from microstructure.preprocess import remove_curtaining
    from microstructure.preprocess._curtain_angle import estimate_curtain_angle
    from microstructure.preprocess._curtain_metrics import wedge_numbers
    from microstructure.preprocess._destripe import sample_index
    from microstructure.preprocess.curtaining import wavelet_fft_destripe

    print(
        "| data | method | tilt (deg) | stripe energy left | over-removed | x anchor "
        "| outside wedge | true residual | time (s) | x anchor |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, stack, curtain in _datasets(args.data.split(",")):
        sample = sample_index(stack.shape[0])
        angle = estimate_curtain_angle(stack[sample])[0]
        methods = {
            "wavelet-fft": lambda st: np.stack([wavelet_fft_destripe(s) for s in st]),
            "robust": lambda st: remove_curtaining(st, z_window=min(21, st.shape[0])),
            "robust z5 t1.5": lambda st: remove_curtaining(st, z_window=5, threshold=1.5),
            "robust mask": lambda st: remove_curtaining(
                st, z_window=min(21, st.shape[0]), structure_mask=True
            ),
            "fade": lambda st: remove_curtaining(st, method="fade", z_window=min(21, st.shape[0])),
            "pyvsnr": lambda st, a=angle: _vsnr(st, a, args.vsnr_level),
        }
        rows = {}
        for method, fn in methods.items():
            t = time.perf_counter()
            out = fn(stack)
            dt = time.perf_counter() - t
            if out is None:
                print(f"| {name} | {method} | - | pyvsnr not installed: skipped | | | | | | |")
                continue
            n = wedge_numbers(stack[sample], np.asarray(out, np.float32)[sample], angle)
            true = (
                float(np.mean((stack - out - curtain) ** 2) / np.mean(curtain**2))
                if curtain is not None
                else float("nan")
            )
            rows[method] = (
                n["stripe_energy_left_fraction"],
                n["energy_changed_outside_wedge"],
                n["wedge_energy_overremoved"],
                true,
                dt,
            )
        left0, _, over0, _, t0 = rows["wavelet-fft"]
        for method, (left, outside, over, true, dt) in rows.items():
            err0 = left0 + over0
            tr = "" if np.isnan(true) else f"{true:.3f}"
            print(
                f"| {name} | {method} | {angle:.2f} | {left:.3f} | "
                f"{over:.3f} | {(left + over) / err0 if err0 > 0 else float('nan'):.2f} | "
                f"{outside:.3f} | {tr} | "
                f"{dt:.2f} | {dt / t0:.2f} |"
            )


if __name__ == "__main__":
    main()
