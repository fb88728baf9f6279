"""Physical constants and adsorptive properties used by the physisorption analyses.

Every number lives here once; the analysis functions take them as named keyword arguments
with these defaults.

References
----------
.. [1] Thommes M. et al. (2015), "Physisorption of gases, with special reference to the
   evaluation of surface area and pore size distribution (IUPAC Technical Report)",
   Pure Appl. Chem. 87, 1051-1069, doi:10.1515/pac-2014-1117.
.. [2] ISO 9277:2022, "Determination of the specific surface area of solids by gas
   adsorption - BET method" (cross-sectional areas of N2, Ar, Kr).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Avogadro constant in 1/mol.
AVOGADRO_PER_MOL = 6.02214076e23
#: Gas constant in J/(mol K).
GAS_CONSTANT_J_PER_MOL_K = 8.314462618
#: Molar volume of an ideal gas at STP (273.15 K, 101.325 kPa) in cm3/mol.
STP_MOLAR_VOLUME_CM3_PER_MOL = 22414.0
#: Bath temperature assumed for N2 when the file does not state one, in K.
DEFAULT_N2_TEMPERATURE_K = 77.35


@dataclass(frozen=True)
class Adsorptive:
    """Properties of an adsorptive at its usual bath temperature.

    Attributes
    ----------
    name
        Canonical formula (``"N2"``, ``"Ar"``, ``"Kr"``).
    molar_mass_g_per_mol
        Molar mass.
    cross_section_nm2
        Molecular cross-sectional area for BET (ISO 9277).
    liquid_molar_volume_cm3_per_mol
        Molar volume of the liquid adsorptive at the bath temperature (converts gas at STP
        to liquid volume: ``V_liq = n_STP * V_m / 22414``); None where not tabulated here.
    surface_tension_n_per_m
        Surface tension of the liquid adsorptive at the bath temperature (Kelvin equation);
        None where not tabulated here.
    temperature_k
        Usual bath temperature.
    """

    name: str
    molar_mass_g_per_mol: float
    cross_section_nm2: float
    liquid_molar_volume_cm3_per_mol: float | None
    surface_tension_n_per_m: float | None
    temperature_k: float


#: Adsorptives by canonical name. N2 at 77 K (liquid density 0.808 g/cm3, surface tension
#: 8.85 mN/m) is the adsorptive the thickness curves and the BJH method are made for; Ar and Kr
#: carry only what BET needs.
ADSORPTIVES: dict[str, Adsorptive] = {
    "N2": Adsorptive("N2", 28.0134, 0.162, 34.67, 8.85e-3, 77.35),
    "Ar": Adsorptive("Ar", 39.948, 0.142, None, None, 87.3),
    "Kr": Adsorptive("Kr", 83.798, 0.202, None, None, 77.35),
}

_ALIASES = {
    "n2": "N2",
    "nitrogen": "N2",
    "ar": "Ar",
    "argon": "Ar",
    "kr": "Kr",
    "krypton": "Kr",
}


def canonical_adsorptive(name: str | None) -> str:
    """The canonical formula of an adsorptive name (``"Nitrogen"`` -> ``"N2"``).

    Parameters
    ----------
    name
        Name as written by the instrument (case-insensitive), or None.

    Returns
    -------
    str
        ``"N2"``, ``"Ar"``, ``"Kr"``, or the stripped input when unknown (``""``
        for None).
    """
    if not name:
        return ""
    key = str(name).strip().lower().replace("_", " ")
    return _ALIASES.get(key, str(name).strip())


def adsorptive(name: str, *, what: str) -> Adsorptive:
    """The :class:`Adsorptive` of ``name`` or a one-line ValueError naming ``what``."""
    canon = canonical_adsorptive(name)
    if canon not in ADSORPTIVES:
        raise ValueError(
            f"{what}: adsorptive {name!r} has no tabulated properties "
            f"(known: {', '.join(ADSORPTIVES)}); pass cross_section_nm2 explicitly"
        )
    return ADSORPTIVES[canon]
