"""Issue 19's must-show on the ``realistic`` phantom: the default recipe's preprocessing and
segmentation scored against the phantom's ground truth, for several seeds.

Run from the repository root::

    python docs/scripts/realistic_phantom_eval.py [--seeds 1 2 3] [--shape 64,160,160]

For each seed: ``generate_phantom(shape, seed=s, preset="realistic")`` is written to a
temporary folder and run through stages 1-5 of ``pipelines/fibsem_nmc622.toml`` (geometry,
curtaining, denoise, align, segment; ``--align-first``: geometry, align, curtaining, denoise,
segment) with the runner. Printed per seed:

- AM volume fraction of the segmentation against the truth (``labels_sectioned == 1``: the
  labels each slice really cuts), the difference (target: within 0.01 absolute);
- Dice of the AM mask against the truth, after finding the in-plane offset the alignment left
  (the aligned stack keeps slice 0's frame, cropped), by FFT cross-correlation (target 0.95);
  ``am_error`` is taken in that same frame (the truth cropped as the aligned stack);
- ``dice_registered``: the same Dice with each truth slice moved by the registration error
  the align stage left on it (its applied shift minus the true drift, ``shifts.csv`` against
  ``drift_shifts.csv``, nearest voxel): the segmentation's own Dice, without the misregistration
  of the slices that no segmentation can undo;
- closed-pore fraction against the truth's closed porosity (target: within 10 %):
  ``closed_fraction_truth`` is the phantom's (``truth.json``: the unsectioned labels, the whole
  field), ``closed_fraction_truth_frame`` the one to compare with, defined as the segment stage
  does: the sectioned labels moved as the aligned slices (``dice_registered``), cropped to the
  aligned stack's frame, closed = not connected to a face of that frame, over its voxels;
- curtain residual: ``remove_curtaining`` (defaults) on the raw image, energy of (removed -
  true curtain field) over the true curtain energy (target <= 0.35);
- drift RMS: the align stage's measured positions against the true drift, after removing the
  common offset (target <= 0.5 px; same sign convention on both sides); ``drift_floor_px``:
  the same registration on the artefact-free rendering with the same drift (the structure's
  own apparent slant, which no registration can tell from drift); ``drift_rms_vs_clean_px``:
  the pipeline's positions against that rendering's (what the artefacts cost);
- the run's quality flags, and the segment stage's shine-through self-report:
  ``shine_asymmetry`` (median pore grey value 2 slices in front of particle fronts minus behind
  particle backs, x contrast) and ``shine_check_passed`` (the ``shine_through_unhandled``
  check: it must fail where pore backs bias the AM fraction).

``--preset default`` runs the old phantom instead (the check must pass there).

``--drift-only`` prints only the drift numbers (the stages up to the alignment), with the align
stage's own ``drift_uncertainty_px`` and whether its check passed; ``--fiducial ROWS``
(with or without ``--drift-only``) gives the phantom a protective cap with milled marks
(:func:`microstructure.phantom.acquisition.with_fiducial`) seen over ROWS rows by every
slice, as real slice-and-view images show it, and aligns with ``roi = "auto"``, which
registers on the cap and drops it from the aligned stack (the artefact-free floor gets the
same cap); the truth is compared in the frame of what is left.

``--smooth-cap`` (with ``--fiducial``) draws the cap without its milled marks: static, but
edged along x only, so the align stage takes y from it and x from the whole field.
``--structure-motion`` instead registers the truth AM labels and the artefact-free render of
each seed *without any drift* as the recipe's align stage does and prints their RMS apparent
motion: the part of the drift error that comes from the structure itself.

``--attribute [EFFECT ...]`` instead switches the realistic effects off one at a time (all of
them without a list; drift off throughout, so the slices line up with the truth) and prints
the AM error against the whole field, the registered Dice and the closed pores: where the
segmentation error comes from.

``--align-first`` runs the same stages with the alignment moved right after the geometry
stage (an experiment on the stage order; the phantom's curtains stay in the image frame).
``--nanomesh`` also measures the real nanopore volume (``../shared/validation/``; a lattice
of etched pores, periodic along its axis 1): the geometry step with its automatic shading
correction, then the default segmentation; printed: the pore fraction per third along each
axis (target along axis 1: within 0.03 of each other).
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path

import numpy as np

from microstructure.io import read_volume
from microstructure.phantom import ARTEFACTS_OFF, generate_phantom, save_phantom
from microstructure.pipeline import load_recipe, parse_recipe, run_pipeline
from microstructure.preprocess import remove_curtaining

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "pipelines" / "fibsem_nmc622.toml"


def _aligned_curtain_residual(ph, img: np.ndarray, curtain: np.ndarray) -> float:
    """The curtain residual of the default destriper on the slices moved back by the true
    drift (an ideal alignment), scored inside the region every slice covers."""
    from scipy import ndimage

    sh = np.asarray(ph.shifts_px, dtype=np.float64)
    sh = sh - sh.mean(axis=0)
    m = int(np.ceil(np.abs(sh).max())) + 2

    def back(v: np.ndarray) -> np.ndarray:
        moved = [ndimage.shift(v[k], -sh[k], order=3, mode="nearest") for k in range(len(v))]
        return np.stack(moved)[:, m:-m, m:-m].astype(np.float32)

    a, c = back(img), back(curtain)
    removed = a - remove_curtaining(a)
    return float(np.mean((removed - c) ** 2) / max(float(np.mean(c**2)), 1e-30))


def _stage_dir(out: Path, name: str) -> Path:
    """The run folder ``NN-name`` of a stage (its number follows the recipe's order)."""
    return next(out.glob(f"[0-9][0-9]-{name}"))


#: ``--align-first``: the alignment moved right after the geometry stage (an experiment: the
#: recipe destripes and denoises before aligning)
ALIGN_FIRST = {"on": False}
#: ``--smooth-cap``: the cap of ``--fiducial`` without its milled marks
SMOOTH_CAP = {"on": False}
#: phantom overrides for every phantom of a run (``--curtains-with-sample``)
EXTRA: dict = {}


def _stages() -> list[dict]:
    import tomllib

    stages = tomllib.loads(RECIPE.read_text())["stage"]
    if ALIGN_FIRST["on"]:
        align = next(s for s in stages if s["name"] == "align")
        stages = [s for s in stages if s["name"] != "align"]
        stages.insert(1, align)
    return stages


def _align_position() -> int:
    """1-based position of the align stage in the recipe."""
    return [s["name"] for s in _stages()].index("align") + 1


def _recipe_first_stages(n: int, align: dict | None = None):
    import tomllib

    doc = tomllib.loads(RECIPE.read_text())
    doc["stage"] = _stages()[:n]
    for st in doc["stage"]:
        if st["name"] == "align":
            st.update(align or {})
    doc["recipe"]["name"] = "realistic-eval"
    return parse_recipe(doc, path=str(RECIPE))


def _best_offset(mask: np.ndarray, truth: np.ndarray) -> tuple[int, int]:
    """In-plane (dy, dx) with mask[z, y, x] ~ truth[z, y + dy, x + dx] (z not shifted)."""
    a = mask.astype(np.float32).sum(0)
    b = truth.astype(np.float32).sum(0)
    ny, nx = b.shape
    pa = np.zeros_like(b)
    pa[: a.shape[0], : a.shape[1]] = a - a.mean()
    cc = np.fft.ifft2(np.fft.fft2(b - b.mean()) * np.conj(np.fft.fft2(pa))).real
    dy, dx = np.unravel_index(int(np.argmax(cc)), cc.shape)
    return int(dy if dy <= ny // 2 else dy - ny), int(dx if dx <= nx // 2 else dx - nx)


def _dice_at_offset(mask: np.ndarray, truth: np.ndarray, dy: int, dx: int) -> float:
    nz, my, mx = mask.shape
    _, ty, tx = truth.shape
    y0, x0 = max(0, -dy), max(0, -dx)
    y1, x1 = min(my, ty - dy), min(mx, tx - dx)
    m = mask[:, y0:y1, x0:x1]
    t = truth[:nz, y0 + dy : y1 + dy, x0 + dx : x1 + dx]
    return float(2 * np.count_nonzero(m & t) / max(1, np.count_nonzero(m) + np.count_nonzero(t)))


def _rms_about_mean(found: np.ndarray, ref: np.ndarray) -> float:
    err = np.asarray(found, dtype=np.float64) - ref
    err -= err.mean(axis=0)
    return float(np.sqrt(np.mean(np.sum(err**2, axis=1))))


def _drift_numbers(
    align_dir: Path,
    truth_csv: Path,
    seed: int,
    shape,
    preset: str = "realistic",
    fiducial: int | None = None,
) -> dict:
    """Align positions against the true drift, and against the artefact-free rendering.

    Both ``shifts.csv`` (align) and ``drift_shifts.csv`` (phantom) give the displacement of
    slice ``i``'s content in the acquired frame (a feature at row r of the undrifted slice
    appears at row r + dy), so they are compared with the same sign. A random structure has
    an apparent slant of its own: the same registration on the phantom rendered with the same
    drift and slice positions but without the acquisition effects and noise is not exactly on
    the drift either (``drift_floor_px``); ``drift_rms_vs_clean_px`` is what the effects add.
    """
    with open(truth_csv) as fh:
        true = np.array([[float(r["dy_px"]), float(r["dx_px"])] for r in csv.DictReader(fh)])
    with open(align_dir / "shifts.csv") as fh:
        found = np.array([[float(r["dy_px"]), float(r["dx_px"])] for r in csv.DictReader(fh)])
    import tomllib

    from microstructure.preprocess import align_slices_report

    stage = next(s for s in tomllib.loads(RECIPE.read_text())["stage"] if s["name"] == "align")
    opts = {k: stage[k] for k in ("neighbors", "refine", "roi") if k in stage}
    clean = generate_phantom(shape, seed=seed, preset=preset, **{**ARTEFACTS_OFF, **EXTRA})
    if fiducial is not None:
        clean = _with_cap(clean, fiducial, seed)
        opts["roi"] = "auto"
    if not np.allclose(clean.shifts_px, true, atol=1e-5):
        raise RuntimeError("artefact-free rendering: drift differs from the realistic one")
    _, ref, _ = align_slices_report(clean.image.astype(np.float32), **opts)
    align = json.loads((align_dir.parent / "report.json").read_text())["numbers"]["align"]
    check = align.get("quality", {}).get("checks", {}).get("drift_uncertainty_px", {})
    found_ref = align.get("reference_region", {})
    return {
        "drift_rms_px": _rms_about_mean(found, true),
        "drift_floor_px": _rms_about_mean(ref, true),
        "drift_rms_vs_clean_px": _rms_about_mean(found, ref),
        "drift_uncertainty_px": align.get("drift_uncertainty_px"),
        "drift_uncertainty_check_passed": check.get("passed"),
        "reference_region": found_ref.get("region") if found_ref.get("found") else None,
    }


def _drift_reach(ph) -> int:
    """Rows the drift moves the content down at most (the cap interface's lowest row)."""
    import math

    return math.ceil(max(0.0, float(np.asarray(ph.shifts_px)[:, 0].max())))


def _with_cap(ph, rows: int, seed: int):
    """The phantom with a fiducial cap seen over ``rows`` rows by every slice (the cap's
    interface lies ``rows`` below the top of the slice that drifted furthest up)."""
    import math

    from microstructure.phantom import acquisition

    up = max(0.0, -float(np.asarray(ph.shifts_px)[:, 0].min()))
    if not SMOOTH_CAP["on"]:
        return acquisition.with_fiducial(ph, rows + math.ceil(up), seed=seed)
    # a cap without milled marks: the marks and their rims drawn in the cap's own grey
    keep = acquisition.FIDUCIAL_MARK, acquisition.FIDUCIAL_RIM
    acquisition.FIDUCIAL_MARK = acquisition.FIDUCIAL_RIM = acquisition.FIDUCIAL_CAP
    try:
        return acquisition.with_fiducial(ph, rows + math.ceil(up), seed=seed)
    finally:
        acquisition.FIDUCIAL_MARK, acquisition.FIDUCIAL_RIM = keep


def drift_only(
    seed: int, shape: tuple[int, int, int], work: Path, fiducial: int | None = None
) -> dict:
    """Drift numbers only: the recipe's stages up to the alignment (with ``fiducial`` a cap
    over that many rows and ``roi = "auto"`` in the align stage)."""
    ph = generate_phantom(shape, seed=seed, preset="realistic", **EXTRA)
    if fiducial is not None:
        ph = _with_cap(ph, fiducial, seed)
    tag = f"{seed}-drift" + ("" if fiducial is None else f"-cap{fiducial}")
    src, out = work / f"phantom-{tag}", work / f"run-{tag}"
    save_phantom(src, ph)
    align = None if fiducial is None else {"roi": "auto"}
    run_pipeline(
        _recipe_first_stages(_align_position(), align), src / "fibsem.tif", out, progress=False
    )
    return {
        "seed": seed,
        "fiducial_rows": fiducial,
        **_drift_numbers(
            _stage_dir(out, "align"), src / "drift_shifts.csv", seed, shape, "realistic", fiducial
        ),
    }


def _registered_truth(truth: np.ndarray, align_dir: Path, truth_csv: Path) -> np.ndarray:
    """The truth slices moved by the registration error the align stage left on each (its
    applied shift minus the true drift, common part removed; nearest voxel)."""
    from scipy import ndimage

    with open(truth_csv) as fh:
        true = np.array([[float(r["dy_px"]), float(r["dx_px"])] for r in csv.DictReader(fh)])
    with open(align_dir / "shifts.csv") as fh:
        rows = list(csv.DictReader(fh))
    applied = np.array([[float(r["applied_dy_px"]), float(r["applied_dx_px"])] for r in rows])
    err = true - applied
    err -= err.mean(axis=0)
    return np.stack(
        [ndimage.shift(truth[z], err[z], order=0, mode="nearest") for z in range(len(truth))]
    )


def _frame_fraction(mask: np.ndarray, truth: np.ndarray, dy: int, dx: int) -> float:
    """AM fraction of ``truth`` in the frame of ``mask`` at the offset (dy, dx)."""
    nz, my, mx = mask.shape
    y0, x0 = max(0, dy), max(0, dx)
    return float(truth[:nz, y0 : y0 + my, x0 : x0 + mx].mean())


def _frame_closed_porosity(mask: np.ndarray, labels: np.ndarray, dy: int, dx: int) -> float:
    """The truth's closed porosity as the segment stage defines it, in the frame of ``mask``:
    pore voxels of the non-AM components (26-connected) touching no face of the frame, over
    the frame's voxels (``labels`` the sectioned labels, moved as the aligned slices)."""
    from microstructure.segment import closed_pores

    nz, my, mx = mask.shape
    y0, x0 = max(0, dy), max(0, dx)
    lab = labels[:nz, y0 : y0 + my, x0 : x0 + mx]
    return float(np.count_nonzero(closed_pores(lab == 1) & (lab == 0)) / lab.size)


def _sectioned_cracks(ph) -> np.ndarray:
    """The phantom's crack voxels in the slices the stack really cuts (as ``labels_sectioned``:
    the nearest truth slice to each acquired slice's position)."""
    cracks = np.asarray(ph.cracks, dtype=bool)
    if ph.labels_sectioned is None:
        return cracks
    k = np.clip(np.rint(ph.slice_positions_px).astype(int), 0, len(cracks) - 1)
    return cracks[k]


def _shine_numbers(seg: dict) -> dict:
    """The segment stage's shine-through self-report (front/back asymmetry and its check)."""
    shine = seg.get("segmentation", {}).get("shine_through", {})
    check = seg.get("quality", {}).get("checks", {}).get("shine_through_unhandled", {})
    return {
        "shine_asymmetry": shine.get("front_back_asymmetry"),
        "shine_check_passed": check.get("passed"),
        "pore_backs_removed": shine.get("removed"),
    }


def evaluate(
    seed: int,
    shape: tuple[int, int, int],
    work: Path,
    preset: str = "realistic",
    fiducial: int | None = None,
) -> dict:
    ph = generate_phantom(shape, seed=seed, preset=preset, **EXTRA)
    if fiducial is not None:
        ph = _with_cap(ph, fiducial, seed)
    tag = f"{seed}" + ("" if fiducial is None else f"-cap{fiducial}")
    src = work / f"phantom-{tag}"
    save_phantom(src, ph)
    out = work / f"run-{tag}"
    align = None if fiducial is None else {"roi": "auto"}
    report = run_pipeline(_recipe_first_stages(5, align), src / "fibsem.tif", out, progress=False)
    mask = read_volume(_stage_dir(out, "segment") / "volume.tif").data > 0
    truth_labels = ph.labels_sectioned if ph.labels_sectioned is not None else ph.labels
    truth = truth_labels == 1
    dy, dx = _best_offset(mask, truth)
    # the default preset's files carry no drift table: no registered Dice or drift numbers
    has_drift = (src / "drift_shifts.csv").exists()
    reg_labels = (
        _registered_truth(truth_labels, _stage_dir(out, "align"), src / "drift_shifts.csv")
        if has_drift
        else truth_labels
    )
    reg = reg_labels == 1
    ry, rx = _best_offset(mask, reg)
    seg = report["numbers"]["segment"]
    img = ph.image.astype(np.float32) / 255.0
    curtain = np.asarray(ph.curtain, dtype=np.float32)
    # (not under a cap: its rows are in the aligned slices)
    aligned = has_drift and fiducial is None
    aligned_residual = _aligned_curtain_residual(ph, img, curtain) if aligned else None
    removed = img - remove_curtaining(img)
    # under a cap the curtains are scored on the structure only (the rows below the cap
    # interface in every slice): the cap's marks are no curtains of the sample
    r0 = 0 if fiducial is None else ph.truth["fiducial"]["rows"] + _drift_reach(ph)
    removed, curtain = removed[:, r0:], curtain[:, r0:]
    residual = float(np.mean((removed - curtain) ** 2) / max(np.mean(curtain**2), 1e-30))
    # the cracks (two voxels wide) that the segmentation labels AM, in the Dice's frame
    cracks = _sectioned_cracks(ph)
    if has_drift:
        cracks = (
            _registered_truth(
                cracks.astype(np.uint8), _stage_dir(out, "align"), src / "drift_shifts.csv"
            )
            > 0
        )
    nz, my, mx = mask.shape
    y0, x0 = max(0, -ry), max(0, -rx)
    y1, x1 = min(my, cracks.shape[1] - ry), min(mx, cracks.shape[2] - rx)
    crack_am = np.count_nonzero(
        mask[:, y0:y1, x0:x1] & cracks[:nz, y0 + ry : y1 + ry, x0 + rx : x1 + rx]
    )
    closed_truth = float(ph.truth["closed_porosity"])
    closed_found = float(seg.get("closed_pore_fraction", np.nan))
    return {
        "seed": seed,
        "am_fraction": float(mask.mean()),
        "am_fraction_truth": _frame_fraction(mask, truth, dy, dx),
        "am_fraction_truth_field": float(truth.mean()),
        "am_error": float(mask.mean() - _frame_fraction(mask, truth, dy, dx)),
        "dice": _dice_at_offset(mask, truth, dy, dx),
        "dice_registered": _dice_at_offset(mask, reg, ry, rx),
        # cracks labelled AM (fraction of the volume) and the AM error with them counted AM
        "crack_labelled_am": crack_am / mask.size,
        "am_error_cracks_as_am": float(mask.mean() - _frame_fraction(mask, truth, dy, dx))
        - crack_am / mask.size,
        "offset_px": (dy, dx),
        "closed_fraction": closed_found,
        "closed_fraction_truth": closed_truth,
        # the same definition as the segment stage's: sectioned labels, aligned frame
        "closed_fraction_truth_frame": _frame_closed_porosity(mask, reg_labels, ry, rx),
        "curtain_residual": residual,
        "curtain_residual_aligned": aligned_residual,
        **(
            _drift_numbers(
                _stage_dir(out, "align"), src / "drift_shifts.csv", seed, shape, preset, fiducial
            )
            if has_drift
            else {}
        ),
        **_shine_numbers(seg),
        "flags": report.get("quality", {}).get("flags", []),
    }


#: ``--attribute``: the realistic effects switched off one at a time (drift off throughout)
_EFFECTS = {
    "nothing": {},
    "shine_through": {"shine_through": 0.0, "pore_back_brightness": 0.0},
    "pore_back_brightness": {"pore_back_brightness": 0.0},
    "rim_brightness": {"rim_brightness": 0.0},
    "charging": {"charging_strength": 0.0},
    "shading": {"shading_amplitude": 0.0, "depth_gradient": 0.0},
    "dense_curtains": {"dense_curtain_strength": 0.0},
    "noise_psf": {"noise_psf_px": 0.0},
    "slice_jitter": {"slice_jitter": 0.0},
}


def attribute(seed: int, shape: tuple[int, int, int], work: Path, effect: str) -> dict:
    """The segmentation's AM error (whole field), registered Dice and closed pores with one
    realistic effect switched off (``_EFFECTS``) and no drift, through stages 1-5."""
    over = {"drift_step_px": 0.0, "drift_jump_probability": 0.0, **_EFFECTS[effect]}
    ph = generate_phantom(shape, seed=seed, preset="realistic", **{**over, **EXTRA})
    src, out = work / f"phantom-{seed}-{effect}", work / f"run-{seed}-{effect}"
    save_phantom(src, ph)
    report = run_pipeline(_recipe_first_stages(5), src / "fibsem.tif", out, progress=False)
    mask = read_volume(_stage_dir(out, "segment") / "volume.tif").data > 0
    labels = ph.labels_sectioned if ph.labels_sectioned is not None else ph.labels
    reg = _registered_truth(labels == 1, _stage_dir(out, "align"), src / "drift_shifts.csv")
    ry, rx = _best_offset(mask, reg)
    return {
        "seed": seed,
        "switched_off": effect,
        "am_error_field": float(mask.mean() - (labels == 1).mean()),
        "dice_registered": _dice_at_offset(mask, reg, ry, rx),
        "closed_fraction": report["numbers"]["segment"].get("closed_pore_fraction"),
        "closed_fraction_truth": float(ph.truth["closed_porosity"]),
        **_shine_numbers(report["numbers"]["segment"]),
    }


def _thirds(pore: np.ndarray, axis: int) -> list[float]:
    p = np.moveaxis(pore, axis, 0)
    n = p.shape[0] // 3
    return [round(float(p[i * n : (i + 1) * n].mean()), 4) for i in range(3)]


def _nanomesh_figure(fixed: np.ndarray, plain: np.ndarray, pore: np.ndarray, path: Path) -> None:
    """Before/after: a cut across the lattice (axis 2 fixed) with the pores of the global
    threshold and of the default segmentation, and the pore fraction along axis 1."""
    from microstructure.plot import new_figure, save_figure

    fig = new_figure(figsize=(13.0, 4.2))
    axes = fig.subplots(1, 3)
    k = fixed.shape[2] // 2
    for ax, mask, title in (
        (axes[0], plain[:, :, k], "global Otsu (after shading correction)"),
        (axes[1], pore[:, :, k], "default: local-means refinement"),
    ):
        ax.imshow(fixed[:, :, k], cmap="gray")
        ax.contour(mask.astype(np.float32), levels=[0.5], colors="yellow", linewidths=0.6)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("axis 1 (voxels)")
        ax.set_ylabel("axis 0 (voxels)")
    y = np.arange(fixed.shape[1])
    axes[2].plot(y, plain.mean(axis=(0, 2)), label="global Otsu")
    axes[2].plot(y, pore.mean(axis=(0, 2)), label="default (refined)")
    for b in (fixed.shape[1] // 3, 2 * fixed.shape[1] // 3):
        axes[2].axvline(b, color="grey", lw=0.5)
    axes[2].set_xlabel("axis 1 (voxels)")
    axes[2].set_ylabel("pore fraction of the plane (1)")
    axes[2].legend(fontsize=8)
    axes[2].set_title("pore fraction along the lattice axis", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def nanomesh(figure: Path | None = None) -> dict:
    """Pore fraction per third of the real nanopore volume: geometry (automatic shading
    correction, no tilt) and the default segmentation (the recipe's ``segment`` method)."""
    from microstructure.preprocess import correct_geometry
    from microstructure.segment import segmentation

    path = ROOT / ".." / "shared" / "validation" / "nanomesh_nanopores3d.npy"
    if not path.is_file():
        return {"skipped": f"{path} not found"}
    raw = np.load(path, allow_pickle=False).astype(np.float32) / 255.0
    fixed, info = correct_geometry(raw, angle_deg=None)
    seg = segmentation(fixed)
    pore = ~np.asarray(seg.am)
    thirds = {f"axis{a}": _thirds(pore, a) for a in range(3)}
    plain = ~np.asarray(segmentation(fixed, refine="none").am)
    if figure is not None:
        _nanomesh_figure(fixed, plain, pore, figure)
    return {
        "shading": info.get("shading", {}).get("relative"),
        "refine": seg.info.get("refine", {}).get("method"),
        "pore_fraction_per_third": thirds,
        "spread_axis1": round(float(np.ptp(thirds["axis1"])), 4),
        "without_refine_axis1": _thirds(plain, 1),
    }


def structure_motion(seed: int, shape: tuple[int, int, int]) -> dict:
    """The structure's own apparent motion: the truth AM labels and the artefact-free render,
    both without any drift, registered as the recipe's align stage does (RMS about the mean
    position, px): what no registration of the structure can tell from drift."""
    import tomllib

    from microstructure.preprocess import align_slices_report

    stage = next(s for s in tomllib.loads(RECIPE.read_text())["stage"] if s["name"] == "align")
    opts = {k: stage[k] for k in ("neighbors", "refine", "roi") if k in stage}
    still = {"drift_step_px": 0.0, "drift_jump_probability": 0.0}
    ph = generate_phantom(
        shape, seed=seed, preset="realistic", **{**ARTEFACTS_OFF, **EXTRA, **still}
    )
    labels = ph.labels_sectioned if ph.labels_sectioned is not None else ph.labels
    out: dict = {"seed": seed}
    for name, vol in (("labels", labels == 1), ("render", ph.image)):
        _, pos, _ = align_slices_report(np.asarray(vol, dtype=np.float32), **opts)
        out[f"structure_motion_{name}_px"] = _rms_about_mean(pos, np.zeros_like(pos))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    p.add_argument("--shape", default="64,160,160")
    p.add_argument("--preset", default="realistic", choices=["realistic", "default"])
    p.add_argument("--nanomesh", action="store_true", help="also the real nanopore volume")
    p.add_argument("--figure", type=Path, help="with --nanomesh: write the before/after figure")
    p.add_argument(
        "--drift-only",
        action="store_true",
        help="instead: only the drift numbers (the stages up to the alignment)",
    )
    p.add_argument(
        "--fiducial",
        type=int,
        metavar="ROWS",
        help="a protective cap with fiducial marks seen over ROWS rows by every slice; the "
        "align stage runs with roi = 'auto' (and drops the cap from its output)",
    )
    p.add_argument(
        "--attribute",
        nargs="*",
        choices=sorted(_EFFECTS),
        help="instead: switch these realistic effects off one at a time (drift off)",
    )
    p.add_argument(
        "--align-first",
        action="store_true",
        help="move the align stage right after geometry (before curtaining and denoising)",
    )
    p.add_argument(
        "--curtains-with-sample",
        action="store_true",
        help="render the curtains in the sample frame (they drift with the structure)",
    )
    p.add_argument(
        "--smooth-cap",
        action="store_true",
        help="with --fiducial: a cap without milled marks (static, edged along x only)",
    )
    p.add_argument(
        "--structure-motion",
        action="store_true",
        help="instead: register the truth labels and the clean render without drift",
    )
    args = p.parse_args()
    if args.smooth_cap and args.fiducial is None:
        p.error("--smooth-cap: a cap needs --fiducial ROWS")
    ALIGN_FIRST["on"] = args.align_first
    SMOOTH_CAP["on"] = args.smooth_cap
    if args.curtains_with_sample:
        EXTRA["curtain_frame"] = "sample"
    shape = tuple(int(v) for v in args.shape.split(","))
    load_recipe(RECIPE)  # the recipe as shipped must load
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            if args.structure_motion:
                print(json.dumps(structure_motion(seed, shape)))
                continue
            if args.drift_only:
                print(json.dumps(drift_only(seed, shape, Path(tmp), args.fiducial), default=str))
                continue
            if args.attribute is not None:
                for effect in args.attribute or list(_EFFECTS):
                    print(json.dumps(attribute(seed, shape, Path(tmp), effect), default=str))
                continue
            r = evaluate(seed, shape, Path(tmp), args.preset, args.fiducial)
            print(json.dumps(r, default=str))
    if args.nanomesh:
        print(json.dumps({"nanomesh": nanomesh(args.figure)}, default=str))


if __name__ == "__main__":
    main()
