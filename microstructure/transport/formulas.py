"""Closed-form effective-transport relations (M-factors).

The M-factor is the ratio of an effective transport coefficient to its bulk value,
``M = D_eff / D = porosity / tortuosity_factor`` (the tortuosity *factor*, not the geometric
path-length tortuosity). Everything here is dimensionless and works on scalars or arrays
(numpy broadcasting); scalars in give Python floats out.

Contents
--------
* :func:`bruggeman` - ``M = eps ** exponent``.
* :func:`hashin_shtrikman_upper`, :func:`hashin_shtrikman_lower` - bounds for n isotropic phases.
* :func:`maxwell_insulating_spheres` - ``2 eps / (3 - eps)`` (dilute insulating spheres; equal to
  the two-phase Hashin-Shtrikman upper bound with an insulating phase).
* Naumann et al. (ACS Appl. Energy Mater. 2024, eq. 5-7, doi:10.1021/acsaem.4c00505),
  hierarchical electrodes made of porous secondary particles:
  :func:`packing_contact_angle_deg` (eq. 6), :func:`m_particles` (eq. 5), :func:`m_combined`
  (eq. 7) and :func:`hierarchical_m_factors`.
* :func:`stenzel_m_factor` - the prediction of Stenzel et al. (2016) from porosity,
  constrictivity and geodesic tortuosity.

References
----------
Bruggeman (1935), Ann. Phys. 416, 636, doi:10.1002/andp.19354160705.
Hashin and Shtrikman (1962), J. Appl. Phys. 33, 3125, doi:10.1063/1.1728579.
Naumann et al. (2024), ACS Appl. Energy Mater. 7, 4786, doi:10.1021/acsaem.4c00505.
Stenzel, Pecho, Holzer, Neumann and Schmidt (2016), AIChE J. 62, 1834, doi:10.1002/aic.15160.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "HashinShtrikmanWarning",
    "bruggeman",
    "tortuosity_factor_from_m",
    "hashin_shtrikman_upper",
    "hashin_shtrikman_lower",
    "maxwell_insulating_spheres",
    "packing_contact_angle_deg",
    "m_particles",
    "m_particles_hs_crossing_deg",
    "m_combined",
    "HierarchicalMFactors",
    "hierarchical_m_factors",
    "stenzel_m_factor",
]

#: Intragranular porosity of the porous NMC111 particles in Naumann et al. 2024 (constant for
#: all electrodes).
SEED003_INTRAGRANULAR_POROSITY = 0.442

#: Default Bruggeman exponent (spheres): ``M = eps ** 1.5`` (Bruggeman 1935).
BRUGGEMAN_EXPONENT = 1.5


class HashinShtrikmanWarning(UserWarning):
    """The Naumann et al. (2024) particle-network fit exceeds the Hashin-Shtrikman upper bound."""


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _as_fraction(
    value: Any, name: str, *, low: float = 0.0, high: float = 1.0, open_low: bool = False
) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name}: expected a number or an array of numbers, got {value!r}"
        ) from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: must be finite, got {value!r}")
    bad = (arr <= low) if open_low else (arr < low)
    bad |= arr > high
    if np.any(bad):
        lo = "(" if open_low else "["
        shown = arr[bad].ravel()[0]
        raise ValueError(f"{name}: must lie in {lo}{low:g}, {high:g}], got {shown:g}")
    return arr


def _out(arr: np.ndarray, like: Any) -> float | np.ndarray:
    if np.ndim(like) == 0 and arr.ndim == 0:
        return float(arr)
    return arr


# --------------------------------------------------------------------------------------------
# classical relations
# --------------------------------------------------------------------------------------------
def bruggeman(porosity: Any, *, exponent: float = BRUGGEMAN_EXPONENT) -> float | np.ndarray:
    """Bruggeman relation ``M = porosity ** exponent``.

    Parameters
    ----------
    porosity
        Volume fraction of the conducting phase, 0..1 (scalar or array).
    exponent
        Bruggeman exponent (1.5 for spheres; larger for platelets / calendered electrodes).

    Returns
    -------
    float or ndarray
        M-factor (dimensionless); the tortuosity factor is ``porosity ** (1 - exponent)``.

    Raises
    ------
    ValueError
        If a porosity lies outside [0, 1] or the exponent is not a finite number >= 1.
    """
    eps = _as_fraction(porosity, "porosity")
    if not (isinstance(exponent, int | float) and math.isfinite(exponent) and exponent >= 1.0):
        raise ValueError(f"exponent: expected a finite number >= 1, got {exponent!r}")
    return _out(eps**exponent, porosity)


def tortuosity_factor_from_m(porosity: Any, m_factor: Any) -> float | np.ndarray:
    """Tortuosity factor ``tau = porosity / M`` (``inf`` where ``M = 0``).

    Parameters
    ----------
    porosity
        Volume fraction of the conducting phase, 0..1.
    m_factor
        M-factor, 0..1.
    """
    eps = _as_fraction(porosity, "porosity")
    m = _as_fraction(m_factor, "m_factor")
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = np.where(m > 0, eps / np.where(m > 0, m, 1.0), np.inf)
    scalar = np.ndim(porosity) == 0 and np.ndim(m_factor) == 0
    return float(tau) if scalar else tau


def _hs_checked(volume_fractions: Any, conductivities: Any) -> tuple[np.ndarray, np.ndarray]:
    phi = np.asarray(volume_fractions, dtype=float)
    sig = np.asarray(conductivities, dtype=float)
    if phi.ndim != 1 or sig.ndim != 1 or phi.size != sig.size or phi.size == 0:
        raise ValueError(
            "volume_fractions, conductivities: expected two 1D sequences of equal length, "
            f"got shapes {phi.shape} and {sig.shape}"
        )
    if not (np.all(np.isfinite(phi)) and np.all(phi >= 0) and np.all(phi <= 1)):
        raise ValueError(f"volume_fractions: every fraction must lie in [0, 1], got {phi.tolist()}")
    if abs(phi.sum() - 1.0) > 1e-6:
        raise ValueError(f"volume_fractions: must sum to 1, got {phi.sum():.6g}")
    if not (np.all(np.isfinite(sig)) and np.all(sig >= 0)):
        raise ValueError(f"conductivities: must be finite and >= 0, got {sig.tolist()}")
    return phi, sig


def _hs_bound(phi: np.ndarray, sig: np.ndarray, ref: float, dimension: int) -> float:
    # Lambda(s) = [sum_i phi_i / (sigma_i + (d-1) s)]^-1 - (d-1) s, evaluated at s = ref.
    k = (dimension - 1) * ref
    denom = sig + k
    keep = phi > 0
    if np.any(denom[keep] == 0):  # an insulating phase and ref = 0: the bound is 0
        return 0.0
    return float(1.0 / np.sum(phi[keep] / denom[keep]) - k)


def hashin_shtrikman_upper(
    volume_fractions: Any, conductivities: Any, *, dimension: int = 3
) -> float:
    """Hashin-Shtrikman upper bound of the effective conductivity of an isotropic n-phase mix.

    ``sigma_HS+ = [sum_i phi_i / (sigma_i + (d-1) sigma_max)]^-1 - (d-1) sigma_max``
    with ``sigma_max`` the largest conductivity among the phases present.

    Parameters
    ----------
    volume_fractions
        Volume fraction of each phase (sum 1).
    conductivities
        Conductivity (or diffusivity) of each phase relative to the bulk value, >= 0.
        With the electrolyte at 1 and the solids at 0 the result is an upper bound of M.
    dimension
        Spatial dimension (3, or 2 for cylinders).

    Returns
    -------
    float
        The upper bound, in the units of ``conductivities``.

    Examples
    --------
    Pore fraction ``eps`` in an insulating matrix: ``2 eps / (3 - eps)`` (Maxwell).
    """
    phi, sig = _hs_checked(volume_fractions, conductivities)
    if dimension not in (2, 3):
        raise ValueError(f"dimension: expected 2 or 3, got {dimension!r}")
    return _hs_bound(phi, sig, float(sig[phi > 0].max()), dimension)


def hashin_shtrikman_lower(
    volume_fractions: Any, conductivities: Any, *, dimension: int = 3
) -> float:
    """Hashin-Shtrikman lower bound of the effective conductivity of an isotropic n-phase mix.

    Same expression as :func:`hashin_shtrikman_upper` evaluated at the smallest conductivity
    present; it is 0 as soon as an insulating phase is present.

    Parameters
    ----------
    volume_fractions
        Volume fraction of each phase (sum 1).
    conductivities
        Conductivity of each phase, >= 0.
    dimension
        Spatial dimension (3, or 2).
    """
    phi, sig = _hs_checked(volume_fractions, conductivities)
    if dimension not in (2, 3):
        raise ValueError(f"dimension: expected 2 or 3, got {dimension!r}")
    return _hs_bound(phi, sig, float(sig[phi > 0].min()), dimension)


def maxwell_insulating_spheres(porosity: Any) -> float | np.ndarray:
    """Maxwell's M-factor ``2 eps / (3 - eps)`` of a matrix with dilute insulating spheres.

    Parameters
    ----------
    porosity
        Volume fraction of the conducting matrix, 0..1.
    """
    eps = _as_fraction(porosity, "porosity")
    return _out(2.0 * eps / (3.0 - eps), porosity)


# --------------------------------------------------------------------------------------------
# Naumann et al. (2024): hierarchical electrodes (porous secondary particles)
# --------------------------------------------------------------------------------------------
def packing_contact_angle_deg(
    particle_fraction: Any,
    *,
    fit_numerator: float = 15.625,
    fit_offset: float = 43.277,
    fit_slope: float = 0.166,
) -> float | np.ndarray:
    """Mean contact angle of a compressed packing of spheres, Naumann et al. 2024, eq. 6 (degrees).

    ``theta = ln(fit_numerator / (1 - eps_s) - fit_offset) / fit_slope``

    Parameters
    ----------
    particle_fraction
        Volume fraction ``eps_s`` of the (porous) particles in the electrode, in [0, 1).
    fit_numerator, fit_offset, fit_slope
        Constants of the fit (Naumann et al. 2024, eq. 6).

    Returns
    -------
    float or ndarray
        Contact angle in degrees; ``nan`` where the logarithm is undefined (a loose packing,
        ``eps_s`` below about 0.639). Negative values (``eps_s`` below about 0.647) also mean
        that the particles do not percolate.
    """
    eps = _as_fraction(particle_fraction, "particle_fraction")
    if np.any(eps >= 1.0):
        raise ValueError("particle_fraction: must be < 1 (the fit diverges at a full packing)")
    arg = fit_numerator / (1.0 - eps) - fit_offset
    with np.errstate(invalid="ignore", divide="ignore"):
        theta = np.where(arg > 0, np.log(np.where(arg > 0, arg, 1.0)) / fit_slope, np.nan)
    return _out(theta, particle_fraction)


def m_particles(
    particle_fraction: Any,
    *,
    percolation_threshold: float = 0.62,
    exponent_constant: float = 0.8015,
    exponent_inverse_angle: float = 0.3227,
    exponent_pole_coefficient: float = 13.88,
    exponent_pole_deg: float = 47.37,
    warn_above_bound: bool = True,
) -> float | np.ndarray:
    """M-factor of a network of interconnected equal spheres, Naumann et al. 2024, eq. 5.

    ``M_particles = (eps_s - 0.62) ** (0.8015 + 0.3227 / theta - 13.88 / (47.37 - theta))``
    with ``theta`` from :func:`packing_contact_angle_deg`. It is the transport factor of the
    particle network alone (particles conducting, the rest insulating); multiply by the
    intragranular M-factor ``M_II`` for the porous particles (:func:`m_combined`).

    Parameters
    ----------
    particle_fraction
        Volume fraction ``eps_s`` of the particles, in [0, 1).
    percolation_threshold
        ``eps_s`` at which the fit's base vanishes (0.62).
    exponent_constant, exponent_inverse_angle, exponent_pole_coefficient, exponent_pole_deg
        Constants of the exponent of eq. 5.
    warn_above_bound
        Emit :class:`HashinShtrikmanWarning` where the fit exceeds the two-phase
        Hashin-Shtrikman upper bound ``2 eps_s / (3 - eps_s)`` (contact angles above about
        27 deg, see :func:`m_particles_hs_crossing_deg`).

    Returns
    -------
    float or ndarray
        ``M_particles``; 0 where the contact angle is undefined or <= 0 (no percolation, as
        prescribed by Naumann et al. (2024)) or ``eps_s <= percolation_threshold``.

    Raises
    ------
    ValueError
        If ``eps_s`` is outside [0, 1) or the angle reaches the pole of the fit
        (``theta >= 47.37`` deg, ``eps_s`` above about 0.994).
    """
    eps = _as_fraction(particle_fraction, "particle_fraction")
    theta = np.asarray(packing_contact_angle_deg(eps), dtype=float)
    perc = np.isfinite(theta) & (theta > 0) & (eps > percolation_threshold)
    if np.any(perc & (theta >= exponent_pole_deg)):
        raise ValueError(
            f"particle_fraction: beyond the range of the Naumann et al. 2024 fit (contact angle >= "
            f"{exponent_pole_deg} deg, eps_s > ~0.994)"
        )
    th = np.where(perc, theta, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = (
            exponent_constant
            + exponent_inverse_angle / th
            - exponent_pole_coefficient / (exponent_pole_deg - th)
        )
        base = np.where(perc, eps - percolation_threshold, 1.0)
        m = np.where(perc, base**exponent, 0.0)
    if warn_above_bound and np.any(perc):
        bound = 2.0 * eps / (3.0 - eps)
        over = perc & (m > bound)
        if np.any(over):
            warnings.warn(
                "m_particles: the Naumann et al. 2024 fit exceeds the Hashin-Shtrikman upper bound "
                f"2 eps_s/(3 - eps_s) at eps_s = {float(eps[over].ravel()[0]):.4g} (contact angle "
                f"{float(theta[over].ravel()[0]):.3g} deg > ~27 deg); the value is not physical",
                HashinShtrikmanWarning,
                stacklevel=2,
            )
    return _out(m, particle_fraction)


def m_particles_hs_crossing_deg() -> float:
    """Contact angle (deg) above which eq. 5 exceeds the Hashin-Shtrikman upper bound (~26.9)."""
    from scipy.optimize import brentq

    def gap(eps_s: float) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", HashinShtrikmanWarning)
            m = float(m_particles(eps_s))
        return m - 2.0 * eps_s / (3.0 - eps_s)

    eps_cross = brentq(gap, 0.80, 0.95, xtol=1e-12)
    return float(packing_contact_angle_deg(eps_cross))


def m_combined(m_inter: Any, m_particles: Any, m_intragranular: Any) -> float | np.ndarray:
    """Combined intra- plus intergranular M-factor, Naumann et al. 2024, eq. 7.

    ``M_combi = M_inter + M_particles * M_II``

    Parameters
    ----------
    m_inter
        M-factor of the intergranular pore network (electrode scale), 0..1.
    m_particles
        M-factor of the particle network (:func:`m_particles`), 0..1.
    m_intragranular
        M-factor ``M_II`` of the pore network inside a particle, 0..1.
    """
    a = _as_fraction(m_inter, "m_inter")
    b = _as_fraction(m_particles, "m_particles")
    c = _as_fraction(m_intragranular, "m_intragranular")
    out = a + b * c
    scalar = all(np.ndim(v) == 0 for v in (m_inter, m_particles, m_intragranular))
    return float(out) if scalar else out


@dataclass(frozen=True)
class HierarchicalMFactors:
    """M-factors of a hierarchical electrode (all dimensionless).

    Attributes
    ----------
    m_inter
        Intergranular M-factor.
    contact_angle_deg
        Naumann et al. 2024, eq. 6 (``nan`` where undefined).
    m_particles
        Naumann et al. 2024, eq. 5 (0 without percolation).
    m_intragranular
        ``M_II`` used.
    m_combined
        Naumann et al. 2024, eq. 7.
    hs_upper
        Three-phase Hashin-Shtrikman upper bound (intergranular electrolyte at 1, porous
        particles at ``M_II``, additives at 0).
    """

    m_inter: float | np.ndarray
    contact_angle_deg: float | np.ndarray
    m_particles: float | np.ndarray
    m_intragranular: float
    m_combined: float | np.ndarray
    hs_upper: float | np.ndarray


def hierarchical_m_factors(
    intergranular_porosity: Any,
    particle_fraction: Any,
    *,
    intragranular_porosity: float = SEED003_INTRAGRANULAR_POROSITY,
    m_inter: Any = None,
    m_intragranular: float | None = None,
    bruggeman_exponent: float = BRUGGEMAN_EXPONENT,
    warn_above_bound: bool = True,
) -> HierarchicalMFactors:
    """All M-factors of Naumann et al. (2024) for an electrode with porous particles.

    Naumann et al. (2024) give the combination (eq. 5-7) but not the laws behind ``M_inter`` and
    ``M_II`` (its supporting information, not available here). Unless given, both default to
    Bruggeman with ``bruggeman_exponent``: ``M_inter = eps_inter ** a`` and
    ``M_II = eps_II ** a``. Naumann et al. (2024) quote ``M_combi = 0.19`` at
    ``eps_inter = 0``, which with eq. 5 implies ``M_II`` of about 0.245 (Bruggeman 1.5 gives 0.294).

    Parameters
    ----------
    intergranular_porosity
        Porosity between the particles, 0..1.
    particle_fraction
        Volume fraction of porous particles, [0, 1).
    intragranular_porosity
        Porosity inside the particles (0.442 in Naumann et al. 2024).
    m_inter
        Intergranular M-factor(s); default Bruggeman of ``intergranular_porosity``.
    m_intragranular
        ``M_II``; default Bruggeman of ``intragranular_porosity``.
    bruggeman_exponent
        Exponent of the default laws.
    warn_above_bound
        Passed to :func:`m_particles`.
    """
    eps_e = _as_fraction(intergranular_porosity, "intergranular_porosity")
    eps_s = _as_fraction(particle_fraction, "particle_fraction")
    if np.any(eps_e + eps_s > 1.0 + 1e-9):
        raise ValueError(
            "intergranular_porosity, particle_fraction: their sum exceeds 1 (no room left)"
        )
    _as_fraction(intragranular_porosity, "intragranular_porosity")
    if m_inter is None:
        m_inter_v = eps_e**bruggeman_exponent
    else:
        m_inter_v = _as_fraction(m_inter, "m_inter")
    if m_intragranular is None:
        m_ii = float(bruggeman(intragranular_porosity, exponent=bruggeman_exponent))
    else:
        m_ii = float(_as_fraction(m_intragranular, "m_intragranular"))
    theta = np.asarray(packing_contact_angle_deg(eps_s), dtype=float)
    m_p = np.asarray(m_particles(eps_s, warn_above_bound=warn_above_bound), dtype=float)
    m_c = m_inter_v + m_p * m_ii
    eps_add = np.clip(1.0 - eps_e - eps_s, 0.0, 1.0)
    hs = np.vectorize(
        lambda e, s, f: hashin_shtrikman_upper([e, s, f], [1.0, m_ii, 0.0]), otypes=[float]
    )(eps_e, eps_s, eps_add)
    scalar = np.ndim(intergranular_porosity) == 0 and np.ndim(particle_fraction) == 0

    def o(v: Any) -> Any:
        return float(v) if scalar else np.asarray(v, dtype=float)

    return HierarchicalMFactors(
        m_inter=o(m_inter_v),
        contact_angle_deg=o(theta),
        m_particles=o(m_p),
        m_intragranular=m_ii,
        m_combined=o(m_c),
        hs_upper=o(hs),
    )


# --------------------------------------------------------------------------------------------
# Stenzel et al. 2016
# --------------------------------------------------------------------------------------------
def stenzel_m_factor(
    porosity: Any,
    constrictivity: Any,
    geodesic_tortuosity: Any,
    *,
    form: str = "full",
) -> float | np.ndarray:
    """M-factor predicted from geometric descriptors (Stenzel et al., AIChE J. 2016).

    ``full``: ``M = eps**1.15 * beta**0.37 / tau_geod**4.39``;
    ``simplified``: ``M = eps * beta**0.36 / tau_geod**5.17``.

    Parameters
    ----------
    porosity
        Volume fraction of the transporting phase, 0..1.
    constrictivity
        ``beta = (r_min / r_max) ** 2``, 0..1.
    geodesic_tortuosity
        Mean geodesic tortuosity, >= 1.
    form
        ``"full"`` or ``"simplified"``.
    """
    eps = _as_fraction(porosity, "porosity")
    beta = _as_fraction(constrictivity, "constrictivity")
    try:
        tau = np.asarray(geodesic_tortuosity, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"geodesic_tortuosity: expected a number, got {geodesic_tortuosity!r}"
        ) from None
    if not np.all(np.isfinite(tau)) or np.any(tau < 1.0 - 1e-9):
        raise ValueError(
            f"geodesic_tortuosity: must be a finite number >= 1, got {geodesic_tortuosity!r}"
        )
    if form == "full":
        m = eps**1.15 * beta**0.37 / tau**4.39
    elif form == "simplified":
        m = eps * beta**0.36 / tau**5.17
    else:
        raise ValueError(f"form: expected 'full' or 'simplified', got {form!r}")
    scalar = all(np.ndim(v) == 0 for v in (porosity, constrictivity, geodesic_tortuosity))
    return float(m) if scalar else m
