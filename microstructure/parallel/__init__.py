"""Chunked execution beyond one machine's memory: Dask arrays over Zarr, local threads or a
dask.distributed cluster. Every chunked function here gives the same result as its in-memory
counterpart (tests check equality: exact for integer and slice-filter outputs, to float32
rounding for distances and radii), so a user changes where the work runs, not the answer."""

from microstructure.parallel.chunked import (
    distance_capped_nm,
    halo_voxels,
    map_slices,
)
from microstructure.parallel.label import ChunkedLabels, label_chunked
from microstructure.parallel.resume import set_chunk_hook
from microstructure.parallel.scheduler import dask_scheduler
from microstructure.parallel.store import write_volume_resumable

__all__ = [
    "dask_scheduler",
    "map_slices",
    "distance_capped_nm",
    "halo_voxels",
    "set_chunk_hook",
    "ChunkedLabels",
    "label_chunked",
    "write_volume_resumable",
]
