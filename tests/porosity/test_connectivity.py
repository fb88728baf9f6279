"""Closed and accessible porosity: phantoms, brute force, backends, face selection."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from microstructure.faces import parse_faces
from microstructure.porosity import (
    accessible_porosity,
    closed_porosity,
    find_closed_pores,
    label_components,
    phase_fractions,
    total_porosity,
)


def _brute_force_accessible(pore: np.ndarray, faces, connectivity: int) -> np.ndarray:
    """Breadth-first search from the pore voxels on the chosen faces (reference)."""
    shape = pore.shape
    seen = np.zeros(shape, dtype=bool)
    queue = deque()
    for idx in zip(*np.nonzero(pore), strict=True):
        if any(idx[a] == (0 if s == 0 else shape[a] - 1) for a, s in faces):
            seen[idx] = True
            queue.append(idx)
    if connectivity == 6:
        steps = [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)]
    else:
        steps = [
            (a, b, c)
            for a in (-1, 0, 1)
            for b in (-1, 0, 1)
            for c in (-1, 0, 1)
            if (a, b, c) != (0, 0, 0)
        ]
    while queue:
        z, y, x = queue.popleft()
        for dz, dy, dx in steps:
            n = (z + dz, y + dy, x + dx)
            if all(0 <= n[i] < shape[i] for i in range(3)) and pore[n] and not seen[n]:
                seen[n] = True
                queue.append(n)
    return seen


def _block_with_cavity() -> np.ndarray:
    labels = np.ones((12, 14, 16), dtype=np.uint8)  # solid AM block
    labels[4:8, 5:9, 6:10] = 0  # sealed cavity, 64 voxels
    labels[5, 6, 7] = 3  # a CBD-pore voxel inside it is pore space too
    return labels


def test_sealed_cavity_is_closed():
    labels = _block_with_cavity()
    res = find_closed_pores(labels)
    assert res.n_closed_pores == 1
    assert res.closed_sizes_voxels.tolist() == [64]
    assert res.closed_porosity == pytest.approx(64 / labels.size)
    assert res.accessible_porosity == 0.0
    assert res.closed_mask.sum() == 64 and not res.accessible_mask.any()


def test_opening_one_face_makes_it_accessible_only_from_that_face():
    labels = _block_with_cavity()
    labels[0:4, 6, 7] = 0  # channel from the cavity to the z- face
    n_pore = 64 + 4
    assert accessible_porosity(labels) == pytest.approx(n_pore / labels.size)
    assert closed_porosity(labels) == 0.0
    assert accessible_porosity(labels, faces="z-") == pytest.approx(n_pore / labels.size)
    assert closed_porosity(labels, faces="z+,x-,x+,y-,y+") == pytest.approx(n_pore / labels.size)
    # electrode aliases: thickness axis z with the top at index 0 -> "top" is z-
    assert closed_porosity(labels, faces="top", thickness_axis="z") == 0.0
    assert closed_porosity(labels, faces="bottom", thickness_axis="z") > 0
    assert closed_porosity(labels, faces="top", thickness_axis="z", top_at=-1) > 0
    assert closed_porosity(labels, faces="all-but-bottom", thickness_axis="z") == 0.0


def test_diagonal_contact_counts_only_with_26_connectivity():
    labels = np.ones((7, 7, 7), dtype=np.uint8)
    labels[3, 3, 3] = 0
    labels[2, 2, 2] = 0  # touches the cavity only at a corner
    labels[0:2, 2, 2] = 0  # ... and is open to z-
    assert closed_porosity(labels, connectivity=6) == pytest.approx(1 / labels.size)
    assert closed_porosity(labels, connectivity=26) == 0.0


@pytest.mark.parametrize("connectivity", [6, 26])
def test_backends_agree(connectivity):
    rng = np.random.default_rng(3)
    mask = rng.random((30, 31, 32)) < 0.3
    a, na = label_components(mask, connectivity=connectivity, backend="scipy")
    b, nb = label_components(mask, connectivity=connectivity, backend="cc3d")
    assert na == nb
    # identical partitions: a one-to-one map between the labels
    pairs = np.unique(np.stack([a[mask], b[mask]]), axis=1)
    assert pairs.shape[1] == na


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.uint8, st.tuples(*[st.integers(2, 7)] * 3), elements=st.integers(0, 3)),
    st.sampled_from(["all", "top", "z-,x+", "all-but-bottom"]),
    st.sampled_from([6, 26]),
)
def test_matches_brute_force_and_conserves_pore_volume(labels, faces, connectivity):
    res = find_closed_pores(labels, faces=faces, connectivity=connectivity)
    pore = np.isin(labels, (0, 3))
    ref = _brute_force_accessible(pore, parse_faces(faces), connectivity)
    assert np.array_equal(res.accessible_mask, ref)
    assert np.array_equal(res.closed_mask, pore & ~ref)
    # closed + accessible = resolved porosity; sizes add up
    assert res.closed_porosity + res.accessible_porosity == pytest.approx(total_porosity(labels))
    assert int(res.closed_sizes_voxels.sum()) == int(res.closed_mask.sum())
    assert sum(phase_fractions(labels).values()) == pytest.approx(1.0)


@settings(max_examples=25, deadline=None)
@given(arrays(np.uint8, st.tuples(*[st.integers(2, 8)] * 3), elements=st.integers(0, 2)))
def test_more_faces_or_connectivity_never_close_more(labels):
    one = closed_porosity(labels, faces="z-")
    all_faces = closed_porosity(labels, faces="all")
    assert all_faces <= one
    assert closed_porosity(labels, connectivity=26) <= all_faces


def test_validation():
    labels = _block_with_cavity()
    with pytest.raises(ValueError, match="connectivity"):
        find_closed_pores(labels, connectivity=18)
    with pytest.raises(ValueError, match="faces"):
        find_closed_pores(labels, faces="left")
    with pytest.raises(ValueError, match="labels"):
        find_closed_pores(labels.astype(float) + 0.5)
    with pytest.raises(ValueError, match="labels"):
        find_closed_pores(labels[0])
