"""Cost of the drift-uncertainty estimate of the alignment (disjoint tiles registered on their
own, :mod:`microstructure.preprocess._align_uncertainty`) at seed size.

    python benchmarks/bench_align_uncertainty.py [--shape 48,395,481] [--repeats 3]

Aligns the default phantom with ``align_slices_report`` (defaults) with the estimate and with
it replaced by a no-op, in alternation, and prints CPU and wall seconds of each run and the
ratio of the CPU medians (issue 19: the stage's throughput within 1.5x).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import microstructure.preprocess.align as align_module
from microstructure.phantom import generate_phantom


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="48,395,481")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    stack = generate_phantom(shape, seed=0).image.astype(np.float32) / 255.0
    real = align_module.position_uncertainty

    def off(*_a: object, **_k: object) -> dict:
        return {"drift_uncertainty_px": None}

    cpu: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(args.repeats):
        for name in ("without", "with"):
            align_module.position_uncertainty = real if name == "with" else off
            t, w = time.process_time(), time.perf_counter()
            _, _, info = align_module.align_slices_report(stack)
            c, wall = time.process_time() - t, time.perf_counter() - w
            cpu[name].append(c)
            print(f"{name:8s} CPU {c:6.2f} s  wall {wall:6.2f} s  passes {info['passes']}")
    align_module.position_uncertainty = real
    ratio = float(np.median(cpu["with"]) / np.median(cpu["without"]))
    print(f"shape {shape}: CPU median with / without the estimate = {ratio:.2f}")


if __name__ == "__main__":
    main()
