"""Cost and accuracy of the tile median in the whole-field registration (issue 19).

    python benchmarks/bench_align_tiles.py [--shape 48,395,481] [--seeds 1 2 3] [--repeats 1]

On the ``realistic`` phantom (every acquisition effect, drift as a random walk with jumps;
raw slices, no preprocessing) aligns each seed three ways, in alternation in one process:

* the registration before the fourth session of 2026-12-07 (the anchor): the whole field
  first, then refinement passes on the region common to all slices (``roi`` = that region,
  ``refine = 3``, ``tile_px = 0``);
* one correlation per pair on the whole field, one pass (``tile_px = 0``);
* the default: the tile median (``tile_px = 40``).

Prints CPU seconds (median over repeats and seeds) with the ratio to the anchor, and each
seed's error against the true drift (RMS about the mean, px).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from microstructure.phantom import generate_phantom
from microstructure.preprocess import align_slices_report
from microstructure.preprocess._registration import DEFAULT_TILE_PX, common_region


def _rms_about_mean(found: np.ndarray, truth: np.ndarray) -> float:
    err = np.asarray(found, dtype=np.float64) - truth
    err -= err.mean(axis=0)
    return float(np.sqrt(np.mean(np.sum(err**2, axis=1))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="48,395,481")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    names = ["common-region refinement (anchor)", "one correlation per pair", "tile median"]
    cpu: dict[str, list[float]] = {k: [] for k in names}
    err: dict[str, list[float]] = {k: [] for k in names}
    for seed in args.seeds:
        ph = generate_phantom(shape, seed=seed, preset="realistic")
        stack = ph.image.astype(np.float32) / 255.0
        truth = np.asarray(ph.shifts_px, dtype=np.float64)
        for rep in range(args.repeats):
            for name in names:
                t = time.process_time()
                if name == names[0]:
                    _, first, _ = align_slices_report(stack, tile_px=0)
                    y0, ly, x0, lx = common_region(first, stack.shape[1:])
                    roi = (y0, y0 + ly + 1, x0, x0 + lx + 1)
                    _, found, _ = align_slices_report(stack, tile_px=0, roi=roi, refine=3)
                elif name == names[1]:
                    _, found, _ = align_slices_report(stack, tile_px=0)
                else:
                    _, found, _ = align_slices_report(stack, tile_px=DEFAULT_TILE_PX)
                cpu[name].append(time.process_time() - t)
                if rep == 0:
                    err[name].append(_rms_about_mean(found, truth))
    anchor = float(np.median(cpu[names[0]]))
    print(f"shape {shape}, seeds {args.seeds}, {args.repeats} repeat(s), raw realistic slices")
    print("| registration | CPU s (median) | ratio to anchor | error vs true drift, px |")
    print("|---|---|---|---|")
    for name in names:
        med = float(np.median(cpu[name]))
        e = " / ".join(f"{v:.2f}" for v in err[name])
        print(f"| {name} | {med:.2f} | {med / anchor:.2f} | {e} |")


if __name__ == "__main__":
    main()
