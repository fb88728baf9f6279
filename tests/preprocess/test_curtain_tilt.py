"""The curtain tilt on the ``realistic`` phantom (issue 19): dense, faint curtains (rms 0.01)
tilted by 2 deg under band-limited noise (0.07).

The tilt used to be searched on 8 slices after a 4 px row high-pass: 2.29 / 1.84 deg on
seeds 2 / 3 and 1.08 deg on seed 2 under a 24-row cap, and the destriper then removed the
curtains along the wrong lines. With a 1 px high-pass on 16 slices it is found within
0.05 deg.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from microstructure.phantom import generate_phantom
from microstructure.preprocess import _curtain_angle, remove_curtaining, remove_curtaining_report
from microstructure.preprocess._curtain_angle import estimate_curtain_angle
from microstructure.preprocess._destripe import ANGLE_SLICES, angle_index, resolve_angle

SHAPE = (64, 160, 160)
TRUE_TILT_DEG = 2.0


def _realistic(seed: int) -> np.ndarray:
    ph = generate_phantom(SHAPE, seed=seed, preset="realistic")
    return ph.image.astype(np.float32) / 255.0


def _capped(seed: int, rows: int = 24):
    """The phantom with a cap seen over ``rows`` rows by every slice and the first row
    below the cap plus the drift's reach, as ``docs/scripts/realistic_phantom_eval.py``."""
    from microstructure.phantom.acquisition import with_fiducial

    ph = generate_phantom(SHAPE, seed=seed, preset="realistic")
    dy = np.asarray(ph.shifts_px)[:, 0]
    capped = with_fiducial(ph, rows + math.ceil(max(0.0, -float(dy.min()))), seed=seed)
    r0 = capped.truth["fiducial"]["rows"] + math.ceil(max(0.0, float(dy.max())))
    return capped, r0


def test_angle_slices_evenly_spaced():
    idx = angle_index(64)
    assert idx.size == ANGLE_SLICES and idx[0] == 0 and idx[-1] == 63
    assert angle_index(5).tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("seed", [3, 4])
def test_tilt_of_faint_dense_curtains(seed, monkeypatch):
    """Seeds 3 and 4 (seed 2 until the shine-through rendering of 2026-12-08: on it the old
    search finds 2.02 there, and 0.26 / 1.86 on seeds 4 / 3)."""
    img = _realistic(seed)
    # what the destriper uses (no cap on these slices)
    assert abs(resolve_angle(img, None, 4.0) - TRUE_TILT_DEG) < 0.12  # 1.97 / 1.98
    # the old search (4 px high-pass, 8 slices) is off by more: the bound can fail
    monkeypatch.setattr(_curtain_angle, "ANGLE_HIGHPASS_PX", 4.0)
    s8 = np.unique(np.linspace(0, 63, 8).astype(int))
    old = estimate_curtain_angle(img[s8], 4.0)[0]
    assert abs(old - TRUE_TILT_DEG) > 0.12  # 1.86 / 0.26


def test_tilt_and_residual_below_a_cap():
    """Seed 2 under the cap: tilt 1.08 deg before, curtain residual below the cap 0.64 (of
    the curtain energy); now the tilt is within 0.12 deg (2.006) and the residual 0.61 (0.53
    before the shine-through rendering of 2026-12-08). One pass of the fade model over 31
    slices (about the CPU time of the robust default) leaves 0.59 (was 0.49)."""
    capped, r0 = _capped(2)
    img = capped.image.astype(np.float32) / 255.0
    out, info = remove_curtaining_report(img)
    assert info["cap_rows"] > 24
    assert abs(info["angle_deg"] - TRUE_TILT_DEG) < 0.12  # was 1.08
    curtain = np.asarray(capped.curtain, dtype=np.float32)[:, r0:]

    def residual(destriped: np.ndarray) -> float:
        removed = (img - destriped)[:, r0:]
        return float(np.mean((removed - curtain) ** 2) / np.mean(curtain**2))

    robust = residual(out)
    assert robust < 0.65  # measured 0.61 (0.64 with the old tilt on the old rendering)
    fade = residual(remove_curtaining(img, method="fade", iterations=1, z_window=31))
    assert fade < min(robust, 0.62)  # measured 0.59


def test_no_spurious_tilt_on_the_default_phantom():
    """The default phantom's wide classic curtains are vertical: seed 6 gave 0.30 deg."""
    img = generate_phantom(SHAPE, seed=6).image.astype(np.float32) / 255.0
    assert resolve_angle(img, None, 4.0) == 0.0
