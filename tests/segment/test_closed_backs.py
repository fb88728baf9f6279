"""Closed pores lit by their own back wall (``microstructure.segment.closed_backs``).

Ground truth: a solid block with spherical cavities and an open channel, rendered slice by
slice with shine-through (each pore pixel shows the wall met behind it, attenuated with the
depth) and the SE edge effect on the cut edges; and the ``realistic`` phantom. The lit backs
of the cavities are labelled solid by a global threshold; the completion must give them back
to the closed pores, leave flat solid and open pores alone, and run only when shine-through is
seen in front of the solid.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy import ndimage

from microstructure.segment import segment_am_report, segmentation
from microstructure.segment.cleanup import closed_pores
from microstructure.segment.closed_backs import complete_closed_pores

SOLID, PORE = 0.8, 0.15
CENTRES = ((12, 16, 16), (14, 16, 46), (26, 44, 20), (28, 44, 46))


@functools.lru_cache(maxsize=4)
def lit_cavities(strength: float = 1.0, noise: float = 0.01, seed: int = 0):
    """(pore truth, closed truth, image): a 40 x 64 x 64 solid block with four cavities of
    radius 4.5 voxels and an open channel (radius 3) along x, milled towards +z; a pore pixel
    shows the wall at depth d behind it with weight strength * exp(-d / 3) (plus 0.1 pore-back
    brightness), solid pixels next to a pore in the plane are 0.12 brighter; PSF 0.7 px."""
    shape = (40, 64, 64)
    z, y, x = np.indices(shape)
    pore = np.zeros(shape, bool)
    for cz, cy, cx in CENTRES:
        pore |= (z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= 4.5**2
    closed = pore.copy()
    pore |= (z - 20) ** 2 + (y - 30) ** 2 <= 9  # the open channel along x
    img = np.where(pore, PORE, SOLID).astype(np.float32)
    plane = np.zeros((3, 3, 3), bool)
    plane[1] = ndimage.generate_binary_structure(2, 1)
    img[~pore & ndimage.binary_dilation(pore, plane)] += 0.12
    depth = np.zeros(shape, np.float32)
    behind = np.full(shape[1:], np.inf, np.float32)
    for k in range(shape[0] - 1, -1, -1):
        behind = np.where(pore[k], behind + 1, 0)
        depth[k] = behind
    lit = np.isfinite(depth) & pore
    w = strength * np.exp(-np.where(lit, depth, 0) / 3.0)
    img[lit] = PORE + w[lit] * (SOLID + 0.1 - PORE)
    img = np.stack([ndimage.gaussian_filter(s, 0.7) for s in img])
    img += np.random.default_rng(seed).normal(0, noise, shape).astype(np.float32)
    return pore, closed, img


def test_lit_cavity_backs_are_given_back_to_the_closed_pores() -> None:
    """Measured: the threshold keeps 0.54 of the cavity voxels as closed pores; the
    completion brings 0.76, 92 % of the relabelled voxels inside a cavity, the channel
    untouched."""
    pore, closed_truth, img = lit_cavities()
    am = img > 0.5 * (SOLID + PORE)
    before = closed_pores(am)
    assert np.count_nonzero(before) < 0.65 * np.count_nonzero(closed_truth)
    out, info = complete_closed_pores(img, am, contrast=SOLID - PORE)
    relabelled = am & ~out
    assert info["relabelled_voxels"] == np.count_nonzero(relabelled) > 0
    assert not (out & ~am).any()  # only ever relabels AM as pore
    assert np.count_nonzero(relabelled & closed_truth) >= 0.85 * np.count_nonzero(relabelled)
    after = closed_pores(out)
    recall = np.count_nonzero(after & closed_truth) / np.count_nonzero(closed_truth)
    recall0 = np.count_nonzero(before & closed_truth) / np.count_nonzero(closed_truth)
    assert recall > recall0 + 0.15
    assert np.count_nonzero(after & ~closed_truth) <= 0.05 * np.count_nonzero(after)
    # the open channel (lit from behind too) is never touched: only closed pores are continued
    channel = pore & ~closed_truth
    assert not (relabelled & ndimage.binary_dilation(channel, iterations=2)).any()
    assert not np.shares_memory(out, am)


def test_no_closed_pores_or_no_dip_changes_nothing() -> None:
    _, _, img = lit_cavities()
    solid = np.ones(img.shape, bool)
    flat = np.full(img.shape, SOLID, np.float32)
    out, info = complete_closed_pores(flat, solid, contrast=SOLID - PORE)
    assert info["relabelled_voxels"] == 0 and out.all()
    # a dip so strong that nothing qualifies: nothing relabelled
    am = img > 0.5 * (SOLID + PORE)
    out, info = complete_closed_pores(img, am, contrast=SOLID - PORE, dip=5.0)
    assert info["relabelled_voxels"] == 0 and np.array_equal(out, am)


def test_bad_options_are_one_line_errors() -> None:
    _, _, img = lit_cavities()
    am = img > 0.5
    with pytest.raises(ValueError, match="contrast"):
        complete_closed_pores(img, am, contrast=0.0)
    with pytest.raises(ValueError, match="dip"):
        complete_closed_pores(img, am, contrast=0.6, dip=-1.0)
    with pytest.raises(ValueError, match="am: shape"):
        complete_closed_pores(img, am[:3], contrast=0.6)


def test_runs_only_when_shine_through_is_seen_and_is_reported() -> None:
    """The segmentation runs the completion when the front/back asymmetry sees shine-through
    (these cavities: the back of each cavity lit, its front dark) and says so; with
    ``pore_backs = "off"`` it does not; the chunked path gives the same result."""
    _, closed_truth, img = lit_cavities()
    _, info = segment_am_report(img, method="otsu", pore_backs="off")
    assert "closed_pore_backs" not in info["shine_through"]
    seg = segmentation(img, method="otsu", refine="none")
    shine = seg.info["shine_through"]
    if not shine["seen_in_front"]:
        pytest.fail(f"shine-through not seen on lit cavities: {shine['front_back_asymmetry']}")
    cb = shine["closed_pore_backs"]
    assert cb["applied"] and cb["relabelled_voxels"] > 0
    # the dim closed pores (3D dips) and the back caps run in the same step, reported
    assert shine["dim_closed_pores"]["applied"] and "back_cap_voxels" in cb
    assert any("lit backs" in f for f in seg.info["quality"]["flags"])
    # the lit fronts of the solid are trimmed in the same step: then the check passes
    ft = shine["front_trim"]
    assert ft["applied"] and ft["trimmed_voxels"] >= 0
    assert seg.info["quality"]["checks"]["shine_through_unhandled"]["passed"]
    # the chunked path runs the same whole-volume step (it fits the memory budget here)
    lazy = segmentation(img, method="otsu", refine="none", chunks=16)
    assert lazy.info["shine_through"]["closed_pore_backs"] == cb
    assert lazy.info["shine_through"]["dim_closed_pores"] == shine["dim_closed_pores"]
    assert lazy.info["shine_through"]["front_trim"] == ft
    np.testing.assert_array_equal(np.asarray(lazy.am), np.asarray(seg.am))


def test_realistic_phantom_closed_pores_rise_and_relabelled_voxels_are_pore() -> None:
    """Realistic phantom 40 x 112 x 112 (drift off) through curtaining removal and NLM, as
    the segment stage sees it; seed 4 (not one the phantom was tuned on). Measured: 225
    voxels relabelled, 99 % of them pore in the truth, closed-pore voxels x 5.0 (seeds 5 / 6:
    84 % / 95 %, x 1.2 / x 2.7)."""
    from microstructure.phantom import generate_phantom
    from microstructure.preprocess.curtaining import remove_curtaining
    from microstructure.preprocess.denoise import denoise_nl_means

    ph = generate_phantom(
        (40, 112, 112), seed=4, preset="realistic", drift_step_px=0.0, drift_jump_probability=0.0
    )
    img = denoise_nl_means(remove_curtaining(ph.image.astype(np.float32) / 255.0))
    am_truth = (ph.labels_sectioned if ph.labels_sectioned is not None else ph.labels) == 1
    mask, info = segment_am_report(img, method="auto", pore_backs="off", refine="none")
    out, cinfo = complete_closed_pores(img, mask, contrast=info["grey_stats"]["contrast"])
    relabelled = mask & ~out
    assert cinfo["relabelled_voxels"] > 100
    assert np.count_nonzero(relabelled & ~am_truth) >= 0.8 * np.count_nonzero(relabelled)
    assert np.count_nonzero(closed_pores(out)) > 1.5 * np.count_nonzero(closed_pores(mask))
