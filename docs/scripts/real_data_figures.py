"""Before/after figures of the preprocessing on the real images in ``../shared/validation/``.

Run from the repository root (the validation folder beside the repository)::

    python docs/scripts/real_data_figures.py [--out docs/images]

Writes

- ``real_helios_align.png``: three real Thermo Fisher Helios slice-and-view slices (read with
  their instrument pixel size, 8.99306 nm): the difference of slices 0 and 2 before and after
  ``align_slices`` (default: all drift removed), and the aligned slice 0;
- ``real_nanomesh_curtain_denoise.png``: one slice of the real EM nanopore volume
  (``nanomesh_nanopores3d.npy``; its streaks run along the file's first axis, so the volume is
  transposed to put them along y), after ``remove_curtaining`` (z window 5, threshold 1.5: these
  streaks change within a few slices) and ``denoise_nl_means`` (noise from neighbouring-slice
  differences), with what each step removed.

The numbers quoted in docs/validation_real_data.md are printed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from microstructure.io import read_volume
from microstructure.plot import image_panels_figure, save_figure
from microstructure.preprocess import (
    align_slices_report,
    denoise_nl_means_report,
    remove_curtaining_report,
)

ROOT = Path(__file__).resolve().parents[2]
VALIDATION = ROOT.parent / "shared" / "validation"


def helios(out: Path) -> dict:
    vol = read_volume(VALIDATION / "helios_slices")
    stack = np.asarray(vol.data, dtype=np.float32)
    aligned, shifts, info = align_slices_report(stack, crop=False)
    px = vol.metadata.get("pixel_size_nm") or (vol.voxel_size_nm or (None, 8.99, 8.99))[1:]
    fig = image_panels_figure(
        [
            ("slice 2 - slice 0, as acquired", stack[2] - stack[0], True),
            ("slice 2 - slice 0, aligned", aligned[2] - aligned[0], True),
            ("slice 0, aligned", aligned[0], False),
        ],
        "Thermo Fisher Helios slices: drift removed",
        pixel_size_nm=(float(px[0]), float(px[1])),
    )
    save_figure(fig, out / "real_helios_align.png")
    return {"shifts_px": np.asarray(shifts).round(2).tolist(), "quality": info.get("quality")}


def nanomesh(out: Path) -> dict:
    raw = np.load(VALIDATION / "nanomesh_nanopores3d.npy", allow_pickle=False)
    stack = np.ascontiguousarray(raw.transpose(1, 0, 2)[:64].astype(np.float32) / 255.0)
    cur, cinfo = remove_curtaining_report(stack, z_window=5, threshold=1.5)
    den, dinfo = denoise_nl_means_report(cur)
    k = stack.shape[0] // 2
    fig = image_panels_figure(
        [
            ("as acquired", stack[k], False),
            ("curtaining removed", cur[k], False),
            ("+ NLM denoised", den[k], False),
            ("removed: curtains", stack[k] - cur[k], True),
            ("removed: noise", cur[k] - den[k], True),
        ],
        "real EM nanopore volume (nanomesh): curtains, then noise",
    )
    save_figure(fig, out / "real_nanomesh_curtain_denoise.png")
    keys = ("stripe_energy_left_fraction", "energy_changed_outside_wedge", "angle_deg")
    return {
        "curtaining": {k: cinfo.get(k) for k in keys},
        "denoise": {
            k: dinfo.get(k) for k in ("sigma", "noise_reduction_factor", "correlation_length_px")
        },
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="docs/images")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(json.dumps({"helios": helios(out), "nanomesh": nanomesh(out)}, default=str, indent=1))


if __name__ == "__main__":
    main()
