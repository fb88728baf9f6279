"""Cost of ``roi = "auto"`` in the alignment (the recipe's default since the cap work of issue
19): the static-band search on a stack without a cap, and the second registration on the cap
when there is one.

    python benchmarks/bench_align_roi.py [--shape 48,395,481] [--repeats 3]

Aligns the default phantom (no cap) with ``roi=None`` (the anchor) and ``roi="auto"``, and the
same phantom with a fiducial cap (:func:`microstructure.phantom.acquisition.with_fiducial`,
24 rows) with ``roi="auto"``, in alternation; prints the CPU seconds of each (median of the
repeats) and their ratio to the anchor, and whether a cap was found and dropped.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from microstructure.phantom import generate_phantom
from microstructure.phantom.acquisition import with_fiducial
from microstructure.preprocess import align_slices_report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="48,395,481")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    ph = generate_phantom(shape, seed=0)
    plain = ph.image.astype(np.float32) / 255.0
    up = max(0.0, -float(np.asarray(ph.shifts_px)[:, 0].min()))
    capped = with_fiducial(ph, 24 + math.ceil(up), seed=0).image.astype(np.float32) / 255.0
    cases = {
        "no cap, roi None (anchor)": (plain, None),
        "no cap, roi auto": (plain, "auto"),
        "cap, roi auto": (capped, "auto"),
    }
    cpu: dict[str, list[float]] = {k: [] for k in cases}
    found: dict[str, object] = {}
    for _ in range(args.repeats):
        for name, (stack, roi) in cases.items():
            t = time.process_time()
            _, _, info = align_slices_report(stack, roi=roi)
            cpu[name].append(time.process_time() - t)
            ref = info.get("reference_region", {})
            found[name] = (ref.get("found"), ref.get("dropped"))
    anchor = float(np.median(cpu["no cap, roi None (anchor)"]))
    print(f"shape {shape}, {args.repeats} repeats, CPU seconds (median)")
    print("| case | CPU s | ratio to anchor | cap found, rows dropped |")
    print("|---|---|---|---|")
    for name in cases:
        med = float(np.median(cpu[name]))
        print(f"| {name} | {med:.2f} | {med / anchor:.2f} | {found[name]} |")


if __name__ == "__main__":
    main()
