"""What runs chunked, checked when a run starts: before any stage executes (cached or not) and,
for a recipe that generates its input, before the phantom is generated.

A stage with ``supports_dask`` runs chunked when its ``chunks`` key is set or its input exceeds
the run's Zarr threshold. For each such stage the runner asks
:meth:`~microstructure.pipeline.stages.Stage.chunked_refusals`, which answers from the
declaration of the library function the stage calls
(:func:`microstructure.parallel.support.chunked_support`), and refuses the recipe in one line
naming every refusing stage (index and name) and key, instead of failing after hours of work.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microstructure.parallel.support import memory_budget_bytes
from microstructure.pipeline.recipe import Recipe, StageSpec
from microstructure.pipeline.stages import ZARR_THRESHOLD_BYTES, param_default

__all__ = ["check_chunked_stages", "check_chunked_phantom", "GRAYSCALE_ITEMSIZE"]

#: bytes per voxel assumed for a grayscale stage's input (the preprocessing stages compute and
#: write float32), so the estimate of what runs chunked errs on the side of "chunked"
GRAYSCALE_ITEMSIZE = 4


def _runs_chunked(spec: StageSpec, nbytes: int, threshold: int) -> str | None:
    """Why ``spec`` will run chunked (None when it runs in memory)."""
    chunks = getattr(spec.params, "chunks", None)
    if chunks is not None:
        return f"chunks = {chunks}"
    if nbytes > threshold:
        return (
            f"its input, about {nbytes / 2**20:.1f} MiB, exceeds the Zarr threshold "
            f"of {threshold / 2**20:.1f} MiB"
        )
    return None


def _too_large(steps: list[tuple[str, int, str]]) -> list[str]:
    """``"key: ..."`` for each whole-volume step that does not fit the available memory."""
    if not steps:
        return []
    budget = memory_budget_bytes()
    return [
        f"{key}: {what} needs about {nbytes / 2**30:.2f} GiB in memory, more than the "
        f"{budget / 2**30:.2f} GiB available"
        for key, nbytes, what in steps
        if nbytes > budget
    ]


def check_chunked_stages(
    recipe: Recipe,
    shape: tuple[int, ...],
    dtype: Any,
    *,
    kind: str,
    zarr_threshold_bytes: int = ZARR_THRESHOLD_BYTES,
) -> None:
    """Refuse, before any work, a recipe whose chunked stages have options they cannot honour.

    A stage with ``supports_dask`` runs chunked when its ``chunks`` key is set or its input
    exceeds ``zarr_threshold_bytes``. The input size is estimated from the run's input
    ``shape`` (stages that change the shape, such as a crop, are not followed): a grayscale
    stage is assumed to see float32 (:data:`GRAYSCALE_ITEMSIZE`, or the input's item size when
    larger), a labels stage uint8 after a stage producing labels, else the input's item size.
    Each such stage answers :meth:`~microstructure.pipeline.stages.Stage.chunked_refusals` from
    the declaration of the function it calls, and
    :meth:`~microstructure.pipeline.stages.Stage.chunked_memory` for the steps it runs on the
    whole (reduced) volume in memory, which must fit the memory available now.

    Parameters
    ----------
    recipe
        The validated recipe.
    shape, dtype
        Shape and dtype of the run's input volume.
    kind
        ``"grayscale"`` or ``"labels"``: what the input is.
    zarr_threshold_bytes
        The run's size threshold (bytes).

    Raises
    ------
    ValueError
        One line naming every refusing stage (index and name) and each refused key.
    """
    n_voxels = int(np.prod(shape, dtype=np.int64))
    itemsize = int(np.dtype(dtype).itemsize)
    problems = []
    for spec in recipe.stages:
        stage = spec.stage
        current = kind if stage.consumes == "any" else stage.consumes
        size = max(itemsize, GRAYSCALE_ITEMSIZE) if current == "grayscale" else itemsize
        why = _runs_chunked(spec, n_voxels * size, int(zarr_threshold_bytes))
        if getattr(stage, "supports_dask", False) and why is not None:
            refused = stage().chunked_refusals(spec.params)
            refused += _too_large(stage().chunked_memory(spec.params, n_voxels))
            if refused:
                problems.append(
                    f"stage {spec.index} {spec.name!r} cannot run chunked: "
                    + "; ".join(refused)
                    + f" (it runs chunked because {why})"
                )
        if stage.produces == "grayscale":
            kind, itemsize = "grayscale", max(itemsize, GRAYSCALE_ITEMSIZE)
        elif stage.produces == "labels":
            kind, itemsize = "labels", 1
    if problems:
        raise ValueError(f"{recipe.path}: " + "; ".join(problems))


def check_chunked_phantom(
    recipe: Recipe,
    *,
    shape: tuple[int, int, int] | None = None,
    zarr_threshold_bytes: int = ZARR_THRESHOLD_BYTES,
) -> None:
    """:func:`check_chunked_stages` for a recipe whose ``[phantom]`` section makes its input,
    before the phantom is generated (its grayscale stack has the phantom's ``shape``: the
    override, else the section's, else :func:`~microstructure.phantom.generate_phantom`'s)."""
    if shape is None:
        shape = (recipe.phantom or {}).get("shape")
    if shape is None:
        from microstructure.phantom import generate_phantom

        shape = param_default(generate_phantom, "shape")
    check_chunked_stages(
        recipe,
        tuple(int(n) for n in shape),
        np.float32,
        kind="grayscale",
        zarr_threshold_bytes=zarr_threshold_bytes,
    )
