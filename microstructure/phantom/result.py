"""The generated :class:`Phantom` and :func:`save_phantom` (``fibsem.tif``, labels, truth)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.phantom.params import PHANTOM_FORMAT_VERSION, PhantomParams
from microstructure.volume import Volume, check_volume

__all__ = ["Phantom", "save_phantom"]


@dataclass
class Phantom:
    """A generated phantom: the acquired stack, its ground truth and the intermediate renderings.

    Attributes
    ----------
    image
        uint8 (z, y', x) stack as acquired: drift, tilt (if on), curtains and noise applied.
        ``y' = round(ny sin(tilt_angle))`` with tilt, else ``ny``.
    labels
        uint8 ground-truth phases (0 pore, 1 AM, 2 CBD) in the true (undrifted, untilted)
        geometry; closed pores inside AM and cracks are 0.
    clean
        float32 ideal rendering in 0..1 (shine-through, textures and PSF; no noise, curtains,
        drift or tilt), same geometry as ``labels``.
    stripe_free
        float32 0..1 rendering in the acquired frame (drift and tilt applied) without curtains
        and noise: the reference for curtain removal and alignment.
    curtain
        float32 additive curtain field in the acquired frame (intensity units).
    closed_pores, cracks
        bool masks (truth geometry): pore voxels not connected to any face of the volume
        through non-AM space; pore voxels of particle cracks.
    particle_ids
        int32 (truth geometry): index into :attr:`particles` + 1 of the particle owning each
        AM voxel, 0 elsewhere.
    shifts_px
        (nz, 2) float (dy, dx): displacement of the content of acquired slice z relative to
        the true geometry, in acquired pixels (slice 0 is (0, 0)). Undo by shifting by minus it.
    voxel_size_nm, acquired_voxel_size_nm
        (z, y, x) nm of the truth volumes and of the acquired image (as a microscope reports
        it: the y pitch is not corrected for the tilt; ``correct_tilt`` stretches y back).
    particles
        One dict per particle with voxels in the volume (see module docstring for the frame).
    params
        The :class:`PhantomParams` used.
    truth
        JSON-ready summary (what ``truth.json`` holds).
    shading
        float32 (y', x) multiplicative shading applied to ``stripe_free`` (None when off).
    charging
        float32 additive charging streaks included in ``stripe_free`` (None when off).
    slice_positions_px
        (nz,) true z of each acquired slice in voxels of the nominal grid (``arange(nz)``
        without slice-thickness jitter).
    labels_sectioned
        uint8 (z, y, x) with slice-thickness jitter: the truth labels of the plane each acquired
        slice really cuts (nearest canvas slice to its true position; undrifted frame), the
        reference for scoring a segmentation slice by slice. None without jitter (= ``labels``).
    """

    image: np.ndarray
    labels: np.ndarray
    clean: np.ndarray
    stripe_free: np.ndarray
    curtain: np.ndarray
    closed_pores: np.ndarray
    cracks: np.ndarray
    particle_ids: np.ndarray
    shifts_px: np.ndarray
    voxel_size_nm: tuple[float, float, float]
    acquired_voxel_size_nm: tuple[float, float, float]
    particles: list[dict[str, Any]]
    params: PhantomParams
    truth: dict[str, Any] = field(default_factory=dict)
    shading: np.ndarray | None = None
    charging: np.ndarray | None = None
    slice_positions_px: np.ndarray | None = None
    labels_sectioned: np.ndarray | None = None

    @property
    def noise_free(self) -> np.ndarray:
        """float32 acquired image without noise: ``clip(stripe_free + curtain, 0, 1)``."""
        return np.clip(self.stripe_free + self.curtain, 0.0, 1.0).astype(np.float32)


#: Switches whose truth fields ``save_phantom`` writes by default (the realistic effects).
_REALISTIC_SWITCHES = (
    "pore_back_brightness",
    "rim_brightness",
    "shading",
    "band_limited_noise",
    "dense_curtains",
    "charging",
    "slice_jitter",
    "drift_jumps",
)


def save_phantom(
    out_dir: str | os.PathLike,
    phantom: Phantom,
    *,
    renderings: bool = False,
    truth_fields: bool | None = None,
) -> dict[str, Path]:
    """Write ``fibsem.tif``, ``truth_labels.tif`` and ``truth.json`` into ``out_dir``.

    Parameters
    ----------
    out_dir
        Output folder (created if missing).
    phantom
        The result of :func:`generate_phantom`.
    renderings
        Also write ``clean.tif``, ``stripe_free.tif``, ``noise_free.tif``, ``curtain.tif``
        (float32) and ``closed_pores.tif`` (uint8).
    truth_fields
        Write what scoring the realistic phantom needs: ``noise_free.tif`` (the noise-free
        acquired image), ``curtain.tif`` (the true additive curtain field, for the curtain
        residual), ``shading.tif``, ``charging.tif`` and ``truth_labels_sectioned.tif`` (when
        on; see :class:`Phantom`) and ``drift_shifts.csv``
        (slice, true z position px and nm, dy, dx). ``truth.json`` always holds the shifts,
        slice positions and switches. None (default): on when any realistic switch is on.

    Returns
    -------
    dict
        Name -> path of every file written. All files are first written (and fsync-ed) into a
        hidden temporary folder inside ``out_dir`` and moved into place only when every one is
        complete (``truth.json`` last), so a full disk or an interrupt leaves the previous
        files intact and no partial set; an ``OSError`` names the final path.
    """
    if not isinstance(phantom, Phantom):
        raise ValueError(f"phantom: expected a Phantom, got {type(phantom).__name__}")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".phantom-", suffix=".tmp", dir=out))
    except OSError as exc:
        from microstructure.io.tables import write_error

        raise write_error(out, exc) from exc
    try:
        staged = _write_phantom_files(stage, phantom, renderings, truth_fields)
        paths = {}
        for name, p in sorted(staged.items(), key=lambda kv: kv[0] == "truth"):
            paths[name] = out / p.name
            os.replace(p, paths[name])  # truth.json last: its presence marks a complete set
    except OSError as exc:
        from microstructure.io.tables import write_error

        if str(stage) not in str(exc):
            raise write_error(out, exc) from exc
        err = type(exc)(str(exc).replace(str(stage), str(out)))
        err.errno = exc.errno
        raise err from exc
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return paths


def _write_phantom_files(
    out: Path, phantom: Phantom, renderings: bool, truth_fields: bool | None
) -> dict[str, Path]:
    """Write every file of :func:`save_phantom` into ``out`` (the temporary folder)."""
    from microstructure.io import write_volume
    from microstructure.io.tables import atomic_write_text

    check_volume(phantom.image, name="phantom.image")
    meta = {
        "source": "microstructure.phantom",
        "seed": phantom.truth.get("seed"),
        "phantom_version": PHANTOM_FORMAT_VERSION,
        "tilt_angle_deg": phantom.params.tilt_angle_deg if phantom.params.tilt else None,
        "tilt_corrected": not phantom.params.tilt,  # nothing to undo without foreshortening
    }
    paths = {
        "fibsem": out / "fibsem.tif",
        "truth_labels": out / "truth_labels.tif",
        "truth": out / "truth.json",
    }
    write_volume(paths["fibsem"], Volume(phantom.image, phantom.acquired_voxel_size_nm, meta))
    label_meta = {
        "source": "microstructure.phantom",
        "seed": phantom.truth.get("seed"),
        "labels": "pore=0,am=1,cbd=2",
    }
    write_volume(paths["truth_labels"], Volume(phantom.labels, phantom.voxel_size_nm, label_meta))
    if renderings:
        extra = {
            "clean": (phantom.clean, phantom.voxel_size_nm),
            "stripe_free": (phantom.stripe_free, phantom.acquired_voxel_size_nm),
            "noise_free": (phantom.noise_free, phantom.acquired_voxel_size_nm),
            "curtain": (phantom.curtain, phantom.acquired_voxel_size_nm),
            "closed_pores": (phantom.closed_pores.astype(np.uint8), phantom.voxel_size_nm),
        }
        for name, (arr, vs) in extra.items():
            paths[name] = out / f"{name}.tif"
            write_volume(paths[name], Volume(arr, vs, {"source": "microstructure.phantom"}))
    if truth_fields is None:
        sw = phantom.params.switches()
        truth_fields = any(sw[k] for k in _REALISTIC_SWITCHES)
    if truth_fields:
        paths.update(_write_truth_fields(out, phantom, skip=set(paths)))
    atomic_write_text(paths["truth"], json.dumps(phantom.truth, indent=1) + "\n")
    return paths


def _write_truth_fields(out: Path, phantom: Phantom, skip: set[str]) -> dict[str, Path]:
    """The truth arrays of the acquisition (see :func:`save_phantom`)."""
    from microstructure.io import write_volume
    from microstructure.io.tables import atomic_write_text

    vs = phantom.acquired_voxel_size_nm
    arrays = {"noise_free": phantom.noise_free, "curtain": phantom.curtain}
    if phantom.shading is not None:
        arrays["shading"] = phantom.shading[None]
    if phantom.charging is not None:
        arrays["charging"] = phantom.charging
    paths = {}
    if phantom.labels_sectioned is not None:
        paths["truth_labels_sectioned"] = out / "truth_labels_sectioned.tif"
        meta = {"source": "microstructure.phantom", "labels": "pore=0,am=1,cbd=2"}
        write_volume(
            paths["truth_labels_sectioned"],
            Volume(phantom.labels_sectioned, phantom.voxel_size_nm, meta),
        )
    for name, arr in arrays.items():
        if name in skip:
            continue
        paths[name] = out / f"{name}.tif"
        write_volume(paths[name], Volume(arr, vs, {"source": "microstructure.phantom"}))
    nz = phantom.shifts_px.shape[0]
    pos = phantom.slice_positions_px
    pos = np.arange(nz, dtype=float) if pos is None else pos
    lines = ["slice,z_px,z_nm,dy_px,dx_px"]
    for z in range(nz):
        dy, dx = phantom.shifts_px[z]
        lines.append(f"{z},{pos[z]:.6f},{pos[z] * phantom.voxel_size_nm[0]:.3f},{dy:.6f},{dx:.6f}")
    paths["drift_shifts"] = out / "drift_shifts.csv"
    atomic_write_text(paths["drift_shifts"], "\n".join(lines) + "\n")
    return paths
