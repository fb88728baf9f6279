"""Forward models of N2 isotherms at 77 K, written independently of the package under test.

Constants are typed in here again on purpose (not imported from microstructure), so a wrong
constant in the package cannot cancel out in a test.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

VALIDATION = Path(__file__).resolve().parents[2] / ".." / "shared" / "validation"
PHYSISORPTION = VALIDATION / "physisorption"

N_A = 6.02214076e23  # 1/mol
V_STP = 22414.0  # cm3/mol
SIGMA_N2_NM2 = 0.162
D_LIQ = 34.67 / 22414.0  # cm3 liquid N2 per cm3(STP)
R = 8.314462618
GAMMA = 8.85e-3  # N/m
VM = 34.67e-6  # m3/mol
T_K = 77.35


def bet_area(nm_cm3_per_g: float, sigma_nm2: float = SIGMA_N2_NM2) -> float:
    return nm_cm3_per_g / V_STP * N_A * sigma_nm2 * 1e-18


def bet_isotherm(x: np.ndarray, nm: float, c: float) -> np.ndarray:
    return nm * c * x / ((1 - x) * (1 - x + c * x))


def t_harkins_jura_nm(x: np.ndarray) -> np.ndarray:
    return np.sqrt(13.99 / (0.034 - np.log10(x))) / 10.0


def t_halsey_nm(x: np.ndarray) -> np.ndarray:
    return 0.354 * (5.0 / np.log(1.0 / x)) ** (1.0 / 3.0)


def kelvin_nm(x: np.ndarray, factor: float) -> np.ndarray:
    """Kelvin radius; factor 2 hemispherical (desorption), 1 cylindrical (adsorption)."""
    return factor * GAMMA * VM / (R * T_K * np.log(1.0 / x)) * 1e9


def cylinder_isotherm(
    x: np.ndarray,
    *,
    radii_nm: np.ndarray,
    volumes_cm3_per_g: np.ndarray,
    desorption: bool,
    external_area_m2_per_g: float = 0.0,
) -> np.ndarray:
    """Amount (cm3(STP)/g) in a bundle of open cylinders: filled pores hold their volume,
    empty ones a film t(x) on the wall, plus a film on the external surface."""
    t = t_harkins_jura_nm(x)[None, :]
    r_switch = kelvin_nm(x, 2.0 if desorption else 1.0)[None, :] + t
    r = np.asarray(radii_nm, dtype=float)[:, None]
    v = np.asarray(volumes_cm3_per_g, dtype=float)[:, None]
    film = v * (1.0 - np.clip(r - t, 0.0, None) ** 2 / r**2)
    liquid = np.where(r <= r_switch, v, film).sum(axis=0)
    liquid = liquid + external_area_m2_per_g * t[0] * 1e-3
    return liquid / D_LIQ


def lognormal_pores(
    d_mode_nm: float, sigma_ln: float, total_cm3_per_g: float, n: int = 20000
) -> tuple[np.ndarray, np.ndarray]:
    """Pore radii and volumes with a dV/dlnD Gaussian in ln D centred on ``d_mode_nm``."""
    centre = math.log(d_mode_nm)
    d = np.exp(np.linspace(centre - 5 * sigma_ln, centre + 5 * sigma_ln, n))
    w = np.exp(-((np.log(d) - math.log(d_mode_nm)) ** 2) / (2 * sigma_ln**2))
    return d / 2.0, total_cm3_per_g * w / w.sum()
