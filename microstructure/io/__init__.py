"""Input/output: stacks with voxel sizes, label maps, measured MIP files."""

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
