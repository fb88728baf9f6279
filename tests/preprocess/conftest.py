"""Small phantoms shared by the preprocessing tests (generated once per session)."""

from __future__ import annotations

import pytest

from microstructure.phantom import generate_phantom


@pytest.fixture(scope="session")
def drift_pair():
    """The same 100 x 128 x 128 structure acquired with a random-walk drift and without.

    Curtains are off (alignment runs after destriping); noise is on. The drift is a Gaussian
    random walk of 1.5 px per slice and axis (seed 1: 25 x 27 px peak to peak).
    """
    common = dict(voxel_size_nm=60.0, seed=1, canvas_margin_px=32, curtain_strength=0.0)
    drifted = generate_phantom((100, 128, 128), drift_step_px=1.5, **common)
    still = generate_phantom((100, 128, 128), drift_step_px=0.0, **common)
    return drifted, still


@pytest.fixture(scope="session")
def curtain_phantom():
    """48 x 128 x 128 phantom with default curtains (partly fading), noise and small drift."""
    return generate_phantom((48, 128, 128), voxel_size_nm=60.0, seed=2, drift_step_px=0.3)
