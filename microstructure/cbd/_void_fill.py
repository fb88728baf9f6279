"""CBD that fills the voids: gas pores of bounded size dispersed in the CBD.

The contact-angle equilibrium (:mod:`microstructure.cbd._contact_angle`) puts the CBD into the
contacts and narrow gaps and the gas into the widest pores: with a recipe CBD volume close to
the pore volume the gas ends up as a few micrometre voids (a pendular liquid at equilibrium).
Real CBD of a calendered electrode fills most voids between the particles as a porous
sponge; the pores it leaves are shrinkage gaps of a bounded size (Beuse et al. 2021 [1]_,
Figure 3 and section 3.5: "the CBD fills most of the voids"; the gas pores inside the CBD
modelled as a Boolean model of balls, Graefensteiner et al. 2025 [2]_).

When the equilibrium needs gas balls larger than ``max_void_diameter_nm``, the gas here is the
union of balls of radius ``rho = max_void_diameter_nm / 2`` centred on a *subset* of the
centres the contact angle allows at ``rho`` (a ball meets the nearest wall at theta or less
steeply, so the CBD still holds the contacts and the gaps narrower than the ball). The balls
open one after another in the order of the distribution mode until the gas volume is the pore
volume minus the CBD target (the last ball in part); the order is a weighted random order
(each voxel's own random number, weights graded over one voxel of wall distance, see
``_centre_order``):

``"contact"``
    Centres close to the active material preferred: the gas opens along the free particle
    surfaces (the CBD detaches there as it shrinks) while the CBD keeps the contacts, the
    narrow gaps and the interior of the voids.
``"random"``
    Centres in random order: gas bubbles dispersed through the CBD (a Boolean model of balls
    restricted to the pore space, [2]_).
``"surface"``
    Centres far from the active material preferred: the CBD coats the particle surfaces
    and the gas gathers in the middle of the voids (adjacent balls merge; this mode can leave
    large voids).

The random numbers belong to the voxels, not to a draw sequence, so a contact angle or a
ball size that adds or removes a few allowed centres leaves the order of the others as it was
(common random numbers for :func:`microstructure.cbd.calibrate_cbd`).

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. https://doi.org/10.3390/batteries7040070
.. [2] Graefensteiner, P. et al. Data-driven stochastic 3D modeling of the nanoporous
   binder-conductive additive phase in battery cathodes. J. Math. Ind. 2025.
   https://doi.org/10.1186/s13362-025-00174-z
.. [3] Efraimidis, P. S.; Spirakis, P. G. Weighted random sampling with a reservoir.
   Inf. Process. Lett. 2006, 97, 181-185. https://doi.org/10.1016/j.ipl.2005.11.003
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from microstructure.cbd._voxels import _take_ranked, _voxel_uniform

__all__ = ["DISTRIBUTIONS", "void_filling_gas", "void_stencil_levels"]

#: Distribution modes of :func:`void_filling_gas` (``insert_cbd(distribution=...)``).
DISTRIBUTIONS: tuple[str, ...] = ("contact", "random", "surface")


def _centre_order(
    w_centres: np.ndarray,
    flat_centres: np.ndarray,
    distribution: str,
    tie_key: int,
    decay_nm: float,
) -> np.ndarray:
    """Order in which the allowed centres open gas: a weighted random order.

    Efraimidis-Spirakis [3]_: ordering by ``-ln(u) / weight`` (``u`` uniform) draws without
    replacement with probabilities in proportion to the weights; here ``u`` is each voxel's
    own number (:func:`~microstructure.cbd._voxels._voxel_uniform`) and the weight
    ``exp(-w / decay_nm)`` (``"contact"``), ``exp(+w / decay_nm)`` (``"surface"``) or 1
    (``"random"``), ``w`` the wall distance. The preference for (or against) the walls is
    graded over ``decay_nm`` (a voxel: the resolution of ``w``) rather than strict, so a
    centre the contact angle or the ball size adds or removes changes the order of the others
    by one place, not the whole front (a strict order by the voxel-quantised ``w`` put all
    the gas on the one distance level above the contact-angle limit, and a change of the
    angle by 0.1 deg moved it elsewhere).
    """
    u = _voxel_uniform(flat_centres, tie_key)
    # ln(-ln u): the log of an exponential variable; u is never 0 but may round to 1
    log_e = np.log(-np.log(np.clip(u, 2.0**-53, 1.0 - 2.0**-53)))
    if distribution == "random":
        key = log_e
    else:
        sign = 1.0 if distribution == "contact" else -1.0
        key = log_e + sign * np.asarray(w_centres, dtype=np.float64) / float(decay_nm)
    return np.argsort(key, kind="stable")


def void_filling_gas(
    pore: np.ndarray,
    vs: tuple[float, float, float],
    *,
    flat_pore: np.ndarray,
    allowed: np.ndarray,
    w_pore: np.ndarray,
    rho_nm: float,
    half_nm: float,
    n_gas: int,
    n_all: int,
    distribution: str,
    tie_key: int,
    tick: Callable[[], None] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Flat indices of exactly ``n_gas`` pore voxels forming the gas (the rest is CBD).

    The gas balls open one after another in the order of the distribution mode until the
    gas holds ``n_gas`` voxels; the last ball opens in part (its voxels nearest to its
    centre, ties by the voxels' own random numbers). Each voxel's ball is painted once
    (:func:`_paint_in_order`), so the result is the exact prefix of the order whatever the
    amount, and a parameter change that adds or removes a few centres changes the gas by
    about as many balls (no search path, no re-drawn random numbers).

    Parameters
    ----------
    pore
        Boolean pore mask (the space the CBD may take).
    vs
        Voxel size (z, y, x) in nm.
    flat_pore, allowed, w_pore
        Flat indices of the pore voxels, which of them may centre a gas ball of radius
        ``rho_nm`` (contact angle), and their wall distances (nm).
    rho_nm, half_nm
        Gas ball radius and half the voxel edge (nm): a voxel is gas when its centre lies
        within ``rho_nm + half_nm`` of a ball centre.
    n_gas
        Number of gas voxels wanted (pore voxels minus the CBD target).
    n_all
        Number of gas voxels with every allowed centre open (more than ``n_gas``).
    distribution
        ``"contact"``, ``"random"`` or ``"surface"`` (module docstring).
    tie_key
        Key of the voxels' random numbers (:func:`~microstructure.cbd._voxels._voxel_uniform`):
        ties and the random order.
    tick
        Called once when the gas is painted (progress).

    Returns
    -------
    (numpy.ndarray, dict)
        Flat indices of the gas voxels and ``{"void_centres": k}`` (balls opened, the last
        one in part).
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(
            f"distribution: expected one of {', '.join(DISTRIBUTIONS)}, got {distribution!r}"
        )
    if not 0 <= n_gas < n_all:
        raise ValueError(f"n_gas: {n_gas} gas voxels cannot be reached (at most {n_all - 1})")
    idx = np.flatnonzero(allowed)
    order = _centre_order(w_pore[idx], flat_pore[idx], distribution, tie_key, 2.0 * half_nm)
    centres = np.ascontiguousarray(flat_pore[idx[order]], dtype=np.int64)
    del idx, order
    offsets, dist = _ball_offsets(vs, rho_nm + half_nm)
    pore_u8 = np.ascontiguousarray(pore, dtype=np.uint8).ravel()
    covered = np.zeros(pore_u8.size, dtype=np.uint8)
    shape = np.array(pore.shape, dtype=np.int64)
    k, n_before = _paint_in_order(pore_u8, shape, centres, offsets, n_gas, covered)
    if n_before < n_gas:
        # the last ball: its new voxels nearest to its centre
        new, d_new = _ball_voxels(pore_u8, covered, shape, int(centres[k]), offsets, dist)
        take = _take_ranked(new, d_new, n_gas - n_before, tie_key)
        covered[take] = 1
        k += 1
    if tick is not None:
        tick()
    return np.flatnonzero(covered), {"void_centres": int(k)}


def void_stencil_levels(
    vs: tuple[float, float, float], d_low_nm: float, d_high_nm: float
) -> np.ndarray:
    """Void diameters (nm) in ``[d_low_nm, d_high_nm]``, one inside each interval of equal
    gas-ball stencil.

    A gas ball of diameter ``d`` paints the voxels whose centres lie within ``d / 2 + h / 2``
    of its centre (``h`` the geometric-mean voxel edge, :func:`void_filling_gas`), so the
    ball is the same voxel set for every ``d`` between two consecutive lattice distances
    ``D_k``: ``d`` in ``[2 (D_k - h / 2), 2 (D_k+1 - h / 2))``. Returned: the middle of each
    such interval that meets the range (clipped to it). A scan over these values sees every
    ball stencil once; inside one interval the void size acts only through the contact-angle
    condition of the centres (``w >= w*(d / 2, theta)``).
    """
    if not 0 < d_low_nm <= d_high_nm:
        raise ValueError(f"d_low_nm, d_high_nm: need 0 < low <= high, got {d_low_nm}, {d_high_nm}")
    half = 0.5 * float(np.prod(vs) ** (1.0 / 3.0))
    _, dist = _ball_offsets(vs, 0.5 * d_high_nm + half + max(vs))
    levels = np.unique(dist.astype(np.float32).astype(np.float64))
    edges = 2.0 * (levels - half)
    edges = edges[edges > 0]
    out = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        a, b = max(lo, d_low_nm), min(hi, d_high_nm)
        if a <= b and hi > d_low_nm and lo <= d_high_nm:
            out.append(0.5 * (a + b))
    return np.unique(np.asarray(out, dtype=np.float64))


def _ball_offsets(
    vs: tuple[float, float, float], radius_nm: float
) -> tuple[np.ndarray, np.ndarray]:
    """Integer offsets (z, y, x) of the voxels whose centres lie within ``radius_nm`` of a
    voxel centre, and their distances (nm)."""
    ext = [int(np.floor(radius_nm / v)) for v in vs]
    g = np.mgrid[-ext[0] : ext[0] + 1, -ext[1] : ext[1] + 1, -ext[2] : ext[2] + 1]
    off = g.reshape(3, -1).T.astype(np.int64)
    dist = np.sqrt(np.sum((off * np.asarray(vs, dtype=np.float64)) ** 2, axis=1))
    keep = dist <= np.float32(radius_nm)
    return np.ascontiguousarray(off[keep]), dist[keep]


def _ball_voxels(
    pore_u8: np.ndarray,
    covered: np.ndarray,
    shape: np.ndarray,
    centre: int,
    offsets: np.ndarray,
    dist: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices and centre distances of the pore voxels of one ball not yet covered."""
    c = np.array(np.unravel_index(centre, tuple(shape)), dtype=np.int64)
    pos = c[None, :] + offsets
    inside = np.all((pos >= 0) & (pos < shape[None, :]), axis=1)
    flat = np.ravel_multi_index(tuple(pos[inside].T), tuple(shape))
    free = (pore_u8[flat] == 1) & (covered[flat] == 0)
    return flat[free], dist[inside][free]


@numba.njit(cache=True)
def _paint_in_order(pore_u8, shape, centres, offsets, n_gas, covered):  # pragma: no cover
    """Paint the balls of ``centres`` in order into ``covered`` (pore voxels only) while the
    total stays below ``n_gas``; return the index of the first ball that would reach it
    (not painted) and the count painted before it."""
    nz, ny, nx = shape[0], shape[1], shape[2]
    count = 0
    for j in range(centres.size):
        c = centres[j]
        cz = c // (ny * nx)
        cy = (c // nx) % ny
        cx = c % nx
        new = 0
        for m in range(offsets.shape[0]):
            z = cz + offsets[m, 0]
            y = cy + offsets[m, 1]
            x = cx + offsets[m, 2]
            if 0 <= z < nz and 0 <= y < ny and 0 <= x < nx:
                f = (z * ny + y) * nx + x
                if pore_u8[f] == 1 and covered[f] == 0:
                    new += 1
        if count + new >= n_gas:
            return j, count
        for m in range(offsets.shape[0]):
            z = cz + offsets[m, 0]
            y = cy + offsets[m, 1]
            x = cx + offsets[m, 2]
            if 0 <= z < nz and 0 <= y < ny and 0 <= x < nx:
                f = (z * ny + y) * nx + x
                if pore_u8[f] == 1:
                    covered[f] = 1
        count += new
    return centres.size, count
