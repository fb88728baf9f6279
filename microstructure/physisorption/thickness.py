"""Statistical thickness curves t(p/p0) of adsorbed N2 at 77 K and the Kelvin radius.

Thickness curves (t in nm from p/p0):

- ``"harkins-jura"``: t = 0.1 [13.99 / (0.034 - log10 x)]^0.5 (Harkins and Jura 1944,
  doi:10.1021/ja01236a048), the default of most instrument software for N2 on oxides;
- ``"halsey"``: t = 0.354 [-5 / ln x]^(1/3) (Halsey 1948, doi:10.1063/1.1746689), a
  reference curve for non-porous surfaces;
- ``"broekhoff-de-boer"``: log10 x = -16.11 / t^2 + 0.1682 exp(-0.1137 t), t in Angstrom
  (Broekhoff and de Boer 1967, J. Catal. 9, 8-14), solved for t.

Kelvin radius of the meniscus (nm) for a liquid of surface tension gamma and molar volume Vm,
perfectly wetting: r_k = -f gamma Vm / (R T ln x), with f = 2 for a hemispherical meniscus
(desorption from a cylindrical pore) and f = 1 for a cylindrical meniscus (condensation on
adsorption), as used by Barrett, Joyner and Halenda (1951), doi:10.1021/ja01145a126.

References
----------
.. [1] Harkins W.D., Jura G. (1944), J. Am. Chem. Soc. 66, 1366-1373, doi:10.1021/ja01236a048.
.. [2] Halsey G. (1948), J. Chem. Phys. 16, 931-937, doi:10.1063/1.1746689.
.. [3] Broekhoff J.C.P., de Boer J.H. (1967), J. Catal. 9, 8-14 (studies on pore systems in
   catalysts IX).
.. [4] Barrett E.P., Joyner L.G., Halenda P.P. (1951), J. Am. Chem. Soc. 73, 373-380,
   doi:10.1021/ja01145a126.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from microstructure.physisorption.constants import ADSORPTIVES, GAS_CONSTANT_J_PER_MOL_K

__all__ = [
    "DEFAULT_THICKNESS",
    "THICKNESS_CURVES",
    "thickness_nm",
    "kelvin_radius_nm",
    "MENISCUS_FACTOR",
]

_N2 = ADSORPTIVES["N2"]


def _harkins_jura(x: np.ndarray) -> np.ndarray:
    return 0.1 * np.sqrt(13.99 / (0.034 - np.log10(x)))


def _halsey(x: np.ndarray) -> np.ndarray:
    return 0.354 * np.cbrt(-5.0 / np.log(x))


def _broekhoff_de_boer(x: np.ndarray) -> np.ndarray:
    target = np.log10(x)
    lo = np.full(x.shape, 1.5)  # Angstrom; the curve is increasing in t above ~1.5 A
    hi = np.full(x.shape, 5000.0)

    def f(t: np.ndarray) -> np.ndarray:
        return -16.11 / t**2 + 0.1682 * np.exp(-0.1137 * t)

    for _ in range(80):  # bisection: 80 halvings of 5000 A is far below 1e-10 A
        mid = 0.5 * (lo + hi)
        above = f(mid) > target
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return 0.05 * (lo + hi)  # Angstrom -> nm


#: Thickness curves by name, each x (p/p0 in (0, 1)) -> t in nm.
THICKNESS_CURVES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "harkins-jura": _harkins_jura,
    "halsey": _halsey,
    "broekhoff-de-boer": _broekhoff_de_boer,
}

#: Thickness curve used when none is named (t-plot, BJH).
DEFAULT_THICKNESS = "harkins-jura"

#: Meniscus factor f of the Kelvin equation by meniscus shape.
MENISCUS_FACTOR = {"hemispherical": 2.0, "cylindrical": 1.0}


def thickness_nm(p_over_p0: np.ndarray | float, curve: str = DEFAULT_THICKNESS) -> np.ndarray:
    """Statistical thickness of the adsorbed N2 film at 77 K.

    Parameters
    ----------
    p_over_p0
        Relative pressures in (0, 1).
    curve
        ``"harkins-jura"``, ``"halsey"`` or ``"broekhoff-de-boer"``.

    Returns
    -------
    numpy.ndarray
        t in nm (float array of the input's shape).

    Examples
    --------
    >>> thickness_nm([0.1, 0.3, 0.5]).round(3)
    array([0.368, 0.501, 0.646])

    References
    ----------
    .. [1] Harkins W.D., Jura G. (1944), doi:10.1021/ja01236a048.
    .. [2] Halsey G. (1948), doi:10.1063/1.1746689.
    """
    key = str(curve).lower().replace("_", "-").replace(" ", "-")
    if key not in THICKNESS_CURVES:
        known = ", ".join(THICKNESS_CURVES)
        raise ValueError(f"thickness: unknown curve {curve!r} (known: {known})")
    x = np.asarray(p_over_p0, dtype=float)
    if np.any((x <= 0) | (x >= 1)):
        raise ValueError("thickness: p/p0 must lie in (0, 1)")
    return THICKNESS_CURVES[key](x)


def kelvin_radius_nm(
    p_over_p0: np.ndarray | float,
    *,
    meniscus: str = "hemispherical",
    temperature_k: float = _N2.temperature_k,
    surface_tension_n_per_m: float = _N2.surface_tension_n_per_m or 8.85e-3,
    molar_volume_cm3_per_mol: float = _N2.liquid_molar_volume_cm3_per_mol or 34.67,
) -> np.ndarray:
    """Kelvin radius of the meniscus of a perfectly wetting condensate.

    Parameters
    ----------
    p_over_p0
        Relative pressures in (0, 1).
    meniscus
        ``"hemispherical"`` (desorption, f = 2) or ``"cylindrical"`` (adsorption, f = 1).
    temperature_k
        Bath temperature.
    surface_tension_n_per_m, molar_volume_cm3_per_mol
        Liquid adsorptive properties (N2 at 77 K by default).

    Returns
    -------
    numpy.ndarray
        r_k in nm.

    Examples
    --------
    >>> kelvin_radius_nm([0.5, 0.9]).round(2)
    array([1.38, 9.06])

    References
    ----------
    .. [1] Barrett E.P., Joyner L.G., Halenda P.P. (1951), doi:10.1021/ja01145a126.
    """
    if meniscus not in MENISCUS_FACTOR:
        raise ValueError(f"kelvin: meniscus must be one of {sorted(MENISCUS_FACTOR)}")
    x = np.asarray(p_over_p0, dtype=float)
    if np.any((x <= 0) | (x >= 1)):
        raise ValueError("kelvin: p/p0 must lie in (0, 1)")
    a_m = (
        MENISCUS_FACTOR[meniscus]
        * surface_tension_n_per_m
        * molar_volume_cm3_per_mol
        * 1e-6
        / (GAS_CONSTANT_J_PER_MOL_K * temperature_k)
    )
    return -a_m / np.log(x) * 1e9
