"""Shared geometry builders for the porosimetry tests."""

from __future__ import annotations

import numpy as np
import pytest
from porosimetry_shapes import ball_mask, overlapping_spheres

__all__ = ["ball_mask", "overlapping_spheres"]


@pytest.fixture
def spheres_image():
    """A 40^3 overlapping-spheres pore space (True = pore), porosity ~0.5."""
    return overlapping_spheres((40, 40, 40), 5, 0.5, seed=7)


@pytest.fixture
def random_image():
    """Blurred random noise thresholded: a connected 36^3 pore space (no PoreSpy needed)."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(3)
    noise = ndi.gaussian_filter(rng.random((36, 36, 36)), 2.0)
    return noise > np.quantile(noise, 0.55)
