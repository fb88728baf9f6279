"""Pure helpers of the runner (:mod:`microstructure.pipeline.runner`): the content hash of a
volume, the recipe chain check, the report skeleton, the quality text of a log line."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

import microstructure
from microstructure.pipeline.recipe import Recipe
from microstructure.pipeline.stages import is_lazy
from microstructure.quality import quality_summary
from microstructure.volume import Volume

__all__ = ["hash_volume", "check_chain", "new_report", "stage_quality_text", "final_kind"]


def hash_volume(volume: Volume) -> str:
    """Content hash of a volume's data, dtype, shape and voxel size (blake2b, hex)."""
    h = hashlib.blake2b(digest_size=20)
    data = volume.data
    if is_lazy(data):
        # stream z-slabs in C order: the same bytes, hence the same hash, as in memory
        h.update(f"{np.dtype(data.dtype).str}|{tuple(data.shape)}|{volume.voxel_size_nm}".encode())
        slab = max(1, (1 << 26) // max(1, int(np.prod(data.shape[1:])) * data.dtype.itemsize))
        for z0 in range(0, data.shape[0], slab):
            part = np.ascontiguousarray(np.asarray(data[z0 : z0 + slab].compute()))
            h.update(memoryview(part.reshape(-1).view(np.uint8)))
        return h.hexdigest()
    data = np.ascontiguousarray(np.asarray(data))
    h.update(f"{data.dtype.str}|{data.shape}|{volume.voxel_size_nm}".encode())
    flat = data.reshape(-1).view(np.uint8)
    step = 1 << 26
    for start in range(0, flat.size, step):
        h.update(memoryview(flat[start : start + step]))
    return h.hexdigest()


def check_chain(recipe: Recipe, kind: str) -> None:
    """Fail before any work if a stage would receive the wrong kind of volume."""
    source = "the input"
    for spec in recipe.stages:
        need = spec.stage.consumes
        if need != "any" and need != kind:
            raise ValueError(
                f"{recipe.path}: stage {spec.index} {spec.name!r} needs a {need} volume but "
                f"{source} is {kind}"
                + (" (pass --labels to map label values)" if need == "labels" else "")
            )
        if spec.stage.produces in ("grayscale", "labels"):
            kind = spec.stage.produces
            source = f"the output of stage {spec.index} {spec.name!r}"


def new_report(recipe: Recipe, src: Path, volume: Volume, input_key: str) -> dict[str, Any]:
    return {
        "microstructure_version": microstructure.__version__,
        "recipe": {
            "path": str(Path(recipe.path).resolve()),
            "name": recipe.name,
            "sha256": recipe.sha256,
        },
        "input": {
            "path": str(Path(src).resolve()),  # absolute: the run opens from any folder
            "shape": list(volume.shape),
            "dtype": str(volume.data.dtype),
            "voxel_size_nm": list(volume.voxel_size_nm) if volume.voxel_size_nm else None,
            "voxel_size_origin": volume.metadata.get("voxel_size_origin"),
            "label_map": volume.metadata.get("label_map"),
            "key": input_key,
        },
        "electrode": {"thickness_axis": recipe.thickness_axis, "top_at": recipe.top_at},
        "stages": [],
        "numbers": {},
        "quality": quality_summary({}),
    }


def stage_quality_text(name: str, numbers: dict[str, Any]) -> str:
    """``"; quality: 2/3 checks passed, 1 warning"`` for a stage with a quality block."""
    q = quality_summary({name: numbers})
    if not q["stages_checked"]:
        return ""
    total = q["checks_passed"] + q["checks_failed"]
    n_flags = len(q["flags"])
    return f"; quality: {q['checks_passed']}/{total} checks passed" + (
        f", {n_flags} warning{'' if n_flags == 1 else 's'}" if n_flags else ""
    )


def final_kind(recipe: Recipe, kind: str) -> str:
    """The kind of the volume after the last stage, from the recipe (nothing is loaded)."""
    for spec in recipe.stages:
        if spec.stage.produces in ("grayscale", "labels"):
            kind = spec.stage.produces
    return kind
