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
steeply, so the CBD still holds the contacts and the gaps narrower than the ball). The subset
grows in the order of the distribution mode until the gas volume is the pore volume minus the
CBD target:

``"contact"``
    Centres closest to the active material first: the gas opens along the free particle
    surfaces (the CBD detaches there as it shrinks) while the CBD keeps the contacts, the
    narrow gaps and the interior of the voids.
``"random"``
    Centres in random order: gas bubbles dispersed through the CBD (a Boolean model of balls
    restricted to the pore space, [2]_).
``"surface"``
    Centres farthest from the active material first: the CBD coats the particle surfaces
    and the gas gathers in the middle of the voids (adjacent balls merge; this mode can leave
    large voids).

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. https://doi.org/10.3390/batteries7040070
.. [2] Graefensteiner, P. et al. Data-driven stochastic 3D modeling of the nanoporous
   binder-conductive additive phase in battery cathodes. J. Math. Ind. 2025.
   https://doi.org/10.1186/s13362-025-00174-z
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from microstructure.cbd._voxels import _edt, _take_ranked

__all__ = ["DISTRIBUTIONS", "void_filling_gas"]

#: Distribution modes of :func:`void_filling_gas` (``insert_cbd(distribution=...)``).
DISTRIBUTIONS: tuple[str, ...] = ("contact", "random", "surface")


def _centre_order(w_centres: np.ndarray, distribution: str, rng: np.random.Generator) -> np.ndarray:
    """Order in which the allowed centres open gas (ties at random)."""
    tie = rng.random(w_centres.size)
    if distribution == "random":
        return np.argsort(tie, kind="stable")
    key = w_centres if distribution == "contact" else -w_centres
    return np.lexsort((tie, key))


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
    rng: np.random.Generator,
    rel_tol: float = 0.05,
    tick: Callable[[], None] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Flat indices of exactly ``n_gas`` pore voxels forming the gas (the rest is CBD).

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
    rng
        Random generator (ties and the random order).
    rel_tol
        Relative tolerance of the gas amount before the exact trim.
    tick
        Called once per distance transform (progress).

    Returns
    -------
    (numpy.ndarray, dict)
        Flat indices of the gas voxels and ``{"void_centres": k, "void_evaluations": n}``.
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(
            f"distribution: expected one of {', '.join(DISTRIBUTIONS)}, got {distribution!r}"
        )
    idx = np.flatnonzero(allowed)
    order = _centre_order(w_pore[idx], distribution, rng)
    centres = flat_pore[idx[order]]
    del idx, order

    def gas_distance(k: int) -> np.ndarray:
        c = np.ones(pore.shape, dtype=np.uint8)
        c.ravel()[centres[:k]] = 0
        d = _edt(c, vs).ravel()[flat_pore]
        if tick is not None:
            tick()
        return d

    limit = np.float32(rho_nm + half_nm)
    memo: dict[int, int] = {}

    def count(k: int) -> int:
        if k not in memo:
            memo[k] = int(np.count_nonzero(gas_distance(k) <= limit))
        return memo[k]

    # The gas grows with the number of centres k. As for a Boolean model, the covered
    # fraction of the gas reachable with all centres (n_all) is about 1 - exp(-c k): the
    # search interpolates x = -ln(1 - n / n_all), about linear in k (secant, bisection-guarded).
    def x_of(n: int) -> float:
        return -float(np.log1p(-min(n, n_all - 1) / n_all))

    x_target = x_of(n_gas)
    ball = 4.0 / 3.0 * np.pi * float(limit) ** 3 / float(np.prod(vs))
    lo, n_lo = 0, 0
    hi = int(min(max(1, n_gas / max(ball, 1.0)), centres.size))
    n_hi = count(hi)
    while n_hi < n_gas and hi < centres.size:
        lo, n_lo = hi, n_hi
        guess = hi * x_target / max(x_of(n_hi), 1e-12)
        hi = int(min(max(1.3 * guess, 2 * hi), centres.size))
        n_hi = count(hi)
    tol = max(1, int(rel_tol * n_gas))
    while hi - lo > 1 and n_hi - n_gas > tol:
        x_lo, x_hi = x_of(n_lo), x_of(n_hi)
        t = (x_target - x_lo) / max(x_hi - x_lo, 1e-12)
        mid = lo + int(round((hi - lo) * min(max(t, 0.05), 0.95)))
        mid = min(max(mid, lo + 1), hi - 1)
        n_mid = count(mid)
        if n_mid >= n_gas:
            hi, n_hi = mid, n_mid
        else:
            lo, n_lo = mid, n_mid
    d = gas_distance(hi)
    # exactly n_gas: the voxels nearest to the ball centres (the gas balls shrink uniformly)
    sel = np.flatnonzero(d <= limit)
    gas = _take_ranked(flat_pore[sel], d[sel], n_gas, rng)
    return gas, {"void_centres": int(hi), "void_evaluations": len(memo) + 1}
