"""Chunked execution beyond one machine's memory: Dask arrays over Zarr, local threads or a
dask.distributed cluster. Every chunked function here gives the same result as its in-memory
counterpart (tests check equality: exact for integer and slice-filter outputs, to float32
rounding for distances and radii), so a user changes where the work runs, not the answer."""

from microstructure.parallel.align import align_chunked
from microstructure.parallel.chunked import (
    curtaining_z_halo,
    distance_capped_nm,
    halo_voxels,
    map_slices,
)
from microstructure.parallel.granulometry import granulometry_chunked, local_thickness_chunked
from microstructure.parallel.label import ChunkedLabels, label_chunked
from microstructure.parallel.mip import invasion_radius_chunked, simulate_mip_chunked
from microstructure.parallel.preprocess import geometry_chunked
from microstructure.parallel.resume import set_chunk_hook
from microstructure.parallel.scheduler import dask_scheduler
from microstructure.parallel.segment import segment_am_chunked, segmentation_chunked
from microstructure.parallel.store import write_volume_resumable

__all__ = [
    "dask_scheduler",
    "map_slices",
    "curtaining_z_halo",
    "distance_capped_nm",
    "halo_voxels",
    "invasion_radius_chunked",
    "simulate_mip_chunked",
    "local_thickness_chunked",
    "granulometry_chunked",
    "geometry_chunked",
    "align_chunked",
    "set_chunk_hook",
    "ChunkedLabels",
    "label_chunked",
    "segment_am_chunked",
    "segmentation_chunked",
    "write_volume_resumable",
]
