"""Input/output: stacks with voxel sizes, label maps, tables (a leaf: imports only
:mod:`microstructure.volume`; measured MIP files are read by
:mod:`microstructure.porosimetry.measured`)."""

from microstructure.io.labels import apply_label_map, parse_label_map
from microstructure.io.stacks import (
    natural_key,
    read_metadata_voxel_size,
    read_volume,
    write_volume,
)

__all__ = [
    "read_volume",
    "write_volume",
    "read_metadata_voxel_size",
    "parse_label_map",
    "apply_label_map",
    "natural_key",
]
