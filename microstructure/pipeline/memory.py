"""Peak memory: measured for a block of work, and estimated for a stage before it allocates.

Sampling ``/proc/self/statm`` from a background thread sees every allocation (numpy, numba,
C libraries), unlike ``tracemalloc``; the figure is the peak RSS of the whole process during the
block, so it includes what was resident before (reported separately as ``baseline``).
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from types import TracebackType
from typing import Any

import numpy as np

__all__ = [
    "PeakMemory",
    "current_rss_bytes",
    "STAGE_BYTES_PER_VOXEL",
    "STAGE_MEMORY_SHARE",
    "MemoryEstimateError",
    "available_memory_bytes",
    "stage_bytes_per_voxel",
    "stage_memory_estimate",
    "check_stage_memory",
    "check_run_memory",
]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_bytes() -> int:
    """Resident set size of this process in bytes (0 where it cannot be read)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return ru if sys.platform == "darwin" else ru * 1024


class PeakMemory:
    """Context manager: ``with PeakMemory() as pm: ...; pm.peak_bytes, pm.baseline_bytes``."""

    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self.baseline_bytes = 0
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            rss = current_rss_bytes()
            if rss > self.peak_bytes:
                self.peak_bytes = rss
            time.sleep(self.interval_s)

    def __enter__(self) -> PeakMemory:
        self.baseline_bytes = current_rss_bytes()
        self.peak_bytes = self.baseline_bytes
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_bytes = max(self.peak_bytes, current_rss_bytes())

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20

    @property
    def added_mb(self) -> float:
        """Peak above the resident size at entry."""
        return max(0, self.peak_bytes - self.baseline_bytes) / 2**20


# ----------------------------------------------------------------- estimates before a stage
#: Peak memory of each built-in stage running in memory, in bytes per voxel of its input (the
#: memory it adds to what the process already holds, its input excluded). Measured with
#: ``PeakMemory`` (resident set size sampled every 5 ms) and ``tracemalloc`` on the bundled
#: sample run (``pipelines/fibsem_nmc622.toml`` on ``data_samples/phantom/fibsem.tif``, each
#: stage on its real input cropped to 48 x 96 x 96 and 96 x 192 x 192 voxels, one process per
#: measurement): the slope between the two sizes, the larger of the two measures, rounded up
#: with a 25 % margin. Grayscale stages see float32 (uint8 for ``geometry``), labels stages
#: uint8. A stage class may declare its own ``memory_bytes_per_voxel``.
STAGE_BYTES_PER_VOXEL: dict[str, float] = {
    # 7.0, 7.1 without stretch; the tilt correction stretches y up to 1 / sin(52 deg) = 1.27
    "geometry": 12.0,
    "curtaining": 8.5,  # 6.7 (RSS), 6.7 (tracemalloc)
    "denoise": 10.0,  # 7.3, 7.8
    "align": 8.5,  # 6.5, 5.4
    "segment": 27.0,  # 11.8, 21.3
    "cbd": 87.0,  # 57.2, 69.0
    "nanopores": 11.0,  # 4.3, 8.4
    "porosity": 4.0,  # 3.2, 2.0
    "mip": 36.0,  # 16.5, 28.6 (with extrusion)
    "granulometry": 11.0,  # 3.9, 8.1
    # 44.3, 42.8 with cbd_relative_diffusivity (float32 face conductances); pore space only
    # (one-byte operator) 25.6, 28.5. Before the lean solver and geodesic search: 159 (126.8,
    # 118.1; the descriptors' skimage MCP needed ~109 B/voxel, the solve ~57)
    "mfactor": 56.0,
}
#: a stage is refused when its estimate exceeds this share of the available memory
STAGE_MEMORY_SHARE = 0.9


class MemoryEstimateError(ValueError):
    """A stage (or run) would not fit the machine's available memory (one-line message)."""


def available_memory_bytes() -> int:
    """Memory the operating system reports available now (``psutil``), in bytes."""
    import psutil

    return int(psutil.virtual_memory().available)


def stage_bytes_per_voxel(stage: Any) -> float | None:
    """The peak-memory factor of a stage class (its ``memory_bytes_per_voxel``, else
    :data:`STAGE_BYTES_PER_VOXEL`); None when nothing is known about it."""
    own = getattr(stage, "memory_bytes_per_voxel", None)
    if own is not None:
        return float(own)
    return STAGE_BYTES_PER_VOXEL.get(getattr(stage, "name", ""))


def _runs_chunked(spec: Any, nbytes: int, zarr_threshold_bytes: int) -> bool:
    if not getattr(spec.stage, "supports_dask", False):
        return False
    return getattr(spec.params, "chunks", None) is not None or nbytes > zarr_threshold_bytes


def stage_memory_estimate(
    spec: Any, shape: tuple[int, ...], dtype: Any, *, zarr_threshold_bytes: int, lazy: bool = False
) -> int | None:
    """Estimated peak memory (bytes) of one stage on an input of ``shape`` and ``dtype``.

    Parameters
    ----------
    spec
        The stage's :class:`~microstructure.pipeline.recipe.StageSpec`.
    shape, dtype
        Shape and dtype of the stage's input volume.
    zarr_threshold_bytes
        The run's threshold: a stage that can run chunked does so above it (or with its
        ``chunks`` key) and then has no whole-volume estimate here (its whole-volume steps are
        checked by :func:`~microstructure.pipeline.chunked_check.check_chunked_stages`).
    lazy
        The input is stored on disk (Zarr) and must be loaded for a stage that runs in memory.

    Returns
    -------
    int or None
        Bytes, or None when the stage runs chunked or its factor is unknown.
    """
    n_voxels = int(np.prod(shape, dtype=np.int64))
    nbytes = n_voxels * int(np.dtype(dtype).itemsize)
    if _runs_chunked(spec, nbytes, int(zarr_threshold_bytes)):
        return None
    factor = stage_bytes_per_voxel(spec.stage)
    if factor is None:
        return None
    return int(factor * n_voxels) + (nbytes if lazy else 0)


def _remedy(spec: Any, nbytes: int) -> str:
    if getattr(spec.stage, "supports_dask", False):
        return (
            f"run it chunked: set chunks = 64 (voxels) in stage {spec.index}, or pass "
            f"--zarr-threshold below its input's {nbytes / 2**30:.2f} GiB (e.g. --zarr-threshold 0)"
        )
    return (
        "this stage cannot run chunked: crop the input (geometry crop_z/crop_y/crop_x) or run "
        "on a machine with more memory"
    )


def _refusal(spec: Any, need: int, avail: int, shape: tuple[int, ...], nbytes: int) -> str:
    factor = stage_bytes_per_voxel(spec.stage)
    return (
        f"stage {spec.index} {spec.name!r}: needs about {need / 2**30:.2f} GiB of memory "
        f"({factor:g} bytes/voxel x {int(np.prod(shape, dtype=np.int64))} voxels "
        f"{tuple(int(n) for n in shape)}), more than the {avail / 2**30:.2f} GiB available on "
        f"this machine; {_remedy(spec, nbytes)}"
    )


def check_stage_memory(spec: Any, volume: Any, zarr_threshold_bytes: int) -> int | None:
    """Refuse a stage, before it allocates, whose estimate does not fit the available memory.

    Parameters
    ----------
    spec
        The stage about to run.
    volume
        Its input (a :class:`~microstructure.volume.Volume`, numpy or Dask data).
    zarr_threshold_bytes
        The run's Zarr threshold (decides whether the stage runs chunked).

    Returns
    -------
    int or None
        The estimate in bytes (None when there is none).

    Raises
    ------
    MemoryEstimateError
        One line naming the stage, the estimate, the available memory and the remedy.
    """
    data = volume.data
    lazy = not isinstance(data, np.ndarray) and hasattr(data, "compute")
    shape = tuple(int(n) for n in data.shape)
    need = stage_memory_estimate(
        spec, shape, data.dtype, zarr_threshold_bytes=zarr_threshold_bytes, lazy=lazy
    )
    if need is None:
        return None
    avail = available_memory_bytes()
    if need > STAGE_MEMORY_SHARE * avail:
        nbytes = int(np.prod(shape, dtype=np.int64)) * int(np.dtype(data.dtype).itemsize)
        raise MemoryEstimateError(_refusal(spec, need, avail, shape, nbytes))
    return need


def check_run_memory(
    stages: Any,
    shape: tuple[int, ...],
    dtype: Any,
    *,
    zarr_threshold_bytes: int,
    source: str = "the recipe",
) -> dict[int, int]:
    """Refuse a run before it starts when a stage's estimate does not fit the memory.

    The stages' inputs are estimated from the run's input ``shape`` (a crop or the tilt
    stretch of a stage are not followed: each stage checks its real input again before it
    runs, :func:`check_stage_memory`): grayscale stages see float32 after the first grayscale
    stage, labels stages uint8.

    Parameters
    ----------
    stages
        The :class:`~microstructure.pipeline.recipe.StageSpec` to check (e.g. those not
        cached).
    shape, dtype
        The run's input: shape and dtype.
    zarr_threshold_bytes
        The run's Zarr threshold.
    source
        Named at the start of the message (the recipe file).

    Returns
    -------
    dict
        ``{stage index: estimated bytes}`` of the stages with an estimate.

    Raises
    ------
    MemoryEstimateError
        One line naming every stage that does not fit, its estimate, the available memory and
        the remedy.
    """
    avail = available_memory_bytes()
    itemsize = int(np.dtype(dtype).itemsize)
    estimates: dict[int, int] = {}
    problems: list[str] = []
    for spec in stages:
        dt = np.dtype(f"u{itemsize}") if itemsize in (1, 2, 4, 8) else np.dtype(dtype)
        need = stage_memory_estimate(
            spec, shape, dt, zarr_threshold_bytes=zarr_threshold_bytes, lazy=False
        )
        if need is not None:
            estimates[spec.index] = need
            if need > STAGE_MEMORY_SHARE * avail:
                nbytes = int(np.prod(shape, dtype=np.int64)) * itemsize
                problems.append(_refusal(spec, need, avail, shape, nbytes))
        produces = spec.stage.produces
        if produces == "grayscale":
            itemsize = max(itemsize, 4)
        elif produces == "labels":
            itemsize = 1
    if problems:
        raise MemoryEstimateError(f"{source}: " + "; ".join(problems))
    return estimates
