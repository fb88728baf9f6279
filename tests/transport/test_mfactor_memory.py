"""The memory-lean M-factor path (float32 CG vectors and fused residuals around a float64
iterate, matrix-free operator) against a float64 sparse direct solve of the same finite-volume
system; the lean geodesic-path search against skimage's MCP_Geometric; the memory it needs."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from microstructure.pipeline.memory import STAGE_BYTES_PER_VOXEL
from microstructure.transport import constrictivity, geodesic_tortuosity, m_factor
from microstructure.transport._geodesic import inlet_distances

#: Relative agreement of M with the float64 direct solve, at ``flux_tol = 1e-5``: the flux
#: criterion bounds the error of M by flux_tol; the float32 vectors must not spoil that.
M_RTOL = 1e-5
#: Largest difference of the normalised concentration (0..1) from the direct solve.
FIELD_ATOL = 1e-4


def _phantom(shape, porosity, seed, cbd=0.0):
    """Gaussian random field labels: 0 pore (``porosity``), 2 CBD (``cbd``), 1 solid."""
    rng = np.random.default_rng(seed)
    f = ndi.gaussian_filter(rng.standard_normal(shape), 1.5)
    q = np.quantile(f, [porosity, porosity + cbd])
    lab = np.ones(shape, np.uint8)
    lab[f < q[1]] = 2
    lab[f < q[0]] = 0
    return lab


def _direct(labels, diff, voxel, axis):
    """M and concentration (nan outside the percolating cluster) from a float64 sparse direct
    solve of the finite-volume system (assembled with numpy, solved with SuperLU)."""
    lab = np.moveaxis(labels, axis, 0)
    h = [voxel[axis]] + [voxel[a] for a in range(3) if a != axis]
    d = np.zeros(lab.shape)
    for ph, val in diff.items():
        d[lab == ph] = val
    cl, _ = ndi.label(d > 0)
    both = np.intersect1d(np.unique(cl[0]), np.unique(cl[-1]))
    d[~np.isin(cl, both[both > 0])] = 0.0
    act = d > 0
    n = int(act.sum())
    idx = -np.ones(d.shape, np.int64)
    idx[act] = np.arange(n)
    w = (1.0, (h[0] / h[1]) ** 2, (h[0] / h[2]) ** 2)
    diag = np.zeros(d.shape)
    rows, cols, vals = [], [], []
    for ax in range(3):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[ax], hi[ax] = slice(0, -1), slice(1, None)
        a, b = d[tuple(lo)], d[tuple(hi)]
        with np.errstate(invalid="ignore", divide="ignore"):
            g = np.where((a > 0) & (b > 0), 2 * a * b / (a + b), 0.0) * w[ax]
        diag[tuple(lo)] += g
        diag[tuple(hi)] += g
        sel = g > 0
        ia, ib = idx[tuple(lo)][sel], idx[tuple(hi)][sel]
        rows += [ia, ib]
        cols += [ib, ia]
        vals += [-g[sel], -g[sel]]
    g_in, g_out = 2 * w[0] * d[0], 2 * w[0] * d[-1]
    diag[0] += g_in
    diag[-1] += g_out
    rhs = np.zeros(d.shape)
    rhs[-1] = g_out
    mat = sp.csc_matrix(
        (
            np.concatenate(vals + [diag[act]]),
            (np.concatenate(rows + [idx[act]]), np.concatenate(cols + [idx[act]])),
        ),
        shape=(n, n),
    )
    u = spla.splu(mat).solve(rhs[act])
    field = np.full(d.shape, np.nan)
    field[act] = u
    flux = float(np.nansum(g_in * field[0]))
    m = flux * d.shape[0] / (d.shape[1] * d.shape[2])
    return m, np.moveaxis(field, 0, axis)


@pytest.mark.parametrize(
    ("shape", "voxel", "axis", "diff"),
    [
        ((26, 22, 24), (1.0, 1.0, 1.0), "z", {0: 1.0}),  # one phase: the uint8 operator
        ((20, 28, 22), (30.0, 37.2, 45.0), "y", {0: 1.0}),  # anisotropic voxels
        ((22, 20, 26), (37.2, 37.2, 37.2), "x", {0: 1.0, 2: 0.1}),  # CBD: face conductances
    ],
)
def test_lean_solver_matches_float64_direct_solve(shape, voxel, axis, diff):
    labels = _phantom(shape, 0.32, seed=sum(shape), cbd=0.2 if 2 in diff else 0.0)
    m_ref, field_ref = _direct(labels, diff, voxel, "zyx".index(axis))
    rel = {k: v for k, v in diff.items() if k != 0}
    res = m_factor(
        labels,
        voxel_size_nm=voxel,
        axis=axis,
        phases=(0,),
        relative_diffusivity=rel or None,
        flux_tol=1e-5,
        return_field=True,
    )
    assert res.converged
    assert m_ref > 0.01  # the phantom percolates: a real comparison
    assert abs(res.m_factor / m_ref - 1.0) < M_RTOL
    assert np.array_equal(np.isnan(res.concentration), np.isnan(field_ref))
    assert np.nanmax(np.abs(res.concentration - field_ref)) < FIELD_ATOL


@pytest.mark.parametrize(
    ("sampling", "fully_connected"),
    [((1.0, 1.0, 1.0), True), ((2.0, 1.0, 1.5), True), ((1.0, 1.0, 1.0), False)],
)
def test_geodesic_paths_match_mcp_geometric(sampling, fully_connected):
    from skimage.graph import MCP_Geometric

    mask = _phantom((24, 30, 28), 0.4, seed=7) == 0
    costs = np.where(mask, 1.0, np.inf)
    starts = np.argwhere(mask[0])
    starts = np.column_stack([np.zeros(len(starts), int), starts])
    cum, _ = MCP_Geometric(costs, fully_connected=fully_connected, sampling=sampling).find_costs(
        starts.tolist()
    )
    ref = np.where(mask[-1], cum[-1], np.inf)
    ours = inlet_distances(mask, sampling, fully_connected=fully_connected)
    reach = np.isfinite(ref)
    assert reach.sum() > 20
    assert np.array_equal(reach, np.isfinite(ours))
    np.testing.assert_allclose(ours[reach], ref[reach], rtol=1e-12)


def test_geodesic_tortuosity_of_a_staircase_channel():
    """A channel that steps sideways by one voxel per voxel along z: the 26-connected path
    is the diagonal, length (n - 1) sqrt(2) h + h over n h."""
    n = 12
    mask = np.zeros((n, n + 2, 3), bool)
    for i in range(n):
        mask[i, i + 1, 1] = True
    geo = geodesic_tortuosity(mask, voxel_size_nm=10.0, axis="z")
    assert geo.n_paths == 1
    assert geo.mean == pytest.approx(((n - 1) * np.sqrt(2) + 1) / n, rel=1e-12)
    six = geodesic_tortuosity(mask, voxel_size_nm=10.0, axis="z", fully_connected=False)
    assert six.n_paths == 0  # the diagonal steps are not 6-connected


def test_constrictivity_keeps_float32_radii_exact():
    rng = np.random.default_rng(2)
    rmip = rng.uniform(0, 50, (10, 12, 14)).astype(np.float32)
    rgr = (rmip + rng.uniform(0, 40, rmip.shape)).astype(np.float32)
    a = constrictivity(rmip, rgr)
    b = constrictivity(rmip.astype(np.float64), rgr.astype(np.float64))
    assert a == b


def _traced_peak_per_voxel(labels, **kwargs):
    m_factor(labels[:20, :20, :20], voxel_size_nm=1.0, axis="z", **kwargs)  # compile
    tracemalloc.start()
    m_factor(labels, voxel_size_nm=1.0, axis="z", return_field=True, **kwargs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / labels.size


def test_solve_memory_per_voxel_within_the_stage_estimate():
    """Peak traced memory of one solve (field returned): about 30 bytes per voxel with one
    diffusivity, about 42 with face conductances; the stage estimate (with its 25 % margin)
    covers both. The previous solver needed about 57 (const) per voxel."""
    labels = _phantom((64, 64, 64), 0.3, seed=1, cbd=0.2)
    const = _traced_peak_per_voxel(labels, phases=(0,))
    var = _traced_peak_per_voxel(labels, phases=(0,), relative_diffusivity={2: 0.1})
    assert const < 36.0
    assert var < 48.0
    assert max(const, var) * 1.2 < STAGE_BYTES_PER_VOXEL["mfactor"]
