"""Connected components of in-memory masks: the structuring elements, the labelling and the
pore components enclosed by solid (closed pores without per-particle rules).

A leaf module (numpy and SciPy only) so that the chunked code and the in-memory steps it runs
on a whole volume share one definition with :mod:`microstructure.segment.cleanup`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["structure", "label_components", "face_labels", "enclosed_pores"]

_FULL = np.ones((3, 3, 3), dtype=bool)
_FACE = ndimage.generate_binary_structure(3, 1)


def structure(connectivity: int) -> np.ndarray:
    """The 3D structuring element of a connectivity (6, 18 or 26)."""
    if connectivity == 26:
        return _FULL
    if connectivity == 18:
        return ndimage.generate_binary_structure(3, 2)
    if connectivity == 6:
        return _FACE
    raise ValueError(f"connectivity: expected 6, 18 or 26, got {connectivity!r}")


def label_components(mask: np.ndarray, *, connectivity: int = 26) -> tuple[np.ndarray, int]:
    """Connected components of a boolean mask (int32 labels, 0 = background) and their count."""
    lab, n = ndimage.label(mask, structure=structure(connectivity), output=np.int32)
    return lab, int(n)


def face_labels(lab: np.ndarray) -> np.ndarray:
    """The labels present on the six faces of a 3D label volume."""
    faces = (lab[0], lab[-1], lab[:, 0], lab[:, -1], lab[:, :, 0], lab[:, :, -1])
    return np.unique(np.concatenate([f.ravel() for f in faces]))


def enclosed_pores(am: np.ndarray, *, connectivity: int = 26) -> tuple[np.ndarray, np.ndarray]:
    """The pore components (``~am``) that touch no face of the volume, and their sizes.

    Returns
    -------
    (ndarray, ndarray)
        Bool mask of the enclosed pore voxels and the voxel count of each enclosed component
        (in label order).
    """
    lab, n = label_components(~am, connectivity=connectivity)
    if n == 0:
        return np.zeros(am.shape, dtype=bool), np.zeros(0, dtype=np.int64)
    keep = np.ones(n + 1, dtype=bool)
    keep[face_labels(lab)] = False
    keep[0] = False
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    return keep[lab], sizes[keep]
