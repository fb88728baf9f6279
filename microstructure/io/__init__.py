"""Input/output: stacks with voxel sizes, OME-Zarr / OME-TIFF, label maps, tables (a leaf:
imports only :mod:`microstructure.volume`; measured MIP files are read by
:mod:`microstructure.porosimetry.measured`).

Public names: :func:`read_volume`, :func:`write_volume` (``format="tiff" | "ome-tiff" | "zarr"
| "ome-zarr" | "npy"``), :func:`open_volume_lazy` (Dask, for viewers), :func:`write_ome_zarr`,
:func:`read_ome_zarr`, :func:`is_ome_zarr`, :func:`write_ome_tiff`, :func:`phase_lut`,
:func:`read_metadata_voxel_size`, :func:`parse_label_map`, :func:`apply_label_map`,
:func:`natural_key`.
"""

from microstructure.io.labels import apply_label_map, parse_label_map
from microstructure.io.lazy import open_volume_lazy
from microstructure.io.ome import (
    is_ome_zarr,
    phase_lut,
    read_ome_zarr,
    write_ome_tiff,
    write_ome_zarr,
)
from microstructure.io.stacks import (
    WRITE_FORMATS,
    natural_key,
    read_metadata_voxel_size,
    read_volume,
    write_volume,
)

__all__ = [
    "read_volume",
    "write_volume",
    "WRITE_FORMATS",
    "open_volume_lazy",
    "write_ome_zarr",
    "read_ome_zarr",
    "is_ome_zarr",
    "write_ome_tiff",
    "phase_lut",
    "read_metadata_voxel_size",
    "parse_label_map",
    "apply_label_map",
    "natural_key",
]
