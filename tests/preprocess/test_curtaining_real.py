"""Curtaining on real EM data: the nanomesh nanopore volume (faint full-height streaks, real
vertical pores). Skips when ../shared/validation is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from microstructure.preprocess import remove_curtaining_report

VALIDATION = Path(__file__).resolve().parents[2] / ".." / "shared" / "validation"
NANOMESH = VALIDATION / "nanomesh_nanopores3d.npy"


def _column_streak_energy(stack: np.ndarray) -> float:
    """Variance across x of the column means of the row-high-passed slices (9-px box)."""
    hp = stack - ndimage.uniform_filter1d(stack, 9, axis=2)
    return float(np.mean(np.var(hp.mean(axis=1), axis=1)))


@pytest.fixture(scope="module")
def nanomesh() -> np.ndarray:
    if not NANOMESH.is_file():
        pytest.skip(f"validation file {NANOMESH.name} not available in {VALIDATION}")
    vol = np.load(NANOMESH).astype(np.float32) / 255.0
    # the faint streaks run along the file's first axis (column means along it are 32x the
    # incoherent level, neighbouring planes correlate 0.94); make it the slices' y axis
    return np.ascontiguousarray(vol.transpose(1, 0, 2)[:64])


def test_nanomesh_faint_streaks_reduced_without_boundary_damage(nanomesh):
    vol = nanomesh
    out, info = remove_curtaining_report(vol)
    before = _column_streak_energy(vol)
    after = _column_streak_energy(out)
    assert after < 0.65 * before  # measured 0.48 (the issue: not reduced)
    removed = np.abs(vol - out)
    rng = float(np.ptp(vol))
    # boundaries are not special: the end slices and columns take no larger edits than
    # the inside (the issue: up to 0.23 of the range at the last slice and columns)
    inner = removed[8:-8, :, 8:-8].max()
    for part in (removed[-1], removed[0], removed[:, :, -4:], removed[:, :, :4]):
        assert part.max() < 0.1 * rng  # measured <= 0.04
        assert part.max() <= 1.2 * inner
    assert info["removed_is_stripe_like"]  # measured 0.99 of it stripe energy
    assert info["energy_changed_outside_wedge"] < 0.05  # measured 0.002
    assert np.mean((vol - out) ** 2) < 0.02 * np.var(vol)
    # honest: these streaks change within a few planes, so the default 21-slice median
    # leaves 0.57 of their wedge energy, and the quality block says so
    check = info["quality"]["checks"]["stripe_energy_left"]
    assert not check["passed"] and not info["quality"]["ok"]
    assert any("stripe_energy_left" in f for f in info["quality"]["flags"])


def test_nanomesh_streaks_removed_with_a_short_z_window(nanomesh):
    """With a z window that matches how long the streaks persist (5 planes) and a lower
    garrote threshold the check passes: 0.19 left, column-streak energy 0.18 of before."""
    vol = nanomesh
    out, info = remove_curtaining_report(vol, z_window=5, threshold=1.5)
    assert _column_streak_energy(out) < 0.3 * _column_streak_energy(vol)  # measured 0.18
    assert info["stripe_energy_left_fraction"] <= 0.35  # measured 0.19 +- 0.02
    assert info["quality"]["ok"]


def test_nanomesh_streaks_across_the_lattice_are_not_curtains(nanomesh):
    """Destriping the wrong direction (rows along the pores that run along x): what the old
    report called stripe-like (share of a 14 deg wedge 0.97 >= 2 x 0.16) removes real pores,
    with the largest edits at the end slices; the new numbers do not say it worked."""
    vol = np.ascontiguousarray(nanomesh.transpose(1, 0, 2))  # back to the file's (y, z, x)
    _, info = remove_curtaining_report(vol, direction="horizontal")
    assert info["stripe_likeness"] >= 2 * info["isotropic_baseline"]  # the old verdict
    q = info["quality"]
    left = info["stripe_energy_left_fraction"]
    # more stripe-wedge energy after than before: removing pores adds stripes of the
    # opposite sign; the block either fails or flags the number as too uncertain
    assert left > 1.0
    assert not q["ok"] or any("stripe energy left" in f for f in q["flags"])


def test_nanomesh_fade_method_short_window_without_boundary_damage(nanomesh):
    """The fade model on the real streaks (z window 5, garrote 1.5): column-streak energy
    0.33 of before, 0.22 of the wedge energy left, and the end slices and columns edited no
    more than the inside (measured 1.04x at the last slice)."""
    vol = nanomesh
    out, info = remove_curtaining_report(vol, method="fade", z_window=5, threshold=1.5)
    assert info["method"] == "fade"
    assert _column_streak_energy(out) < 0.45 * _column_streak_energy(vol)  # measured 0.33
    assert info["stripe_energy_left_fraction"] <= 0.35  # measured 0.22 +- 0.02
    assert info["energy_changed_outside_wedge"] < 0.05  # measured 0.027
    removed = np.abs(vol - out)
    inner = removed[8:-8, :, 8:-8].max()
    for part in (removed[-1], removed[0], removed[:, :, -4:], removed[:, :, :4]):
        assert part.max() < 0.1 * float(np.ptp(vol))  # measured <= 0.072
        assert part.max() <= 1.2 * inner
