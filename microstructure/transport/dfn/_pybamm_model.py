"""The hierarchical DFN model on PyBaMM (built on PyBaMM 26.x): model, mesh, discretisation.

PyBaMM's internals move between releases; every use of PyBaMM sits in this module and its
three siblings (``_pybamm_common``: materials, solver settings; ``_pybamm_compiled``: the
compiled model and its IDAKLU solver; ``_pybamm_reference``: PyBaMM's own DFN), so a port
touches these four files only. The names of the siblings are re-exported here.

The model (see docs/validation_dfn.md and shared/design/hierarchical-dfn.md):

* x (separator + positive electrode): intergranular electrolyte ``c_e, phi_e`` with
  transport factor ``M`` (``M_inter`` or ``M_combi``), electrode potential ``phi_s``;
  Li-metal Butler-Volmer counter electrode at ``x = 0``; contact-resistance drop
  ``R_cont i_app`` (Naumann et al. 2024, eq. 8) at the current collector.
* R (domain ``"positive secondary particle"``): intragranular electrolyte ``c_II, phi_II``
  with ``M_II``, matched to ``c_e, phi_e`` at ``R = R_s``; optionally the electronic
  potential ``phi_s,II`` inside the particle (conductivity ``sigma_II``).
* r (domain ``"positive primary particle"``): solid diffusion with ``D_s(l)`` (Naumann et al.
  2024, eq. 9); Butler-Volmer kinetics on the primary-particle surfaces.

Particle-scale exchange terms are written as R-averages of divergences
(``eps_s <div N_II>_R``), which the finite-volume integral telescopes to the discrete boundary
flux, so salt and charge are conserved exactly by the discretisation.

References
----------
Naumann et al. (2024), ACS Appl. Energy Mater. 7, 4786, doi:10.1021/acsaem.4c00505.
Doyle, Fuller and Newman (1993), J. Electrochem. Soc. 140, 1526, doi:10.1149/1.2221597.
"""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace
from typing import Any

import numpy as np

from microstructure.transport.dfn._pybamm_common import (
    COMPILED_FORMAT,
    DOM_PRIM,
    DOM_SEC,
    INPUT_CURRENT,
    INPUT_M,
    INPUT_NAMES,
    OUTPUT_NAMES,
    PYBAMM_MAJOR,
    Discretised,
    LazyPyBaMM,
    _raise_if_below_cutoff_at_start,
    _regularised,
    electrolyte_conductivity,
    electrolyte_diffusivity,
    make_solver,
    ocp_v,
    ocp_v_numpy,
    pybamm_major_version,
    solid_diffusivity,
)
from microstructure.transport.dfn._pybamm_compiled import (
    CompiledModel,
    DischargeSolver,
    compile_model,
)
from microstructure.transport.dfn._pybamm_reference import reference_dfn, solve_reference
from microstructure.transport.dfn.parameters import (
    FARADAY_C_PER_MOL,
    GAS_CONSTANT_J_PER_MOL_K,
    CellParameters,
    MeshSettings,
)

__all__ = [
    "COMPILED_FORMAT",
    "DOM_PRIM",
    "DOM_SEC",
    "INPUT_CURRENT",
    "INPUT_M",
    "INPUT_NAMES",
    "OUTPUT_NAMES",
    "PYBAMM_MAJOR",
    "CompiledModel",
    "DischargeSolver",
    "Discretised",
    "build_model",
    "clustered_edges",
    "compile_model",
    "discretise",
    "electrolyte_conductivity",
    "electrolyte_diffusivity",
    "make_solver",
    "ocp_v",
    "ocp_v_numpy",
    "pybamm_major_version",
    "reference_dfn",
    "solid_diffusivity",
    "solve",
    "solve_reference",
]

pybamm: Any = LazyPyBaMM(globals())


# ------------------------------------------------------------------------------------------
# the hierarchical model
# ------------------------------------------------------------------------------------------
def build_model(p: CellParameters) -> tuple[pybamm.BaseModel, dict[str, Any]]:
    """The hierarchical DFN half cell as a :class:`pybamm.BaseModel` and its geometry.

    Inputs (``pybamm.InputParameter``): ``"Current density [A.m-2]"`` (discharge > 0) and
    ``"Electrode M-factor"`` (``M`` of the intergranular-scale transport in the electrode).
    Built scale by scale: :func:`_variables`, :func:`_primary_particles`,
    :func:`_intragranular_scale`, :func:`_electrode_scale`, :func:`_outputs`.
    """
    model = pybamm.BaseModel(name=f"hierarchical DFN half cell ({p.name})")
    v = _variables(p)
    v.i_app = pybamm.InputParameter(INPUT_CURRENT)
    v.m_el = pybamm.InputParameter(INPUT_M)
    _primary_particles(model, p, v)
    _intragranular_scale(model, p, v)
    _electrode_scale(model, p, v)
    _outputs(model, p, v)
    L_s = p.separator_thickness_um * 1e-6
    L_p = p.thickness_um * 1e-6
    geometry = {
        "separator": {v.x_s: {"min": pybamm.Scalar(0.0), "max": pybamm.Scalar(L_s)}},
        "positive electrode": {v.x_p: {"min": pybamm.Scalar(L_s), "max": pybamm.Scalar(L_s + L_p)}},
        DOM_SEC: {v.R: {"min": pybamm.Scalar(0.0), "max": pybamm.Scalar(v.R_s)}},
        DOM_PRIM: {v.r: {"min": pybamm.Scalar(0.0), "max": pybamm.Scalar(v.r_p)}},
    }
    spatial = {"x_s": v.x_s, "x_p": v.x_p, "R_sec": v.R, "r_p": v.r}
    return model, {"geometry": geometry, "spatial": spatial}


def _variables(p: CellParameters) -> SimpleNamespace:
    """The unknowns, spatial variables and scale averages of the model (one namespace)."""
    v = SimpleNamespace()
    v.F, v.T = FARADAY_C_PER_MOL, p.temperature_k
    v.RT_F = GAS_CONSTANT_J_PER_MOL_K * v.T / v.F
    v.R_s = p.secondary_radius_um * 1e-6
    v.r_p = p.primary_radius_um * 1e-6
    v.c_max = p.c_max_mol_per_m3
    v.t_plus = p.transference_number
    v.delta = p.salt_regularisation_mol_per_m3
    v.c_e_s = pybamm.Variable("Separator electrolyte concentration [mol.m-3]", domain="separator")
    v.c_e_p = pybamm.Variable(
        "Positive electrolyte concentration [mol.m-3]", domain="positive electrode"
    )
    v.c_e = pybamm.concatenation(v.c_e_s, v.c_e_p)
    v.phi_e_s = pybamm.Variable("Separator electrolyte potential [V]", domain="separator")
    v.phi_e_p = pybamm.Variable("Positive electrolyte potential [V]", domain="positive electrode")
    v.phi_e = pybamm.concatenation(v.phi_e_s, v.phi_e_p)
    v.phi_s = pybamm.Variable("Positive electrode potential [V]", domain="positive electrode")
    aux_sec = {"secondary": "positive electrode"}
    v.aux_sec = aux_sec
    v.c_ii = pybamm.Variable(
        "Intragranular electrolyte concentration [mol.m-3]",
        domain=DOM_SEC,
        auxiliary_domains=aux_sec,
    )
    v.phi_ii = pybamm.Variable(
        "Intragranular electrolyte potential [V]", domain=DOM_SEC, auxiliary_domains=aux_sec
    )
    v.c_s = pybamm.Variable(
        "Primary particle concentration [mol.m-3]",
        domain=DOM_PRIM,
        auxiliary_domains={"secondary": DOM_SEC, "tertiary": "positive electrode"},
    )
    v.Q = pybamm.Variable("Discharge capacity [A.h.m-2]")

    v.x_s = pybamm.SpatialVariable("x_s", domain=["separator"], coord_sys="cartesian")
    v.x_p = pybamm.SpatialVariable("x_p", domain=["positive electrode"], coord_sys="cartesian")
    v.R = pybamm.SpatialVariable(
        "R_sec", domain=[DOM_SEC], auxiliary_domains=aux_sec, coord_sys="spherical polar"
    )
    v.r = pybamm.SpatialVariable(
        "r_p",
        domain=[DOM_PRIM],
        auxiliary_domains={"secondary": DOM_SEC, "tertiary": "positive electrode"},
        coord_sys="spherical polar",
    )
    vol_sec = 4.0 / 3.0 * math.pi * v.R_s**3
    vol_prim = 4.0 / 3.0 * math.pi * v.r_p**3

    def r_avg(f: Any) -> Any:
        return pybamm.Integral(f, v.r) / vol_prim

    def R_avg(f: Any) -> Any:
        return pybamm.Integral(f, v.R) / vol_sec

    v.r_avg, v.R_avg = r_avg, R_avg
    return v


def _primary_particles(model: Any, p: CellParameters, v: SimpleNamespace) -> None:
    """Solid diffusion in the primary particles and the Butler-Volmer reaction on them."""
    F, c_max = v.F, v.c_max
    eps_ii = p.intragranular_porosity
    a_prim = 3.0 * (1.0 - eps_ii) / v.r_p  # primary-particle area per secondary-particle volume
    k = p.kinetic_rate_constant
    c_s = v.c_s
    v.c_s_surf = c_s_surf = pybamm.surf(c_s)
    v.sto_surf = sto_surf = c_s_surf / c_max
    if p.intragranular_conductivity_s_per_m is None:
        v.phi_s_ii = pybamm.PrimaryBroadcast(v.phi_s, DOM_SEC)
    else:
        v.phi_s_ii = pybamm.Variable(
            "Intragranular solid potential [V]", domain=DOM_SEC, auxiliary_domains=v.aux_sec
        )
    v.c_ii_reg = _regularised(v.c_ii, v.delta)
    j0 = F * k * pybamm.sqrt(v.c_ii_reg) * pybamm.sqrt(c_s_surf) * pybamm.sqrt(c_max - c_s_surf)
    eta = v.phi_s_ii - v.phi_ii - ocp_v(sto_surf)
    j = 2.0 * j0 * pybamm.sinh(0.5 * eta / v.RT_F)  # > 0: Li leaves the solid
    v.a_j = a_prim * j  # A per m3 of secondary particle

    D_s = solid_diffusivity(c_s / c_max, p.solid_diffusivity_exponent_a)
    N_s = -D_s * pybamm.grad(c_s)
    model.rhs[c_s] = -pybamm.div(N_s)
    model.boundary_conditions[c_s] = {
        "left": (pybamm.Scalar(0), "Neumann"),
        "right": (-j / (F * pybamm.surf(D_s)), "Neumann"),
    }
    model.initial_conditions[c_s] = pybamm.Scalar(p.initial_lithiation * c_max)


def _intragranular_scale(model: Any, p: CellParameters, v: SimpleNamespace) -> None:
    """Electrolyte (and optionally electronic potential) inside the secondary particles."""
    F, T, RT_F, t_plus = v.F, v.T, v.RT_F, v.t_plus
    c_ii, phi_ii, a_j, R_s = v.c_ii, v.phi_ii, v.a_j, v.R_s
    eps_ii = p.intragranular_porosity
    m_ii = p.m_intragranular
    kappa_ii = m_ii * electrolyte_conductivity(v.c_ii_reg, T)
    i_ii = kappa_ii * (
        2.0 * RT_F * (1.0 - t_plus) * pybamm.grad(c_ii) / v.c_ii_reg - pybamm.grad(phi_ii)
    )
    N_ii = -m_ii * electrolyte_diffusivity(c_ii, T) * pybamm.grad(c_ii) + t_plus * i_ii / F
    div_N_ii = pybamm.div(N_ii)
    div_i_ii = pybamm.div(i_ii)
    model.rhs[c_ii] = (-div_N_ii + a_j / F) / eps_ii
    model.algebraic[phi_ii] = R_s**2 * (div_i_ii - a_j) / (F * p.initial_salt_mol_per_m3)
    model.boundary_conditions[c_ii] = {
        "left": (pybamm.Scalar(0), "Neumann"),
        "right": (v.c_e_p, "Dirichlet"),
    }
    model.boundary_conditions[phi_ii] = {
        "left": (pybamm.Scalar(0), "Neumann"),
        "right": (v.phi_e_p, "Dirichlet"),
    }
    model.initial_conditions[c_ii] = pybamm.Scalar(p.initial_salt_mol_per_m3)
    model.initial_conditions[phi_ii] = pybamm.Scalar(0.0)
    if p.intragranular_conductivity_s_per_m is not None:
        sig = p.intragranular_conductivity_s_per_m
        phi_s_ii = v.phi_s_ii
        i_s_ii = -sig * pybamm.grad(phi_s_ii)
        model.algebraic[phi_s_ii] = R_s**2 * (pybamm.div(i_s_ii) + a_j) / sig
        model.boundary_conditions[phi_s_ii] = {
            "left": (pybamm.Scalar(0), "Neumann"),
            "right": (v.phi_s, "Dirichlet"),
        }
        model.initial_conditions[phi_s_ii] = pybamm.Scalar(ocp_v_numpy(p.initial_lithiation))

    # exchange with the electrode scale (per electrode volume)
    v.S_p = p.particle_fraction * v.R_avg(div_N_ii)  # salt leaving the particles [mol/m3/s]
    v.J_p = p.particle_fraction * v.R_avg(div_i_ii)  # ionic current leaving them [A/m3]


def _electrode_scale(model: Any, p: CellParameters, v: SimpleNamespace) -> None:
    """Intergranular electrolyte, Li-metal counter electrode and electrode potential (x)."""
    F, T, RT_F, t_plus, delta = v.F, v.T, v.RT_F, v.t_plus, v.delta
    c_e, phi_e, phi_s, i_app = v.c_e, v.phi_e, v.phi_s, v.i_app
    L_s = p.separator_thickness_um * 1e-6
    L_p = p.thickness_um * 1e-6
    m_sep = p.separator_porosity**p.separator_bruggeman
    sigma_eff = p.electrode_conductivity_s_per_m
    M_x = pybamm.concatenation(
        pybamm.PrimaryBroadcast(pybamm.Scalar(m_sep), "separator"),
        pybamm.PrimaryBroadcast(v.m_el, "positive electrode"),
    )
    v.eps_x = eps_x = pybamm.concatenation(
        pybamm.PrimaryBroadcast(pybamm.Scalar(p.separator_porosity), "separator"),
        pybamm.PrimaryBroadcast(pybamm.Scalar(p.intergranular_porosity), "positive electrode"),
    )
    zero_s = pybamm.PrimaryBroadcast(pybamm.Scalar(0.0), "separator")
    S_x = pybamm.concatenation(zero_s, v.S_p)
    J_x = pybamm.concatenation(zero_s, v.J_p)
    c_e_reg = _regularised(c_e, delta)
    i_e = (
        M_x
        * electrolyte_conductivity(c_e_reg, T)
        * (2.0 * RT_F * (1.0 - t_plus) * pybamm.grad(c_e) / c_e_reg - pybamm.grad(phi_e))
    )
    MD_e = M_x * electrolyte_diffusivity(c_e, T)
    N_e = -MD_e * pybamm.grad(c_e) + t_plus * i_e / F
    model.rhs[c_e] = (-pybamm.div(N_e) + S_x) / eps_x
    model.algebraic[phi_e] = (
        (L_s + L_p) ** 2 * (pybamm.div(i_e) - J_x) / (F * p.initial_salt_mol_per_m3)
    )
    # Li metal at x = 0 injects i_app / F of Li+; N_e(0) = i_app / F requires this gradient
    dce_dx_left = -(1.0 - t_plus) * i_app / (F * pybamm.boundary_value(MD_e, "left"))
    model.boundary_conditions[c_e] = {
        "left": (dce_dx_left, "Neumann"),
        "right": (pybamm.Scalar(0), "Neumann"),
    }
    c_e_left = pybamm.boundary_value(c_e, "left")
    j0_li = (
        F * 3.5e-8 * p.li_metal_concentration_mol_per_m3**0.7 * _regularised(c_e_left, delta) ** 0.3
    )
    eta_li = 2.0 * RT_F * pybamm.arcsinh(i_app / (2.0 * j0_li))
    dphi_li = p.li_metal_thickness_um * 1e-6 * i_app / p.li_metal_conductivity_s_per_m
    ref_potential = -dphi_li - eta_li
    model.boundary_conditions[phi_e] = {
        "left": (ref_potential, "Dirichlet"),
        "right": (pybamm.Scalar(0), "Neumann"),
    }
    model.initial_conditions[c_e] = pybamm.Scalar(p.initial_salt_mol_per_m3)
    model.initial_conditions[phi_e] = pybamm.Scalar(0.0)

    i_s = -sigma_eff * pybamm.grad(phi_s)
    model.algebraic[phi_s] = L_p**2 * (pybamm.div(i_s) + v.J_p) / sigma_eff
    model.boundary_conditions[phi_s] = {
        "left": (pybamm.Scalar(0), "Neumann"),
        "right": (-i_app / sigma_eff, "Neumann"),
    }
    model.initial_conditions[phi_s] = pybamm.Scalar(ocp_v_numpy(p.initial_lithiation))

    model.rhs[v.Q] = i_app / 3600.0
    model.initial_conditions[v.Q] = pybamm.Scalar(0.0)


def _outputs(model: Any, p: CellParameters, v: SimpleNamespace) -> None:
    """Output variables (voltage, salt and lithium inventories) and the cut-off events."""
    eps_sec = p.particle_fraction
    eps_ii = p.intragranular_porosity
    L_p = p.thickness_um * 1e-6
    i_app = v.i_app
    phi_s_cc = pybamm.boundary_value(v.phi_s, "right")
    voltage = phi_s_cc - p.contact_resistance_ohm_m2 * i_app
    salt_inter = pybamm.Integral(
        v.eps_x * v.c_e,
        pybamm.SpatialVariable(
            "x", domain=["separator", "positive electrode"], coord_sys="cartesian"
        ),
    )
    salt_intra = pybamm.Integral(eps_sec * eps_ii * v.R_avg(v.c_ii), v.x_p)
    li_solid = pybamm.Integral(eps_sec * (1.0 - eps_ii) * v.R_avg(v.r_avg(v.c_s)), v.x_p)
    model.variables = {
        "Time [s]": pybamm.t,
        "Voltage [V]": voltage,
        "Discharge capacity [A.h.m-2]": v.Q,
        "Electrolyte concentration [mol.m-3]": v.c_e,
        "Electrolyte potential [V]": v.phi_e,
        "Positive electrode potential [V]": v.phi_s,
        "Intragranular electrolyte concentration [mol.m-3]": v.c_ii,
        "Primary particle surface concentration [mol.m-3]": v.c_s_surf,
        "Average lithiation": li_solid / (eps_sec * (1.0 - eps_ii) * L_p * v.c_max),
        "Intergranular salt [mol.m-2]": salt_inter,
        "Intragranular salt [mol.m-2]": salt_intra,
        "Total salt [mol.m-2]": salt_inter + salt_intra,
        "Solid lithium [mol.m-2]": li_solid,
        "Contact resistance drop [V]": p.contact_resistance_ohm_m2 * i_app,
        "Minimum electrolyte concentration [mol.m-3]": pybamm.min(v.c_e),
    }
    model.events = [
        pybamm.Event("Minimum voltage [V]", voltage - p.lower_cutoff_v),
        pybamm.Event("Maximum voltage [V]", p.upper_cutoff_v - voltage),
        pybamm.Event("Maximum surface lithiation", 0.999 - pybamm.max(v.sto_surf)),
    ]


def discretise(p: CellParameters, mesh: MeshSettings, *, check_model: bool = False) -> Discretised:
    """Build, mesh and discretise the hierarchical model (finite volumes on every scale).

    ``check_model=True`` runs PyBaMM's well-posedness checks of the discretised model
    (structural, independent of the parameter values; run by the tests, skipped by
    default because they cost ~10 % of a first solve).
    """
    if pybamm_major_version() != PYBAMM_MAJOR:
        warnings.warn(
            f"hierarchical DFN: built and validated on PyBaMM {PYBAMM_MAJOR}.x, found "
            f"{pybamm.__version__}; rerun tests/transport/test_dfn.py",
            RuntimeWarning,
            stacklevel=2,
        )
    model, g = build_model(p)
    sp = g["spatial"]
    submesh = pybamm.MeshGenerator(pybamm.Uniform1DSubMesh)
    submesh_types = {d: submesh for d in ("separator", "positive electrode", DOM_SEC, DOM_PRIM)}
    submesh_types.update(_stretched_submeshes(p, mesh))
    var_pts = {
        sp["x_s"]: mesh.n_separator,
        sp["x_p"]: mesh.n_electrode,
        sp["R_sec"]: mesh.n_secondary,
        sp["r_p"]: mesh.n_primary,
    }
    m = pybamm.Mesh(g["geometry"], submesh_types, var_pts)
    fv = pybamm.FiniteVolume()
    disc = pybamm.Discretisation(
        m,
        {d: fv for d in ("separator", "positive electrode", DOM_SEC, DOM_PRIM)},
        check_model=bool(check_model),
    )
    disc.process_model(model)
    n = int(model.concatenated_initial_conditions.shape[0])
    return Discretised(model=model, mesh=m, n_states=n)


def clustered_edges(a: float, b: float, n: int, stretch: float) -> np.ndarray:
    """``n + 1`` cell edges on ``[a, b]`` clustered towards ``b`` (exactly ``a`` and ``b``).

    PyBaMM's ``Exponential1DSubMesh`` (side ``"right"``) spacing; the ratio of the largest
    to the smallest cell tends to ``exp(stretch)``; ``stretch = 0`` is uniform.
    """
    k = np.arange(n + 1)
    if stretch <= 0:
        edges = a + (b - a) * k / n
    else:
        edges = b - (b - a) * np.expm1(stretch * (n - k) / n) / np.expm1(stretch)
    edges[0], edges[-1] = a, b
    return edges


def _stretched_submeshes(p: CellParameters, mesh: MeshSettings) -> dict[str, Any]:
    """Submeshes clustered at the current collector / particle surfaces (stretch > 0)."""
    L_s = p.separator_thickness_um * 1e-6
    L_p = p.thickness_um * 1e-6
    out: dict[str, Any] = {}
    for dom, (a, b), n, stretch in (
        ("positive electrode", (L_s, L_s + L_p), mesh.n_electrode, mesh.electrode_stretch),
        (DOM_SEC, (0.0, p.secondary_radius_um * 1e-6), mesh.n_secondary, mesh.secondary_stretch),
        (DOM_PRIM, (0.0, p.primary_radius_um * 1e-6), mesh.n_primary, mesh.primary_stretch),
    ):
        if stretch > 0:
            out[dom] = pybamm.MeshGenerator(
                pybamm.UserSupplied1DSubMesh,
                submesh_params={"edges": clustered_edges(a, b, n, float(stretch))},
            )
    return out


def solve(
    disc: Discretised,
    solver: pybamm.BaseSolver,
    *,
    current_density_a_per_m2: float,
    m_electrode: float,
    t_end_s: float,
    n_out: int = 200,
) -> pybamm.Solution:
    """Solve one constant-current discharge until the cut-off (or ``t_end_s``)."""
    inputs = {INPUT_CURRENT: float(current_density_a_per_m2), INPUT_M: float(m_electrode)}
    t_interp = np.linspace(0.0, t_end_s, n_out)
    try:
        return solver.solve(disc.model, t_eval=[0.0, t_end_s], inputs=inputs, t_interp=t_interp)
    except pybamm.SolverError as exc:
        _raise_if_below_cutoff_at_start(exc, current_density_a_per_m2)
        raise
