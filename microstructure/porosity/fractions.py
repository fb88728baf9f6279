"""Phase fractions and total porosity of a labels volume.

A labels volume holds the phase codes of :class:`microstructure.volume.Phase`: 0 pore, 1 active
material (AM), 2 carbon-binder domain (CBD) solid, 3 resolved pore inside the CBD. All
fractions are of the whole volume and lie in 0..1.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from microstructure.volume import PHASE_NAMES, check_labels

__all__ = ["phase_counts", "phase_fractions", "total_porosity", "check_fraction"]


def check_fraction(value: Any, *, name: str, allow_one: bool = False) -> float:
    """Validate a fraction in ``[0, 1)`` (or ``[0, 1]`` with ``allow_one``) and return it."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a fraction 0..1, got {value!r}") from None
    upper_ok = x <= 1.0 if allow_one else x < 1.0
    if not (math.isfinite(x) and x >= 0.0 and upper_ok):
        bound = "0..1" if allow_one else "0 <= value < 1"
        raise ValueError(f"{name}: expected a fraction {bound}, got {value!r}")
    return x


def phase_counts(labels: Any) -> dict[str, int]:
    """Number of voxels of each phase.

    Parameters
    ----------
    labels
        3D labels volume (z, y, x) with phase codes 0..3.

    Returns
    -------
    dict
        ``{"pore": n0, "am": n1, "cbd": n2, "cbd_pore": n3}``.
    """
    arr = check_labels(labels)
    counts = _count_phases(arr)
    return {PHASE_NAMES[p]: int(counts[p]) for p in range(4)}


def _count_phases(arr: np.ndarray) -> list[int]:
    """Voxel count of phases 0..3 of a validated labels array (faster than bincount on uint8)."""
    counts = [int(np.count_nonzero(arr == p)) for p in (1, 2, 3)]
    return [int(arr.size) - sum(counts), *counts]


def phase_fractions(labels: Any) -> dict[str, float]:
    """Volume fraction of each phase in a labels volume.

    Parameters
    ----------
    labels
        3D labels volume (z, y, x) with phase codes 0 pore, 1 AM, 2 CBD, 3 CBD pore.

    Returns
    -------
    dict
        Keys ``pore``, ``am``, ``cbd``, ``cbd_pore``; values are fractions of the whole volume
        (0..1, summing to 1).

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[[0, 1], [1, 2]]], np.uint8)
    >>> phase_fractions(labels)
    {'pore': 0.25, 'am': 0.5, 'cbd': 0.25, 'cbd_pore': 0.0}
    """
    counts = phase_counts(labels)
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()}


def _total_from_fractions(fr: dict[str, float], cbd_nanoporosity: float) -> float:
    return fr["pore"] + fr["cbd_pore"] + cbd_nanoporosity * fr["cbd"]


def total_porosity(labels: Any, *, cbd_nanoporosity: float = 0.0) -> float:
    """Total porosity of a labels volume.

    The resolved pore space (phases 0 and 3) plus, when ``cbd_nanoporosity`` is given, the
    unresolved pore fraction of the CBD solid phase (phase 2):
    ``eps = f_pore + f_cbd_pore + cbd_nanoporosity * f_cbd``.

    Parameters
    ----------
    labels
        3D labels volume (z, y, x) with phase codes 0..3.
    cbd_nanoporosity
        Fraction (0 <= value < 1) of each CBD-solid voxel that is sub-voxel pore space, e.g.
        0.502 for the CBD of Beuse et al. 2021 when its nanopores are not resolved in the labels.

    Returns
    -------
    float
        Porosity as a fraction of the whole volume (0..1).

    Examples
    --------
    Pore voxels plus the CBD's own nanoporosity (here half of the CBD volume):

    >>> import numpy as np
    >>> labels = np.array([[[0, 1], [1, 2]]], np.uint8)
    >>> total_porosity(labels, cbd_nanoporosity=0.5)
    0.375
    """
    cbd_nanoporosity = check_fraction(cbd_nanoporosity, name="cbd_nanoporosity")
    return _total_from_fractions(phase_fractions(labels), cbd_nanoporosity)
