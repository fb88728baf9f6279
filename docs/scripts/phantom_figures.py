"""Figures of the bundled phantom: an xy slice of fibsem.tif beside the truth labels, and a
yz cross-section (acquired image, ideal rendering, labels).

Run from the repository root::

    python docs/scripts/phantom_figures.py [--seed 0] [--out docs/images]

Writes ``phantom_slice.png`` and ``phantom_cross_section.png``. The phantom is generated with
the defaults of :func:`microstructure.phantom.generate_phantom` (96 x 192 x 192 voxels of
60 nm), saved with :func:`save_phantom` into a temporary folder and read back, so the figures
show exactly what ``microstructure phantom OUT_DIR`` writes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402

from microstructure.io import read_volume  # noqa: E402
from microstructure.phantom import generate_phantom, save_phantom  # noqa: E402

LABEL_CMAP = ListedColormap(["#1b1b3a", "#e8c547", "#5c9ead"])  # pore, AM, CBD


def _labels_panel(ax, labels: np.ndarray, extent, title: str) -> None:
    ax.imshow(labels, cmap=LABEL_CMAP, vmin=0, vmax=2, interpolation="nearest", extent=extent)
    ax.set_title(title)
    handles = [plt.Rectangle((0, 0), 1, 1, color=LABEL_CMAP(i)) for i in range(3)]
    ax.legend(handles, ["pore", "AM", "CBD"], loc="lower right", fontsize=7, framealpha=0.8)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "images")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    ph = generate_phantom(seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        paths = save_phantom(tmp, ph)
        img = read_volume(paths["fibsem"])
        lab = read_volume(paths["truth_labels"])
        truth = json.loads(paths["truth"].read_text())
    image, labels = img.data, lab.data
    vz, vy, vx = (v / 1000 for v in lab.voxel_size_nm)
    nz, ny, nx = labels.shape
    fr = truth["phase_fractions"]

    # --- xy slice (a FIB slice as the SEM sees it) beside its truth
    z = nz // 2
    ext_xy = (0, nx * vx, ny * vy, 0)
    fig, axes = plt.subplots(1, 2, figsize=(10, 5.2), constrained_layout=True)
    axes[0].imshow(image[z], cmap="gray", vmin=0, vmax=255, extent=ext_xy)
    axes[0].set_title(f"fibsem.tif, slice z = {z} (drift {ph.shifts_px[z].round(1)} px)")
    _labels_panel(axes[1], labels[z], ext_xy, "truth_labels.tif (undrifted)")
    for ax in axes:
        ax.set_xlabel("x (um)")
        ax.set_ylabel("y = thickness (um), separator side at top")
    fig.suptitle(
        f"Synthetic FIB/SEM phantom, seed {args.seed}: pore {fr['pore']:.1%}, "
        f"AM {fr['am']:.1%}, CBD {fr['cbd']:.1%}, closed {truth['closed_porosity']:.2%}"
    )
    fig.savefig(args.out / "phantom_slice.png", dpi=110)
    plt.close(fig)

    # --- yz cross-section through the stack (x fixed): slice-to-slice drift and curtains show
    x = nx // 2
    ext_zy = (0, nz * vz, ny * vy, 0)
    fig, axes = plt.subplots(1, 3, figsize=(12, 5.6), constrained_layout=True)
    axes[0].imshow(image[:, :, x].T, cmap="gray", vmin=0, vmax=255, extent=ext_zy)
    axes[0].set_title(f"fibsem.tif, yz section at x = {x}\n(drift, curtains, noise)")
    axes[1].imshow(ph.clean[:, :, x].T, cmap="gray", vmin=0, vmax=1, extent=ext_zy)
    axes[1].set_title("ideal rendering (clean)\nshine-through, no artefacts")
    _labels_panel(axes[2], labels[:, :, x].T, ext_zy, "truth labels")
    for ax in axes:
        ax.set_xlabel("z = milling direction (um)")
        ax.set_ylabel("y = thickness (um)")
    fig.savefig(args.out / "phantom_cross_section.png", dpi=110)
    plt.close(fig)
    print(f"wrote {args.out / 'phantom_slice.png'} and {args.out / 'phantom_cross_section.png'}")


if __name__ == "__main__":
    main()
