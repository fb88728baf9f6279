"""Real third-party labels volumes (skipped when ../shared/validation is absent)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from microstructure.faces import face_mask, parse_faces
from microstructure.porosity import find_closed_pores, phase_fractions, porosity_report

tifffile = pytest.importorskip("tifffile")


@pytest.fixture
def matbox(validation_file):
    return tifffile.imread(validation_file("matbox_nmc-1-cal_generatedCBD_bridge.tif"))


def test_matbox_fractions(matbox):
    assert matbox.shape == (251, 301, 301)
    fr = phase_fractions(matbox)
    assert round(fr["pore"], 4) == 0.4005
    assert round(fr["am"], 4) == 0.4995
    assert round(fr["cbd"], 4) == 0.1000
    assert fr["cbd_pore"] == 0.0


def test_matbox_closed_porosity_small_and_matches_flood_fill(matbox):
    res = find_closed_pores(matbox, faces="all", connectivity=6)
    assert 0 < res.closed_porosity < 0.005  # well-connected calendered electrode
    # reference: constrained flood fill (iterated dilation) from the face voxels
    pore = matbox == 0
    seeds = pore & face_mask(pore.shape, parse_faces("all"))
    flooded = ndi.binary_propagation(seeds, mask=pore)
    assert np.array_equal(res.accessible_mask, flooded)
    assert res.closed_porosity == pytest.approx(np.count_nonzero(pore & ~flooded) / pore.size)
    # the same answer as PoreSpy's disconnected-voxel filter (on a slab, to stay fast)
    ps = pytest.importorskip("porespy")
    slab = matbox[:60]
    disc = ps.filters.find_disconnected_voxels(slab == 0, conn="min")
    assert disc.any()
    assert np.array_equal(disc, find_closed_pores(slab).closed_mask)
    # access through one face only closes more
    top_only = find_closed_pores(slab, faces="top", connectivity=6)
    assert top_only.closed_porosity > disc.mean()


def test_taufactor_electrode_fractions(validation_file):
    raw = tifffile.imread(validation_file("taufactor_electrode.tiff"))
    assert set(np.unique(raw).tolist()) == {0, 85, 170}
    lut = np.zeros(256, dtype=np.uint8)
    lut[85], lut[170] = 1, 2
    labels = lut[raw]
    fr = phase_fractions(labels)
    assert (round(fr["pore"], 4), round(fr["am"], 4), round(fr["cbd"], 4)) == (
        0.4499,
        0.4005,
        0.1496,
    )
    rep = porosity_report(labels, surface=False)
    assert rep["accessible_porosity"] + rep["closed_porosity"] == pytest.approx(fr["pore"])
