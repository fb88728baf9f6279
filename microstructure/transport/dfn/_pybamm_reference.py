"""Reference for the hierarchical DFN: PyBaMM's own DFN half cell, collapsed parameters.

In the limits of fast intragranular transport (and of dense particles) the hierarchical model
must reproduce this model; ``transport/dfn/validation.py`` and the tests compare the two.

References
----------
Doyle, Fuller and Newman (1993), J. Electrochem. Soc. 140, 1526, doi:10.1149/1.2221597.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microstructure.transport.dfn._pybamm_common import (
    LazyPyBaMM,
    electrolyte_conductivity,
    electrolyte_diffusivity,
    make_solver,
    ocp_v,
    solid_diffusivity,
)
from microstructure.transport.dfn.parameters import FARADAY_C_PER_MOL, CellParameters, MeshSettings

pybamm: Any = LazyPyBaMM(globals())


def reference_dfn(
    p: CellParameters, mesh: MeshSettings, *, m_electrode: float
) -> tuple[pybamm.BaseModel, pybamm.ParameterValues, dict[str, int]]:
    """PyBaMM's ``lithium_ion.DFN`` half cell with the collapsed hierarchical parameters.

    Storage porosity ``eps_inter + eps_s eps_II``, active fraction ``eps_s (1 - eps_II)``,
    particle radius ``r_p``, tortuosity factor ``storage porosity / M``; the current
    ``"Current function [A]"`` is an input (1 m2 electrode, so A = A/m2).
    """
    model = pybamm.lithium_ion.DFN(
        {
            "working electrode": "positive",
            "transport efficiency": "tortuosity factor",
            "contact resistance": "true",
        }
    )
    T = p.temperature_k
    eps_store = p.storage_porosity
    eps_am = p.nmc_fraction
    m_sep = p.separator_porosity**p.separator_bruggeman
    k = p.kinetic_rate_constant
    F = FARADAY_C_PER_MOL
    c_li = p.li_metal_concentration_mol_per_m3
    a = p.solid_diffusivity_exponent_a

    def j0_pos(c_e, c_s_surf, c_s_max, T):
        return F * k * c_e**0.5 * c_s_surf**0.5 * (c_s_max - c_s_surf) ** 0.5

    def j0_li(c_e, c_Li, T):
        return F * 3.5e-8 * c_li**0.7 * c_e**0.3

    def d_s(sto, T):
        return solid_diffusivity(sto, a)

    values = {
        "chemistry": "lithium_ion",
        "Negative electrode thickness [m]": p.li_metal_thickness_um * 1e-6,
        "Separator thickness [m]": p.separator_thickness_um * 1e-6,
        "Positive electrode thickness [m]": p.thickness_um * 1e-6,
        "Electrode height [m]": 1.0,
        "Electrode width [m]": 1.0,
        "Nominal cell capacity [A.h]": p.one_c_current_density_a_per_m2,
        "Current function [A]": "[input]",
        "Contact resistance [Ohm]": p.contact_resistance_ohm_m2,
        "Negative electrode OCP [V]": 0.0,
        "Negative electrode conductivity [S.m-1]": p.li_metal_conductivity_s_per_m,
        "Negative electrode OCP entropic change [V.K-1]": 0.0,
        "Lithium metal partial molar volume [m3.mol-1]": 1.3e-05,
        "Exchange-current density for lithium metal electrode [A.m-2]": j0_li,
        "Negative electrode charge transfer coefficient": 0.5,
        "Negative electrode double-layer capacity [F.m-2]": 0.2,
        "Positive electrode conductivity [S.m-1]": p.electrode_conductivity_s_per_m,
        "Maximum concentration in positive electrode [mol.m-3]": p.c_max_mol_per_m3,
        "Positive particle diffusivity [m2.s-1]": d_s,
        "Positive electrode OCP [V]": ocp_v,
        "Positive electrode porosity": eps_store,
        "Positive electrode active material volume fraction": eps_am,
        "Positive particle radius [m]": p.primary_radius_um * 1e-6,
        "Positive electrode tortuosity factor (electrolyte)": eps_store / m_electrode,
        "Positive electrode tortuosity factor (electrode)": 1.0 - eps_store,
        "Positive electrode OCP entropic change [V.K-1]": 0.0,
        "Positive electrode charge transfer coefficient": 0.5,
        "Positive electrode exchange-current density [A.m-2]": j0_pos,
        "Positive electrode double-layer capacity [F.m-2]": 0.2,
        "Separator porosity": p.separator_porosity,
        "Separator tortuosity factor (electrolyte)": p.separator_porosity / m_sep,
        "Separator tortuosity factor (electrode)": 1.0,
        "Initial concentration in electrolyte [mol.m-3]": p.initial_salt_mol_per_m3,
        "Cation transference number": p.transference_number,
        "Electrolyte diffusivity [m2.s-1]": electrolyte_diffusivity,
        "Electrolyte conductivity [S.m-1]": electrolyte_conductivity,
        "Thermodynamic factor": 1.0,
        "Ambient temperature [K]": T,
        "Reference temperature [K]": T,
        "Initial temperature [K]": T,
        "Heat transfer coefficient [W.m-2.K-1]": 10.0,
        "Number of electrodes connected in parallel to make a cell": 1.0,
        "Number of cells connected in series to make a battery": 1.0,
        "Lower voltage cut-off [V]": p.lower_cutoff_v,
        "Upper voltage cut-off [V]": p.upper_cutoff_v,
        "Open-circuit voltage at 0% SOC [V]": p.lower_cutoff_v,
        "Open-circuit voltage at 100% SOC [V]": 4.3,
        "Initial concentration in positive electrode [mol.m-3]": p.initial_lithiation
        * p.c_max_mol_per_m3,
    }
    param = pybamm.ParameterValues(values)
    var_pts = {"x_n": 2, "x_s": mesh.n_separator, "x_p": mesh.n_electrode, "r_p": mesh.n_primary}
    return model, param, var_pts


def solve_reference(
    p: CellParameters,
    mesh: MeshSettings,
    *,
    current_density_a_per_m2: float,
    m_electrode: float,
    t_end_s: float,
    n_out: int = 200,
    solver: pybamm.BaseSolver | None = None,
) -> pybamm.Solution:
    """Solve :func:`reference_dfn` for one constant-current discharge."""
    model, param, var_pts = reference_dfn(p, mesh, m_electrode=m_electrode)
    sim = pybamm.Simulation(
        model, parameter_values=param, var_pts=var_pts, solver=solver or make_solver()
    )
    return sim.solve(
        [0.0, t_end_s],
        inputs={"Current function [A]": float(current_density_a_per_m2)},
        t_interp=np.linspace(0.0, t_end_s, n_out),
    )
