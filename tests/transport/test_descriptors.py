"""Geodesic tortuosity, constrictivity, Stenzel predictions and the Figure 4 analogue."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microstructure.transport import formulas as F
from microstructure.transport.descriptors import (
    constrictivity,
    geodesic_tortuosity,
    transport_descriptors,
)
from microstructure.transport.figure import m_factor_curve, plot_m_factor_vs_porosity


def test_geodesic_tortuosity_straight_channel_is_one():
    lab = np.ones((20, 15, 15), np.uint8)
    lab[:, 3, 4] = 0
    lab[:, 9:12, 9:12] = 0
    res = geodesic_tortuosity(lab, voxel_size_nm=(10.0, 5.0, 7.0), axis="z")
    assert res.mean == pytest.approx(1.0)
    assert res.n_paths == 10
    assert res.thickness_nm == pytest.approx(200.0)


def test_geodesic_tortuosity_inclined_channel_anisotropic():
    # a channel stepping one voxel in y per voxel in z: length sqrt(hz^2 + hy^2) per step
    n, hz, hy = 30, 10.0, 20.0
    lab = np.ones((n, n + 1, 3), np.uint8)
    for i in range(n):
        lab[i, i, 1] = 0
    res = geodesic_tortuosity(lab, voxel_size_nm=(hz, hy, 5.0), axis="z")
    expected = ((n - 1) * math.hypot(hz, hy) + hz) / (n * hz)
    assert res.mean == pytest.approx(expected, rel=1e-9)
    # the 6-connected metric cannot follow it: the diagonal steps are not face-connected
    res6 = geodesic_tortuosity(lab, voxel_size_nm=(hz, hy, 5.0), axis="z", fully_connected=False)
    assert res6.n_paths == 0 and math.isnan(res6.mean)


def _dijkstra_reference(mask2d, hz, hy):
    """Brute-force 8-connected Dijkstra (scipy.sparse.csgraph) from the whole inlet row."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import dijkstra

    nz, ny = mask2d.shape
    idx = -np.ones(mask2d.shape, int)
    pts = np.argwhere(mask2d)
    idx[tuple(pts.T)] = np.arange(len(pts))
    src = len(pts)  # super source linked to the inlet row at zero cost
    rows, cols, w = [], [], []
    for n, (i, j) in enumerate(pts):
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                a, b = i + di, j + dj
                if (di, dj) != (0, 0) and 0 <= a < nz and 0 <= b < ny and mask2d[a, b]:
                    rows.append(n)
                    cols.append(idx[a, b])
                    w.append(math.hypot(di * hz, dj * hy))
        if i == 0:
            rows.append(src)
            cols.append(n)
            w.append(1e-300)
    g = sp.csr_matrix((w, (rows, cols)), shape=(src + 1, src + 1))
    dist = dijkstra(g, indices=src)
    out = dist[idx[nz - 1][mask2d[nz - 1]]]
    return float(np.mean((out + hz) / (nz * hz)))


def test_geodesic_tortuosity_detour_matches_dijkstra():
    lab = np.zeros((21, 25, 1), np.uint8)
    lab[10, :20, 0] = 1  # wall across z with a gap at y = 20..24
    lab[15, 8:, 0] = 1  # second wall with a gap at y = 0..7
    hz, hy = 10.0, 14.0
    res = geodesic_tortuosity(lab, voxel_size_nm=(hz, hy, 3.0), axis="z")
    ref = _dijkstra_reference(lab[..., 0] == 0, hz, hy)
    assert res.mean == pytest.approx(ref, rel=1e-9)
    assert res.mean > 1.5
    assert res.n_paths == 25
    with pytest.raises(ValueError, match="phases"):
        geodesic_tortuosity(np.ones((4, 4, 4), np.uint8), voxel_size_nm=1, axis="z")


def test_constrictivity_from_radius_arrays():
    rng = np.random.default_rng(0)
    mask = rng.random((10, 10, 10)) < 0.4
    r_gran = np.where(mask, 100.0, 0.0)
    r_mip = np.where(mask, 50.0, 0.0)
    r_mip[mask & (rng.random(mask.shape) < 0.2)] = 0.0  # never intruded: excluded
    res = constrictivity(r_mip, r_gran, mask)
    assert res.r_min_nm == 50.0 and res.r_max_nm == 100.0
    assert res.constrictivity == pytest.approx(0.25)
    # a wide distribution: volume medians
    r_gran2 = np.where(mask, rng.uniform(10, 30, mask.shape), 0.0)
    res2 = constrictivity(r_mip, r_gran2)
    assert res2.r_max_nm == pytest.approx(np.median(r_gran2[mask]))
    with pytest.raises(ValueError, match="shapes differ"):
        constrictivity(r_mip[:5], r_gran)
    with pytest.raises(ValueError, match="radii"):
        constrictivity(-r_mip, r_gran)


def test_transport_descriptors_straight_channels():
    lab = np.ones((16, 16, 16), np.uint8)
    lab[:, ::4, ::4] = 0
    mask = lab == 0
    r = np.where(mask, 18.6, 0.0)
    out = transport_descriptors(
        lab, voxel_size_nm=37.2, axis="z", mip_radius_nm=r, granulometry_radius_nm=r,
        m_simulated=0.0625,
    )  # fmt: skip
    assert out.geodesic_tortuosity == pytest.approx(1.0)
    assert out.constrictivity == pytest.approx(1.0)
    # eps beta^0.37 / tau^4.39 with beta = tau = 1
    assert out.m_stenzel == pytest.approx(out.porosity**1.15)
    assert out.m_stenzel_simplified == pytest.approx(out.porosity)
    assert out.to_dict()["m_simulated"] == 0.0625


def test_m_factor_curve_seed003_shape():
    curve = m_factor_curve(m_intragranular=0.245)
    x = curve.intergranular_porosity
    gap = curve.m_combined - curve.m_inter
    # no particle percolation above about 0.245 (seed 003); ours starts at 0.249
    assert np.all(gap[x > 0.25] == 0)
    assert np.all(gap[x < 0.24] > 0)
    # full compaction: about 0.19 remains
    assert curve.m_combined[0] == pytest.approx(0.19, abs=0.005)
    assert curve.m_inter[0] == 0.0
    assert np.all(curve.m_combined <= curve.hs_upper + 1e-12)
    np.testing.assert_allclose(curve.m_inter, F.bruggeman(x))


def test_plot_writes_png(tmp_path):
    out = plot_m_factor_vs_porosity(tmp_path / "fig4.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    with pytest.raises(ValueError, match="path"):
        plot_m_factor_vs_porosity(tmp_path / "missing" / "fig.png")
