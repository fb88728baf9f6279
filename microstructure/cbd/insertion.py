"""Insert a carbon-binder domain (CBD) into the pore space of a labels volume.

The CBD cannot be segmented from FIB/SEM data at the resolution needed for the active material
(Beuse et al. 2021 [1]_, section 2), so it is modelled geometrically after segmentation. Three
methods share one interface, :func:`insert_cbd`:

``"contact-angle"`` (default)
    Morphological equilibrium of a wetting liquid (the CBD) and a non-wetting "gas" in the
    pore space. With ``d`` the Euclidean distance of each pore voxel to the nearest solid
    voxel, the gas for a ball radius ``r`` is the union of balls of radius ``r`` centred on
    pore voxels where the ball meets the nearest wall at ``theta`` or less steeply, restricted
    to the pore space; the CBD is the rest of the pore space. On a flat wall that is
    ``d >= r cos(theta)``; on a wall of mean curvature ``kappa`` (estimated from the solid
    and looked up at the nearest wall) it is ``2 d + kappa (d^2 - r^2) >= 2 r cos(theta)``,
    the two-sphere law of cosines, so the angle is right on particles of any size. The angle
    is measured through the CBD: ``theta = 0`` gives pendular bridges tangent to the active
    material and larger angles flatter bridges. The CBD amount rises with
    ``r``; ``r`` is found by a safeguarded bisection and the target is then hit exactly by
    removing the CBD voxels nearest to the gas balls (the meniscus recedes uniformly: no
    random trimming, no specks).
``"bridge"``
    Fill the pore space by increasing local pore size (radius of the largest inscribed ball
    that contains the voxel, evaluated on a one-voxel radius ladder), the way NREL MATBOX's
    distance-based "bridge" additive generation favours the narrowest gaps; inside the last
    size class, voxels closest to the solid go first.
``"deposition"``
    Weighted random surface growth (after Mistry et al. 2018 [2]_): pore voxels that touch a solid
    face are candidates, weighted by ``(1 - w) n_am + w n_cbd`` (face neighbours of active
    material and of CBD). ``w`` near 0 coats the active material as a film, near 1 grows
    agglomerates.

The target comes from the recipe through :func:`cbd_envelope_fraction` (Table 1 of [1]_) or
is given directly as a fraction of the whole volume. The contact-angle method lives in
:mod:`microstructure.cbd._contact_angle`.

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. https://doi.org/10.3390/batteries7040070
.. [2] Mistry, A. N.; Smith, K.; Mukherjee, P. P. Secondary-Phase Stochastics in Lithium-Ion
   Battery Electrodes. ACS Appl. Mater. Interfaces 2018, 10, 6317-6326.
   https://doi.org/10.1021/acsami.7b17771
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from microstructure.cbd._contact_angle import _contact_angle_fill
from microstructure.cbd._void_fill import DISTRIBUTIONS
from microstructure.cbd._voxels import _edt, _finite_float, _take_ranked
from microstructure.cbd.defaults import DEFAULT_CBD_POROSITY, DEFAULT_CONTACT_ANGLE_DEG
from microstructure.volume import Phase, check_labels, parse_voxel_size

__all__ = [
    "CbdFallbackWarning",
    "cbd_envelope_fraction",
    "insert_cbd",
    "INSERTION_METHODS",
    "DISTRIBUTIONS",
]

#: Names accepted by ``insert_cbd(method=...)``.
INSERTION_METHODS: tuple[str, ...] = ("contact-angle", "bridge", "deposition")


class CbdFallbackWarning(UserWarning):
    """The contact-angle method could not reach the target and surface deposition finished it."""


def cbd_envelope_fraction(
    am_fraction: float,
    *,
    cbd_to_am_volume_ratio: float,
    cbd_porosity: float = DEFAULT_CBD_POROSITY,
) -> float:
    """CBD envelope volume fraction implied by the recipe and the segmented active material.

    ``V_cbd_solid = V_am * cbd_to_am_volume_ratio`` and the envelope (solid plus its
    nanopores) is ``V_cbd_solid / (1 - cbd_porosity)``.

    Parameters
    ----------
    am_fraction
        Active-material volume fraction of the whole volume (0..1), e.g. ``(labels == 1).mean()``.
    cbd_to_am_volume_ratio
        Solid volume of CBD per solid volume of active material from the recipe, e.g. Table 1 of
        [1]_: ``11.46 / 88.54``.
    cbd_porosity
        Porosity of the CBD (0..1); 0.502 in [1]_ (the default).

    Returns
    -------
    float
        CBD envelope volume as a fraction of the whole volume.

    Raises
    ------
    ValueError
        For values outside their ranges.
    """
    am = _finite_float(am_fraction, "am_fraction")
    ratio = _finite_float(cbd_to_am_volume_ratio, "cbd_to_am_volume_ratio")
    eps = _finite_float(cbd_porosity, "cbd_porosity")
    if not 0.0 <= am <= 1.0:
        raise ValueError(f"am_fraction: must be in [0, 1], got {am}")
    if ratio < 0.0:
        raise ValueError(f"cbd_to_am_volume_ratio: must be >= 0, got {ratio}")
    if not 0.0 <= eps < 1.0:
        raise ValueError(f"cbd_porosity: must be in [0, 1), got {eps}")
    return am * ratio / (1.0 - eps)


def insert_cbd(
    labels: np.ndarray,
    *,
    voxel_size_nm: Any,
    volume_fraction: float,
    contact_angle_deg: float = DEFAULT_CONTACT_ANGLE_DEG,
    method: Literal["contact-angle", "bridge", "deposition"] = "contact-angle",
    seed: int = 0,
    morphology_w: float = 0.5,
    max_void_diameter_nm: float | None = None,
    distribution: Literal["contact", "random", "surface"] = "contact",
    progress: Callable[[], None] | None = None,
    return_info: bool = False,
    _geometry_cache: dict[str, Any] | None = None,
) -> np.ndarray | tuple[np.ndarray, dict[str, Any]]:
    """Distribute a non-porous CBD (label 2) in the pore space (label 0).

    Parameters
    ----------
    labels, voxel_size_nm
        Labels (z, y, x): 0 pore, 1 AM, 2 CBD, 3 CBD pore (2 and 3 count towards the target
        and act as solid); voxel size (z, y, x) in nm (scalar for cubic voxels).
    volume_fraction
        Target CBD envelope (labels 2 + 3) as a fraction of the whole volume, in (0, 1).
    contact_angle_deg
        CBD/AM contact angle (deg) in [0, 90), ``"contact-angle"`` only (40 deg in [1]_).
    method
        ``"contact-angle"``, ``"bridge"`` or ``"deposition"`` (see the module docstring).
    seed
        Seed of the random tie-breaking and growth.
    morphology_w
        ``"deposition"``: weight of CBD neighbours against AM neighbours (0..1).
    max_void_diameter_nm
        ``"contact-angle"``: largest gas ball (nm); when the equilibrium needs wider ones,
        balls of this size open on a subset of the allowed centres and the CBD fills the
        rest of the voids (:mod:`microstructure.cbd._void_fill`). None: plain equilibrium.
    distribution
        Where those balls open first: ``"contact"``, ``"random"`` or ``"surface"``, the three
        CBD distributions named in [1]_ (:mod:`microstructure.cbd._void_fill`).
    progress
        Called when the void filling has painted the gas (e.g. a tqdm ``update``).
    return_info
        Also return a JSON-ready dict: method, ball radius, fallback, void filling.
    _geometry_cache
        Private: a dict the caller keeps across calls on the same pore space (the
        calibration); the wall distances and curvatures are then computed once.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, dict)
        New uint8 labels (input unchanged), exactly ``round(volume_fraction * size)`` of 2 or 3.

    Raises
    ------
    ValueError
        No pore space, a target larger than the pore space or below the CBD present, an
        angle outside [0, 90), an unknown method or distribution.

    Warns
    -----
    CbdFallbackWarning
        When a large contact angle cannot hold the requested amount: the reachable amount is
        inserted with the contact angle and surface deposition adds the rest.
    """
    lab = check_labels(labels, name="labels")
    vs = parse_voxel_size(voxel_size_nm)
    frac, theta, w, cap = _check_options(
        vs,
        volume_fraction,
        contact_angle_deg,
        method,
        morphology_w,
        max_void_diameter_nm,
        distribution,
    )

    pore, n_target, n_existing, n_add = _pore_budget(lab, frac, method)
    rng = np.random.default_rng(seed)
    info: dict[str, Any] = {
        "method": method,
        "contact_angle_deg": theta if method == "contact-angle" else None,
        "target_voxels": n_target,
        "added_voxels": n_add,
        "fallback": False,
    }
    out = lab.copy()
    if n_add > 0:
        if method == "contact-angle":
            add_mask, cinfo = _contact_angle_fill(
                pore,
                vs,
                n_add,
                theta,
                rng,
                max_void_diameter_nm=cap,
                distribution=distribution,
                tick=progress,
                geometry_cache=_geometry_cache,
            )
            cinfo["max_void_diameter_nm"] = cap
            cinfo["distribution"] = distribution if cap is not None else "contact"
            info.update(cinfo)
            if cinfo["fallback"]:
                out[add_mask] = Phase.CBD
                _fallback_deposit(out, n_add, cinfo, w, rng, theta, frac)
                add_mask = None
        elif method == "bridge":
            add_mask, binfo = _bridge_fill(pore, vs, n_add, rng)
            info.update(binfo)
        else:
            _deposit(out, n_add, w, rng)
            info["morphology_w"] = w
            add_mask = None
        if add_mask is not None:
            out[add_mask] = Phase.CBD
    return (out, info) if return_info else out


def _fallback_deposit(
    out: np.ndarray,
    n_add: int,
    cinfo: dict[str, Any],
    w: float,
    rng: np.random.Generator,
    theta: float,
    frac: float,
) -> None:
    """Surface deposition of what the contact-angle filling could not hold (in place), with
    a :class:`CbdFallbackWarning`."""
    _deposit(out, n_add - int(cinfo["contact_angle_voxels"]), w, rng)
    warnings.warn(
        f"contact angle {theta:g} deg holds at most "
        f"{cinfo['contact_angle_voxels'] / out.size:.4f} of the volume as CBD; "
        f"surface deposition added the rest to reach {frac:.4f}",
        CbdFallbackWarning,
        stacklevel=3,
    )


def _check_options(
    vs: tuple[float, float, float],
    volume_fraction: Any,
    contact_angle_deg: Any,
    method: str,
    morphology_w: Any,
    max_void_diameter_nm: Any,
    distribution: str,
) -> tuple[float, float, float, float | None]:
    """Checked (fraction, angle, w, void cap) of :func:`insert_cbd`; one-line errors."""
    frac = _finite_float(volume_fraction, "volume_fraction")
    if not 0.0 < frac < 1.0:
        raise ValueError(f"volume_fraction: must be in (0, 1), got {frac}")
    theta = _finite_float(contact_angle_deg, "contact_angle_deg")
    if not 0.0 <= theta < 90.0:
        raise ValueError(
            f"contact_angle_deg: must be in [0, 90) degrees for a wetting CBD, got {theta}"
        )
    if method not in INSERTION_METHODS:
        raise ValueError(f"method: expected one of {', '.join(INSERTION_METHODS)}, got {method!r}")
    w = _finite_float(morphology_w, "morphology_w")
    if not 0.0 <= w <= 1.0:
        raise ValueError(f"morphology_w: must be in [0, 1], got {w}")

    cap = None
    if max_void_diameter_nm is not None:
        cap = _finite_float(max_void_diameter_nm, "max_void_diameter_nm")
        if cap < 2.0 * min(vs):
            raise ValueError(
                f"max_void_diameter_nm: must be at least two voxels ({2.0 * min(vs):g} nm), "
                f"got {cap:g}"
            )
    if distribution not in DISTRIBUTIONS:
        raise ValueError(
            f"distribution: expected one of {', '.join(DISTRIBUTIONS)}, got {distribution!r}"
        )
    return frac, theta, w, cap


def _pore_budget(lab: np.ndarray, frac: float, method: str) -> tuple[np.ndarray, int, int, int]:
    """(pore mask, target CBD voxels, CBD voxels present, voxels to add), checked."""
    pore = lab == Phase.PORE
    n_pore = int(np.count_nonzero(pore))
    if n_pore == 0:
        raise ValueError("labels: no pore space (phase 0) to put the CBD into")
    n_target = int(round(frac * lab.size))
    n_existing = int(np.count_nonzero((lab == Phase.CBD) | (lab == Phase.CBD_PORE)))
    n_add = n_target - n_existing
    if n_add < 0:
        raise ValueError(
            f"volume_fraction: {frac:.4f} is below the CBD already present "
            f"({n_existing / lab.size:.4f}); remove it first"
        )
    if n_add > n_pore:
        raise ValueError(
            f"volume_fraction: {frac:.4f} exceeds the pore space available for CBD "
            f"({(n_pore + n_existing) / lab.size:.4f} of the volume)"
        )
    if not np.any(lab == Phase.AM) and method != "bridge" and n_existing == 0:
        raise ValueError("labels: no active material (phase 1) for the CBD to attach to")
    return pore, n_target, n_existing, n_add


# ------------------------------------------------------------------------- bridge method


def _bridge_fill(
    pore: np.ndarray,
    vs: tuple[float, float, float],
    n_add: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Fill the ``n_add`` pore voxels of smallest local pore size (ties: closest to solid)."""
    h = min(vs)
    d = _edt(pore, vs)
    d_max = float(d.max())
    flat_pore = np.flatnonzero(pore)
    d_pore = d.ravel()[flat_pore]
    del d

    def small_pores(r: float) -> np.ndarray:
        """Boolean over pore voxels: local pore radius < r (not inside any ball of radius r)."""
        centres = np.ones(pore.shape, dtype=np.uint8)
        centres.ravel()[flat_pore[d_pore >= r]] = 0
        dist_c = _edt(centres, vs).ravel()[flat_pore]
        return dist_c > r

    # one-voxel radius ladder; find the first rung holding at least n_add voxels
    ladder = np.arange(1, int(math.ceil(d_max / h)) + 2) * h
    lo, hi = -1, ladder.size - 1
    small_hi = None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        s = small_pores(float(ladder[mid]))
        if np.count_nonzero(s) >= n_add:
            hi, small_hi = mid, s
        else:
            lo = mid
    if small_hi is None:
        small_hi = small_pores(float(ladder[hi]))
    small_lo = small_pores(float(ladder[lo])) if lo >= 0 else np.zeros(flat_pore.size, dtype=bool)
    chosen = flat_pore[small_lo]
    shell = np.flatnonzero(small_hi & ~small_lo)
    extra = _take_ranked(flat_pore[shell], d_pore[shell], n_add - chosen.size, rng)
    mask = np.zeros(pore.shape, dtype=bool)
    mask.ravel()[chosen] = True
    mask.ravel()[extra] = True
    return mask, {"pore_radius_class_nm": float(ladder[hi])}


# --------------------------------------------------------------------- deposition method


def _face_neighbour_count(mask: np.ndarray) -> np.ndarray:
    """Number of the six face neighbours of each voxel that are in ``mask`` (uint8)."""
    m = mask.view(np.uint8) if mask.dtype == np.bool_ else mask.astype(np.uint8)
    n = np.zeros(mask.shape, dtype=np.uint8)
    n[1:] += m[:-1]
    n[:-1] += m[1:]
    n[:, 1:] += m[:, :-1]
    n[:, :-1] += m[:, 1:]
    n[:, :, 1:] += m[:, :, :-1]
    n[:, :, :-1] += m[:, :, 1:]
    return n


def _deposit(
    out: np.ndarray,
    n_add: int,
    w: float,
    rng: np.random.Generator,
    *,
    batch_fraction: float = 0.02,
) -> None:
    """Grow ``n_add`` CBD voxels into the pore space of ``out`` (in place, private array).

    Each round, pore voxels with a solid face neighbour are candidates with weight
    ``(1 - w) n_am + w n_cbd``; a batch is drawn without replacement in proportion to the
    weights (Efraimidis-Spirakis keys). The last batch is sized to hit ``n_add`` exactly.
    """
    batch = max(1, int(batch_fraction * n_add))
    remaining = n_add
    while remaining > 0:
        pore = out == Phase.PORE
        n_am = _face_neighbour_count(out == Phase.AM)
        cbd = (out == Phase.CBD) | (out == Phase.CBD_PORE)
        n_cbd = _face_neighbour_count(cbd)
        cand = np.flatnonzero(pore & ((n_am > 0) | (n_cbd > 0)))
        if cand.size == 0:
            # pore regions with no solid at all: fill them from the largest remaining ones
            cand = np.flatnonzero(pore)
            weight = np.ones(cand.size)
        else:
            weight = (1.0 - w) * n_am.ravel()[cand] + w * n_cbd.ravel()[cand]
            weight = weight + 1e-6  # every candidate stays possible
        k = min(batch, remaining, cand.size)
        keys = np.log(rng.random(cand.size)) / weight
        pick = cand[np.argpartition(-keys, k - 1)[:k]] if k < cand.size else cand
        out.ravel()[pick] = Phase.CBD
        remaining -= pick.size
