"""``pybamm.ParameterValues`` of the Naumann et al. (2024) electrodes for :class:`HierarchicalDFN`.

:func:`parameter_values` turns the plain numbers of
:func:`~microstructure.transport.dfn.parameters.cell_parameters` (Table 1 of the paper plus
documented literature values and assumptions, :data:`~.parameters.PARAMETER_SOURCES`) into
a ``pybamm.ParameterValues`` with PyBaMM-style names and units, and registers the sources
with ``pybamm.citations``. The material functions (NMC OCP, eq. 9 solid diffusivity,
Butler-Volmer exchange-current densities, LiPF6 electrolyte) are module-level functions of
PyBaMM symbols, so a user can swap any of them with ``ParameterValues.update``.

References
----------
Naumann et al. (2024), ACS Appl. Energy Mater. 7, 4786, doi:10.1021/acsaem.4c00505
(Table 1, eq. 5-9).
Valoen and Reimers (2005), J. Electrochem. Soc. 152, A882, doi:10.1149/1.1872737.
Xu et al. (2019), J. Electrochem. Soc. 166, A3456, doi:10.1149/2.0111914jes.
Mohtat et al. (2020), J. Electrochem. Soc. 167, 110561, doi:10.1149/1943-7019/ab92d1.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from microstructure.transport.dfn._pybamm_common import (
    LazyPyBaMM,
    electrolyte_conductivity,
    electrolyte_diffusivity,
    ocp_v,
)
from microstructure.transport.dfn.parameters import (
    FARADAY_C_PER_MOL,
    CellParameters,
    cell_parameters,
)
from microstructure.transport.presets import ElectrodePreset

__all__ = [
    "CITATIONS",
    "NAUMANN2024_BIBTEX",
    "cell_parameter_values",
    "li_metal_exchange_current_density",
    "nmc_diffusivity_naumann2024",
    "nmc_exchange_current_density",
    "nmc_ocp",
    "parameter_values",
    "particle_network_m_factor",
]

pybamm: Any = LazyPyBaMM(globals())

#: BibTeX of the paper the model implements (registered with ``pybamm.citations``).
NAUMANN2024_BIBTEX = (
    "@article{Naumann2024, title={Ionic Transport in Hierarchically Structured Battery "
    "Electrodes: Intra- and Intergranular Pores}, author={Naumann, J. and Zeh, L. and "
    "Pfaffmann, L. and Beuse, T. and others}, journal={ACS Applied Energy Materials}, "
    "volume={7}, pages={4786}, year={2024}, doi={10.1021/acsaem.4c00505}}"
)

#: Citation keys of PyBaMM's bibliography for the literature values used here.
CITATIONS = ("Valoen2005", "Xu2019", "Mohtat2020")


def nmc_ocp(sto: Any) -> Any:
    """NMC open-circuit potential vs Li/Li+ [V] (Mohtat et al. 2020 fit, PyBaMM ``Xu2019``).

    A stand-in for NMC111: Naumann et al. (2024) does not give its OCV.
    """
    return ocp_v(sto)


def nmc_diffusivity_naumann2024(sto: Any, T: Any) -> Any:
    """Solid diffusivity of NMC111 [m2/s], Naumann et al. (2024), eq. 9.

    ``10^-a`` (l <= 0.5), ``10^(-7.5 l + 3.75 - a)`` (0.5 < l < 0.7), ``10^(-1.5 - a)``
    (l >= 0.7), with ``l = sto`` and ``a`` the parameter ``"Positive particle diffusivity
    exponent a"`` (14.4 in the paper, fitted to Cal-1 at 1C and 7C; :mod:`.fitting`).
    """
    a = pybamm.Parameter("Positive particle diffusivity exponent a")
    ramp = pybamm.minimum(pybamm.maximum(sto - 0.5, 0.0), 0.2)
    return 10 ** (-a - 7.5 * ramp)


def nmc_exchange_current_density(c_e: Any, c_s_surf: Any, c_s_max: Any, T: Any) -> Any:
    """``F k sqrt(c_e c_s (c_max - c_s))`` [A/m2], ``k`` = ``"Positive electrode reaction
    rate constant [m2.5.mol-0.5.s-1]"`` (5.76e-11, Xu et al. 2019)."""
    k = pybamm.Parameter("Positive electrode reaction rate constant [m2.5.mol-0.5.s-1]")
    return (
        FARADAY_C_PER_MOL
        * k
        * pybamm.sqrt(c_e)
        * pybamm.sqrt(c_s_surf)
        * pybamm.sqrt(c_s_max - c_s_surf)
    )


def li_metal_exchange_current_density(c_e: Any, c_li: Any, T: Any) -> Any:
    """Li-metal exchange-current density ``3.5e-8 F c_Li^0.7 c_e^0.3`` [A/m2] (Xu et al. 2019)."""
    return FARADAY_C_PER_MOL * 3.5e-8 * c_li**0.7 * c_e**0.3


def particle_network_m_factor(eps_s: Any) -> Any:
    """``M_particles`` of a network of porous particles, Naumann et al. (2024), eq. 5-6.

    Zero below percolation (mean contact angle < 0). Needs a constant particle volume
    fraction (evaluated once when the parameters are processed).

    Raises
    ------
    ValueError
        The particle volume fraction is an input parameter or depends on the solution.
    """
    from microstructure.transport.formulas import HashinShtrikmanWarning, m_particles

    if isinstance(eps_s, pybamm.Symbol):
        if not eps_s.is_constant():
            raise ValueError(
                "Positive electrode particle-network M-factor: eq. 5-6 needs a constant "
                "'Positive electrode porous particle volume fraction' (not an input); give "
                "the M-factor as a number instead"
            )
        eps_s = float(eps_s.evaluate())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HashinShtrikmanWarning)
        return pybamm.Scalar(float(m_particles(float(eps_s))))


def _electrolyte_diffusivity(c_e: Any, T: Any) -> Any:
    """LiPF6 in EC:DMC, Valoen & Reimers 2005 [m2/s]."""
    return electrolyte_diffusivity(c_e, T)


def _electrolyte_conductivity(c_e: Any, T: Any) -> Any:
    """LiPF6 in EC:DMC, Valoen & Reimers 2005 [S/m]."""
    return electrolyte_conductivity(c_e, T)


def cell_parameter_values(
    p: CellParameters, *, area_m2: float = 1e-4, current_a: float | None = None
) -> dict[str, Any]:
    """The parameter dictionary of one cell (PyBaMM names, SI units) for ``area_m2``.

    ``current_a``: the ``"Current function [A]"`` (default 1C for that area; ``"[input]"``
    allowed). The intergranular Bruggeman coefficient is ``ln M_inter / ln eps_inter``, so
    the ``"formula"`` and ``"image"`` M-factor sources give the same ``M_inter``.
    """
    side = math.sqrt(area_m2)
    one_c_a = p.one_c_current_density_a_per_m2 * area_m2
    b_inter = math.log(p.m_inter) / math.log(p.intergranular_porosity)
    T = p.temperature_k
    values: dict[str, Any] = {
        "Ambient temperature [K]": T,
        "Initial temperature [K]": T,
        "Reference temperature [K]": T,
        "Separator thickness [m]": p.separator_thickness_um * 1e-6,
        "Positive electrode thickness [m]": p.thickness_um * 1e-6,
        "Negative electrode thickness [m]": p.li_metal_thickness_um * 1e-6,
        "Electrode height [m]": side,
        "Electrode width [m]": side,
        "Separator porosity": p.separator_porosity,
        "Separator Bruggeman coefficient (electrolyte)": p.separator_bruggeman,
        "Positive electrode intergranular porosity": p.intergranular_porosity,
        "Positive electrode porous particle volume fraction": p.particle_fraction,
        "Positive electrode additive volume fraction": p.additive_fraction,
        "Positive particle intragranular porosity": p.intragranular_porosity,
        "Positive electrode Bruggeman coefficient (electrolyte)": b_inter,
        "Positive electrode intergranular M-factor": p.m_inter,
        "Positive particle intragranular M-factor": p.m_intragranular,
        "Positive electrode particle-network M-factor": particle_network_m_factor,
        "Contact resistance [Ohm.m2]": p.contact_resistance_ohm_m2,
        "Positive electrode effective conductivity [S.m-1]": p.electrode_conductivity_s_per_m,
        "Positive secondary particle radius [m]": p.secondary_radius_um * 1e-6,
        "Positive primary particle radius [m]": p.primary_radius_um * 1e-6,
        "Maximum concentration in positive electrode [mol.m-3]": p.c_max_mol_per_m3,
        "Initial concentration in positive electrode [mol.m-3]": p.initial_lithiation
        * p.c_max_mol_per_m3,
        "Positive particle diffusivity exponent a": p.solid_diffusivity_exponent_a,
        "Positive particle diffusivity [m2.s-1]": nmc_diffusivity_naumann2024,
        "Positive electrode OCP [V]": nmc_ocp,
        "Positive electrode reaction rate constant [m2.5.mol-0.5.s-1]": p.kinetic_rate_constant,
        "Positive electrode exchange-current density [A.m-2]": nmc_exchange_current_density,
        "Positive electrode active material density [kg.m-3]": p.nmc_density_g_per_cm3 * 1e3,
        "Positive electrode additive density [kg.m-3]": p.additive_density_g_per_cm3 * 1e3,
        "Initial concentration in electrolyte [mol.m-3]": p.initial_salt_mol_per_m3,
        "Cation transference number": p.transference_number,
        "Electrolyte diffusivity [m2.s-1]": _electrolyte_diffusivity,
        "Electrolyte conductivity [S.m-1]": _electrolyte_conductivity,
        "Electrolyte concentration regularisation [mol.m-3]": p.salt_regularisation_mol_per_m3,
        "Lithium metal concentration [mol.m-3]": p.li_metal_concentration_mol_per_m3,
        "Negative electrode conductivity [S.m-1]": p.li_metal_conductivity_s_per_m,
        "Exchange-current density for lithium metal electrode [A.m-2]": (
            li_metal_exchange_current_density
        ),
        "Lower voltage cut-off [V]": p.lower_cutoff_v,
        "Upper voltage cut-off [V]": p.upper_cutoff_v,
        "Open-circuit voltage at 0% SOC [V]": p.lower_cutoff_v,
        "Open-circuit voltage at 100% SOC [V]": float(ocp_v_value(p.initial_lithiation)),
        "Number of electrodes connected in parallel to make a cell": 1.0,
        "Number of cells connected in series to make a battery": 1.0,
        "Nominal cell capacity [A.h]": one_c_a,
        "Current function [A]": one_c_a if current_a is None else current_a,
    }
    if p.intragranular_conductivity_s_per_m is not None:
        values["Positive particle electronic conductivity [S.m-1]"] = (
            p.intragranular_conductivity_s_per_m
        )
    return values


def ocp_v_value(sto: float) -> float:
    """:func:`nmc_ocp` at a number [V]."""
    from microstructure.transport.dfn._pybamm_common import ocp_v_numpy

    return float(ocp_v_numpy(sto))


def parameter_values(
    preset: str | ElectrodePreset | CellParameters = "cal-3",
    *,
    area_cm2: float = 1.0,
    **cell_options: Any,
) -> pybamm.ParameterValues:
    """``pybamm.ParameterValues`` of a Naumann et al. (2024) half cell for :class:`HierarchicalDFN`.

    Parameters
    ----------
    preset
        ``"uncalendered"``, ``"cal-1"``, ``"cal-2"``, ``"cal-3"`` (``"naumann-"`` prefix
        optional), an :class:`~microstructure.transport.presets.ElectrodePreset` or ready
        :class:`~microstructure.transport.dfn.parameters.CellParameters`.
    area_cm2
        Electrode area; ``"Nominal cell capacity [A.h]"`` (1C, 160 mAh/g NMC) and the
        default ``"Current function [A]"`` refer to it, so ``"Discharge capacity [A.h]"``
        x 1000 is the mAh of :func:`~.simulate_discharge` for the same area.
    **cell_options
        Passed to :func:`~.parameters.cell_parameters` (``m_inter_law``, ``m_inter``,
        ``m_intragranular``, ``secondary_radius_um``...).

    Returns
    -------
    pybamm.ParameterValues
        Also registers the sources with ``pybamm.citations`` (Naumann et al. 2024,
        Valoen & Reimers 2005, Xu et al. 2019, Mohtat et al. 2020).

    Raises
    ------
    ValueError
        Unknown preset, bad option or non-positive area.

    References
    ----------
    Naumann et al. (2024), ACS Appl. Energy Mater. 7, 4786, doi:10.1021/acsaem.4c00505.
    """
    if not (isinstance(area_cm2, int | float) and math.isfinite(area_cm2) and area_cm2 > 0):
        raise ValueError(f"area_cm2: must be a positive number, got {area_cm2!r}")
    if isinstance(preset, CellParameters):
        p = preset.with_changes(**cell_options) if cell_options else preset
        p.validate()
    else:
        p = cell_parameters(preset, **cell_options)
    pybamm.citations.register(NAUMANN2024_BIBTEX)
    for key in CITATIONS:
        pybamm.citations.register(key)
    return pybamm.ParameterValues(cell_parameter_values(p, area_m2=float(area_cm2) * 1e-4))
