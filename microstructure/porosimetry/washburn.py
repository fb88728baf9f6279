"""Washburn equation: pore (throat) diameter <-> mercury pressure.

``D = -4 gamma cos(theta) / P`` for a cylindrical throat of diameter ``D`` (radius ``D / 2``):
with ``gamma`` in N/m and ``P`` in MPa, ``D`` in nm is ``-4000 gamma cos(theta) / P``. With the
defaults (140 deg, 0.48 N/m), 400 MPa corresponds to 3.68 nm (Beuse et al. 2021: "down to
3.7 nm"). The two mercury constants below are the package's only statement of these defaults:
functions, stage parameters and command-line options read them from here.

References
----------
Washburn, E. W. (1921). The dynamics of capillary flow. Physical Review 17, 273-283.
doi:10.1103/PhysRev.17.273

Beuse, T. et al. (2021). FIB/SEM model, simulated and measured MIP of an NMC622 cathode.
Batteries 7, 70. doi:10.3390/batteries7040070
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "CONTACT_ANGLE_DEG",
    "SURFACE_TENSION_N_PER_M",
    "check_mercury_parameters",
    "washburn_diameter_nm",
    "washburn_pressure_mpa",
]

#: Default mercury contact angle on the electrode materials (degrees).
CONTACT_ANGLE_DEG = 140.0
#: Default mercury surface tension (N/m).
SURFACE_TENSION_N_PER_M = 0.48


def check_mercury_parameters(contact_angle_deg: float, surface_tension_n_per_m: float) -> float:
    """Validate the Washburn parameters and return ``-4000 gamma cos(theta)`` in nm * MPa.

    Raises
    ------
    ValueError
        When the contact angle is not in (90, 180] degrees (mercury does not wet: a contact
        angle below 90 deg would mean spontaneous imbibition, no intrusion pressure) or the
        surface tension is not a positive finite number.
    """
    try:
        theta = float(contact_angle_deg)
        gamma = float(surface_tension_n_per_m)
    except (TypeError, ValueError):
        raise ValueError(
            "contact_angle_deg / surface_tension_n_per_m: expected numbers, got "
            f"{contact_angle_deg!r} / {surface_tension_n_per_m!r}"
        ) from None
    if not (math.isfinite(theta) and 90.0 < theta <= 180.0):
        raise ValueError(
            f"contact_angle_deg: mercury is non-wetting, the contact angle must be in (90, 180] "
            f"degrees, got {contact_angle_deg!r}"
        )
    if not (math.isfinite(gamma) and gamma > 0.0):
        raise ValueError(
            f"surface_tension_n_per_m: expected a positive number, got {surface_tension_n_per_m!r}"
        )
    return -4000.0 * gamma * math.cos(math.radians(theta))


def washburn_diameter_nm(
    pressure_mpa: float | np.ndarray,
    *,
    contact_angle_deg: float = CONTACT_ANGLE_DEG,
    surface_tension_n_per_m: float = SURFACE_TENSION_N_PER_M,
) -> float | np.ndarray:
    """Throat diameter (nm) intruded at ``pressure_mpa`` (MPa); ``inf`` at zero pressure.

    Parameters
    ----------
    pressure_mpa
        Mercury pressure in MPa (>= 0).
    contact_angle_deg
        Mercury contact angle in degrees, in (90, 180].
    surface_tension_n_per_m
        Mercury surface tension in N/m.

    Returns
    -------
    Diameter in nm, same shape as ``pressure_mpa``.
    """
    k = check_mercury_parameters(contact_angle_deg, surface_tension_n_per_m)
    p = np.asarray(pressure_mpa, dtype=float)
    if np.any(~np.isfinite(p)) or np.any(p < 0):
        raise ValueError("pressure_mpa: pressures must be finite and >= 0 MPa")
    with np.errstate(divide="ignore"):
        d = np.where(p > 0, k / np.where(p > 0, p, 1.0), np.inf)
    return float(d) if d.ndim == 0 else d


def washburn_pressure_mpa(
    diameter_nm: float | np.ndarray,
    *,
    contact_angle_deg: float = CONTACT_ANGLE_DEG,
    surface_tension_n_per_m: float = SURFACE_TENSION_N_PER_M,
) -> float | np.ndarray:
    """Mercury pressure (MPa) that intrudes a throat of ``diameter_nm`` (nm); ``inf`` at 0.

    Parameters
    ----------
    diameter_nm
        Throat diameter in nm (>= 0; note: a diameter, not a radius).
    contact_angle_deg
        Mercury contact angle in degrees, in (90, 180].
    surface_tension_n_per_m
        Mercury surface tension in N/m.
    """
    k = check_mercury_parameters(contact_angle_deg, surface_tension_n_per_m)
    d = np.asarray(diameter_nm, dtype=float)
    if np.any(np.isnan(d)) or np.any(d < 0):
        raise ValueError("diameter_nm: diameters must be >= 0 nm")
    with np.errstate(divide="ignore"):
        p = np.where(d > 0, k / np.where(d > 0, d, 1.0), np.inf)
    return float(p) if p.ndim == 0 else p
