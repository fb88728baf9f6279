"""Every use of PyBaMM in the hierarchical DFN lives here (built on PyBaMM 26.x).

PyBaMM's internals move between releases; keeping the custom model, mesh, discretisation,
solver and the reference DFN in this one module makes a port a one-file job.

The model (see docs/validation_dfn.md and shared/design/hierarchical-dfn.md):

* x (separator + positive electrode): intergranular electrolyte ``c_e, phi_e`` with
  transport factor ``M`` (``M_inter`` or ``M_combi``), electrode potential ``phi_s``;
  Li-metal Butler-Volmer counter electrode at ``x = 0``; contact-resistance drop
  ``R_cont i_app`` (seed 003 eq. 8) at the current collector.
* R (domain ``"positive secondary particle"``): intragranular electrolyte ``c_II, phi_II``
  with ``M_II``, matched to ``c_e, phi_e`` at ``R = R_s``; optionally the electronic
  potential ``phi_s,II`` inside the particle (conductivity ``sigma_II``).
* r (domain ``"positive primary particle"``): solid diffusion with ``D_s(l)`` (seed 003
  eq. 9); Butler-Volmer kinetics on the primary-particle surfaces.

Particle-scale exchange terms are written as R-averages of divergences
(``eps_s <div N_II>_R``), which the finite-volume integral telescopes to the discrete boundary
flux, so salt and charge are conserved exactly by the discretisation.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import casadi
import numpy as np

from microstructure.transport.dfn.parameters import (
    FARADAY_C_PER_MOL,
    GAS_CONSTANT_J_PER_MOL_K,
    CellParameters,
    MeshSettings,
)

PYBAMM_MAJOR = 26
INPUT_CURRENT = "Current density [A.m-2]"
INPUT_M = "Electrode M-factor"
#: Input parameters of the discretised model, in the order of the stacked input vector.
INPUT_NAMES = (INPUT_CURRENT, INPUT_M)
#: Model variables a :class:`DischargeSolver` returns (besides ``"Time [s]"``).
OUTPUT_NAMES = (
    "Voltage [V]",
    "Discharge capacity [A.h.m-2]",
    "Total salt [mol.m-2]",
    "Solid lithium [mol.m-2]",
    "Electrolyte concentration [mol.m-3]",
)
#: Version of the :class:`CompiledModel` layout (part of the disk-cache key).
COMPILED_FORMAT = 2

class _LazyPyBaMM:
    """``pybamm``, imported on first use (importing it costs 1-3 s).

    A :class:`DischargeSolver` built from a cached :class:`CompiledModel` needs only CasADi
    and pybammsolvers, so a CLI call that hits the disk cache never imports PyBaMM.
    """

    def __getattr__(self, name: str) -> Any:
        import pybamm as module

        globals()["pybamm"] = module
        return getattr(module, name)


pybamm: Any = _LazyPyBaMM()

DOM_SEC = "positive secondary particle"
DOM_PRIM = "positive primary particle"


# ------------------------------------------------------------------------------------------
# material functions (work on PyBaMM symbols)
# ------------------------------------------------------------------------------------------
def ocp_v(sto: Any) -> Any:
    """NMC open-circuit potential vs Li/Li+ (Mohtat et al. 2020 fit, as in PyBaMM Xu2019)."""
    return (
        4.3452
        - 1.6518 * sto
        + 1.6225 * sto**2
        - 2.0843 * sto**3
        + 3.5146 * sto**4
        - 2.2166 * sto**5
        - 0.5623e-4 * pybamm.exp(109.451 * sto - 100.006)
    )


def ocp_v_numpy(sto: np.ndarray | float) -> np.ndarray | float:
    """:func:`ocp_v` for numpy input."""
    s = np.asarray(sto, dtype=float)
    out = (
        4.3452 - 1.6518 * s + 1.6225 * s**2 - 2.0843 * s**3 + 3.5146 * s**4
        - 2.2166 * s**5 - 0.5623e-4 * np.exp(109.451 * s - 100.006)
    )
    return float(out) if np.ndim(sto) == 0 else out


def solid_diffusivity(sto: Any, a: float) -> Any:
    """Solid diffusivity [m2/s], seed 003 eq. 9 (``sto`` = degree of lithiation l).

    ``10^-a`` (l <= 0.5), ``10^(-7.5 l + 3.75 - a)`` (0.5 < l < 0.7), ``10^(-1.5 - a)``.
    """
    ramp = pybamm.minimum(pybamm.maximum(sto - 0.5, 0.0), 0.2)
    return 10 ** (-a - 7.5 * ramp)


def electrolyte_diffusivity(c_e: Any, T: float) -> Any:
    """LiPF6 in EC:DMC, Valoen & Reimers 2005 eq. 14 [m2/s] (``c_e`` in mol/m3)."""
    c = c_e / 1000.0
    T_g = 229.0 + 5.0 * c
    D_0 = -4.43 - 54.0 / (T - T_g)
    return 10 ** (D_0 - 0.22 * c) * 1e-4


def electrolyte_conductivity(c_e: Any, T: float) -> Any:
    """LiPF6 in EC:DMC, Valoen & Reimers 2005 eq. 17 [S/m] (``c_e`` in mol/m3)."""
    c = c_e / 1000.0
    return 0.1 * (
        c
        * (
            (-10.5 + 0.0740 * T - 6.96e-5 * T**2)
            + c * (0.668 - 0.0178 * T + 2.80e-5 * T**2)
            + c**2 * (0.494 - 8.86e-4 * T)
        )
        ** 2
    )


def _regularised(c: Any, delta: float) -> Any:
    """Smooth positive version of a concentration: ``(c + sqrt(c^2 + delta^2)) / 2``."""
    return 0.5 * (c + pybamm.sqrt(c**2 + delta**2))


# ------------------------------------------------------------------------------------------
# the hierarchical model
# ------------------------------------------------------------------------------------------
def build_model(p: CellParameters) -> tuple[pybamm.BaseModel, dict[str, Any]]:
    """The hierarchical DFN half cell as a :class:`pybamm.BaseModel` and its geometry.

    Inputs (``pybamm.InputParameter``): ``"Current density [A.m-2]"`` (discharge > 0) and
    ``"Electrode M-factor"`` (``M`` of the intergranular-scale transport in the electrode).
    """
    F, Rg, T = FARADAY_C_PER_MOL, GAS_CONSTANT_J_PER_MOL_K, p.temperature_k
    RT_F = Rg * T / F
    L_s = p.separator_thickness_um * 1e-6
    L_p = p.thickness_um * 1e-6
    R_s = p.secondary_radius_um * 1e-6
    r_p = p.primary_radius_um * 1e-6
    eps_sec = p.particle_fraction
    eps_ii = p.intragranular_porosity
    eps_in = p.intergranular_porosity
    a_prim = 3.0 * (1.0 - eps_ii) / r_p  # primary-particle area per secondary-particle volume
    c_max = p.c_max_mol_per_m3
    t_plus = p.transference_number
    delta = p.salt_regularisation_mol_per_m3
    m_sep = p.separator_porosity**p.separator_bruggeman
    m_ii = p.m_intragranular
    k = p.kinetic_rate_constant
    sigma_eff = p.electrode_conductivity_s_per_m

    model = pybamm.BaseModel(name=f"hierarchical DFN half cell ({p.name})")
    i_app = pybamm.InputParameter(INPUT_CURRENT)
    m_el = pybamm.InputParameter(INPUT_M)

    # ---------------------------------------------------------------- variables
    c_e_s = pybamm.Variable("Separator electrolyte concentration [mol.m-3]", domain="separator")
    c_e_p = pybamm.Variable(
        "Positive electrolyte concentration [mol.m-3]", domain="positive electrode"
    )
    c_e = pybamm.concatenation(c_e_s, c_e_p)
    phi_e_s = pybamm.Variable("Separator electrolyte potential [V]", domain="separator")
    phi_e_p = pybamm.Variable("Positive electrolyte potential [V]", domain="positive electrode")
    phi_e = pybamm.concatenation(phi_e_s, phi_e_p)
    phi_s = pybamm.Variable("Positive electrode potential [V]", domain="positive electrode")
    aux_sec = {"secondary": "positive electrode"}
    c_ii = pybamm.Variable(
        "Intragranular electrolyte concentration [mol.m-3]", domain=DOM_SEC,
        auxiliary_domains=aux_sec,
    )
    phi_ii = pybamm.Variable(
        "Intragranular electrolyte potential [V]", domain=DOM_SEC, auxiliary_domains=aux_sec
    )
    c_s = pybamm.Variable(
        "Primary particle concentration [mol.m-3]", domain=DOM_PRIM,
        auxiliary_domains={"secondary": DOM_SEC, "tertiary": "positive electrode"},
    )
    Q = pybamm.Variable("Discharge capacity [A.h.m-2]")

    x_s = pybamm.SpatialVariable("x_s", domain=["separator"], coord_sys="cartesian")
    x_p = pybamm.SpatialVariable("x_p", domain=["positive electrode"], coord_sys="cartesian")
    R = pybamm.SpatialVariable(
        "R_sec", domain=[DOM_SEC], auxiliary_domains=aux_sec, coord_sys="spherical polar"
    )
    r = pybamm.SpatialVariable(
        "r_p", domain=[DOM_PRIM],
        auxiliary_domains={"secondary": DOM_SEC, "tertiary": "positive electrode"},
        coord_sys="spherical polar",
    )
    vol_sec = 4.0 / 3.0 * math.pi * R_s**3
    vol_prim = 4.0 / 3.0 * math.pi * r_p**3

    def r_avg(f: Any) -> Any:
        return pybamm.Integral(f, r) / vol_prim

    def R_avg(f: Any) -> Any:
        return pybamm.Integral(f, R) / vol_sec

    # ---------------------------------------------------------------- primary particles
    c_s_surf = pybamm.surf(c_s)
    sto_surf = c_s_surf / c_max
    if p.intragranular_conductivity_s_per_m is None:
        phi_s_ii = pybamm.PrimaryBroadcast(phi_s, DOM_SEC)
    else:
        phi_s_ii = pybamm.Variable(
            "Intragranular solid potential [V]", domain=DOM_SEC, auxiliary_domains=aux_sec
        )
    c_ii_reg = _regularised(c_ii, delta)
    j0 = F * k * pybamm.sqrt(c_ii_reg) * pybamm.sqrt(c_s_surf) * pybamm.sqrt(c_max - c_s_surf)
    eta = phi_s_ii - phi_ii - ocp_v(sto_surf)
    j = 2.0 * j0 * pybamm.sinh(0.5 * eta / RT_F)  # > 0: Li leaves the solid
    a_j = a_prim * j  # A per m3 of secondary particle

    D_s = solid_diffusivity(c_s / c_max, p.solid_diffusivity_exponent_a)
    N_s = -D_s * pybamm.grad(c_s)
    model.rhs[c_s] = -pybamm.div(N_s)
    model.boundary_conditions[c_s] = {
        "left": (pybamm.Scalar(0), "Neumann"),
        "right": (-j / (F * pybamm.surf(D_s)), "Neumann"),
    }
    model.initial_conditions[c_s] = pybamm.Scalar(p.initial_lithiation * c_max)

    # ---------------------------------------------------------------- intragranular scale
    kappa_ii = m_ii * electrolyte_conductivity(c_ii_reg, T)
    i_ii = kappa_ii * (
        2.0 * RT_F * (1.0 - t_plus) * pybamm.grad(c_ii) / c_ii_reg - pybamm.grad(phi_ii)
    )
    N_ii = -m_ii * electrolyte_diffusivity(c_ii, T) * pybamm.grad(c_ii) + t_plus * i_ii / F
    div_N_ii = pybamm.div(N_ii)
    div_i_ii = pybamm.div(i_ii)
    model.rhs[c_ii] = (-div_N_ii + a_j / F) / eps_ii
    model.algebraic[phi_ii] = R_s**2 * (div_i_ii - a_j) / (F * p.initial_salt_mol_per_m3)
    model.boundary_conditions[c_ii] = {
        "left": (pybamm.Scalar(0), "Neumann"),
        "right": (c_e_p, "Dirichlet"),
    }
    model.boundary_conditions[phi_ii] = {
        "left": (pybamm.Scalar(0), "Neumann"),
        "right": (phi_e_p, "Dirichlet"),
    }
    model.initial_conditions[c_ii] = pybamm.Scalar(p.initial_salt_mol_per_m3)
    model.initial_conditions[phi_ii] = pybamm.Scalar(0.0)
    if p.intragranular_conductivity_s_per_m is not None:
        sig = p.intragranular_conductivity_s_per_m
        i_s_ii = -sig * pybamm.grad(phi_s_ii)
        model.algebraic[phi_s_ii] = R_s**2 * (pybamm.div(i_s_ii) + a_j) / sig
        model.boundary_conditions[phi_s_ii] = {
            "left": (pybamm.Scalar(0), "Neumann"),
            "right": (phi_s, "Dirichlet"),
        }
        model.initial_conditions[phi_s_ii] = pybamm.Scalar(ocp_v_numpy(p.initial_lithiation))

    # exchange with the electrode scale (per electrode volume)
    S_p = eps_sec * R_avg(div_N_ii)  # salt leaving the particles [mol/m3/s]
    J_p = eps_sec * R_avg(div_i_ii)  # ionic current leaving the particles [A/m3]

    # ---------------------------------------------------------------- electrode scale
    M_x = pybamm.concatenation(
        pybamm.PrimaryBroadcast(pybamm.Scalar(m_sep), "separator"),
        pybamm.PrimaryBroadcast(m_el, "positive electrode"),
    )
    eps_x = pybamm.concatenation(
        pybamm.PrimaryBroadcast(pybamm.Scalar(p.separator_porosity), "separator"),
        pybamm.PrimaryBroadcast(pybamm.Scalar(eps_in), "positive electrode"),
    )
    zero_s = pybamm.PrimaryBroadcast(pybamm.Scalar(0.0), "separator")
    S_x = pybamm.concatenation(zero_s, S_p)
    J_x = pybamm.concatenation(zero_s, J_p)
    c_e_reg = _regularised(c_e, delta)
    i_e = M_x * electrolyte_conductivity(c_e_reg, T) * (
        2.0 * RT_F * (1.0 - t_plus) * pybamm.grad(c_e) / c_e_reg - pybamm.grad(phi_e)
    )
    MD_e = M_x * electrolyte_diffusivity(c_e, T)
    N_e = -MD_e * pybamm.grad(c_e) + t_plus * i_e / F
    model.rhs[c_e] = (-pybamm.div(N_e) + S_x) / eps_x
    model.algebraic[phi_e] = (L_s + L_p) ** 2 * (pybamm.div(i_e) - J_x) / (
        F * p.initial_salt_mol_per_m3
    )
    # Li metal at x = 0 injects i_app / F of Li+; N_e(0) = i_app / F requires this gradient
    dce_dx_left = -(1.0 - t_plus) * i_app / (F * pybamm.boundary_value(MD_e, "left"))
    model.boundary_conditions[c_e] = {
        "left": (dce_dx_left, "Neumann"),
        "right": (pybamm.Scalar(0), "Neumann"),
    }
    c_e_left = pybamm.boundary_value(c_e, "left")
    j0_li = F * 3.5e-8 * p.li_metal_concentration_mol_per_m3**0.7 * _regularised(
        c_e_left, delta
    ) ** 0.3
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
    model.algebraic[phi_s] = L_p**2 * (pybamm.div(i_s) + J_p) / sigma_eff
    model.boundary_conditions[phi_s] = {
        "left": (pybamm.Scalar(0), "Neumann"),
        "right": (-i_app / sigma_eff, "Neumann"),
    }
    model.initial_conditions[phi_s] = pybamm.Scalar(ocp_v_numpy(p.initial_lithiation))

    model.rhs[Q] = i_app / 3600.0
    model.initial_conditions[Q] = pybamm.Scalar(0.0)

    # ---------------------------------------------------------------- outputs
    phi_s_cc = pybamm.boundary_value(phi_s, "right")
    voltage = phi_s_cc - p.contact_resistance_ohm_m2 * i_app
    salt_inter = pybamm.Integral(eps_x * c_e, pybamm.SpatialVariable(
        "x", domain=["separator", "positive electrode"], coord_sys="cartesian"))
    salt_intra = pybamm.Integral(eps_sec * eps_ii * R_avg(c_ii), x_p)
    li_solid = pybamm.Integral(eps_sec * (1.0 - eps_ii) * R_avg(r_avg(c_s)), x_p)
    model.variables = {
        "Time [s]": pybamm.t,
        "Voltage [V]": voltage,
        "Discharge capacity [A.h.m-2]": Q,
        "Electrolyte concentration [mol.m-3]": c_e,
        "Electrolyte potential [V]": phi_e,
        "Positive electrode potential [V]": phi_s,
        "Intragranular electrolyte concentration [mol.m-3]": c_ii,
        "Primary particle surface concentration [mol.m-3]": c_s_surf,
        "Average lithiation": li_solid / (eps_sec * (1.0 - eps_ii) * L_p * c_max),
        "Intergranular salt [mol.m-2]": salt_inter,
        "Intragranular salt [mol.m-2]": salt_intra,
        "Total salt [mol.m-2]": salt_inter + salt_intra,
        "Solid lithium [mol.m-2]": li_solid,
        "Contact resistance drop [V]": p.contact_resistance_ohm_m2 * i_app,
        "Minimum electrolyte concentration [mol.m-3]": pybamm.min(c_e),
    }
    model.events = [
        pybamm.Event("Minimum voltage [V]", voltage - p.lower_cutoff_v),
        pybamm.Event("Maximum voltage [V]", p.upper_cutoff_v - voltage),
        pybamm.Event("Maximum surface lithiation", 0.999 - pybamm.max(sto_surf)),
    ]

    geometry = {
        "separator": {x_s: {"min": pybamm.Scalar(0.0), "max": pybamm.Scalar(L_s)}},
        "positive electrode": {
            x_p: {"min": pybamm.Scalar(L_s), "max": pybamm.Scalar(L_s + L_p)}
        },
        DOM_SEC: {R: {"min": pybamm.Scalar(0.0), "max": pybamm.Scalar(R_s)}},
        DOM_PRIM: {r: {"min": pybamm.Scalar(0.0), "max": pybamm.Scalar(r_p)}},
    }
    spatial = {"x_s": x_s, "x_p": x_p, "R_sec": R, "r_p": r}
    return model, {"geometry": geometry, "spatial": spatial}


@dataclass
class Discretised:
    """A discretised hierarchical model ready to solve (built once, re-solved with inputs)."""

    model: pybamm.BaseModel
    mesh: pybamm.Mesh
    n_states: int


def discretise(
    p: CellParameters, mesh: MeshSettings, *, check_model: bool = False
) -> Discretised:
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
        m, {d: fv for d in ("separator", "positive electrode", DOM_SEC, DOM_PRIM)},
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
        (DOM_SEC, (0.0, p.secondary_radius_um * 1e-6), mesh.n_secondary,
         mesh.secondary_stretch),
        (DOM_PRIM, (0.0, p.primary_radius_um * 1e-6), mesh.n_primary, mesh.primary_stretch),
    ):
        if stretch > 0:
            out[dom] = pybamm.MeshGenerator(
                pybamm.UserSupplied1DSubMesh,
                submesh_params={"edges": clustered_edges(a, b, n, float(stretch))},
            )
    return out


def make_solver(
    *, rtol: float = 1e-6, atol: float = 1e-8, compile_c: bool = False
) -> pybamm.BaseSolver:
    """IDAKLU solver (PyBaMM's SUNDIALS IDA with KLU sparse linear algebra).

    ``compile_c=True`` compiles the CasADi functions to C with the system compiler (PyBaMM's
    ``"compile"`` option): slow once (about a minute), cached on disk, faster re-solves.
    """
    return pybamm.IDAKLUSolver(
        rtol=rtol, atol=atol, options={"num_threads": 1, "compile": bool(compile_c)}
    )


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
        return solver.solve(
            disc.model, t_eval=[0.0, t_end_s], inputs=inputs, t_interp=t_interp
        )
    except pybamm.SolverError as exc:
        _raise_if_below_cutoff_at_start(exc, current_density_a_per_m2)
        raise


def _raise_if_below_cutoff_at_start(exc: Exception, current_density_a_per_m2: float) -> None:
    """A clear ``ValueError`` when the cut-off event fires at t = 0 (C-rate too high)."""
    if "non-positive at initial conditions" in str(exc) and "Minimum voltage" in str(exc):
        raise ValueError(
            f"c_rate: at {current_density_a_per_m2:.4g} A/m2 the voltage is below the "
            "cut-off from the first instant (ohmic and contact-resistance drops); "
            "use a lower C-rate"
        ) from None


# ------------------------------------------------------------------------------------------
# compiled model: CasADi functions of the discretised model, solved by IDAKLU directly
# ------------------------------------------------------------------------------------------
_FUNCTION_KEYS = (
    "rhs_alg", "jac_times_cjmass", "jac_action", "mass_action", "events", "alg_res",
    "alg_jac", "initial_conditions",
)


@dataclass
class CompiledModel:
    """Everything IDAKLU needs to solve the discretised model, without PyBaMM's symbols.

    The CasADi functions PyBaMM's ``IDAKLUSolver.set_up`` would build (residual, Jacobian
    minus ``cj`` times the mass matrix, Jacobian action, mass action, events, algebraic
    residual and Jacobian for the initial-condition Newton solve) plus the initial
    conditions, each serialised with ``casadi.Function.serialize`` (plain text); the output
    variables as an affine map of states and inputs; and the few numbers that go with them.
    It does not depend on the solver tolerances or on the input values; :meth:`to_dict` /
    :meth:`from_dict` make it JSON.
    """

    functions: dict[str, str]
    n_rhs: int
    n_alg: int
    jac_colptrs: list[int]
    jac_rowvals: list[int]
    jac_bandwidth_lower: int
    jac_bandwidth_upper: int
    event_names: list[str]
    input_names: list[str]
    output_names: list[str]
    x_nodes_m: list[float]
    solver_options: dict[str, Any]
    #: The outputs are affine in the states and inputs: ``out = A y + B p + c`` with ``A`` as
    #: CSC arrays ``{"shape", "indptr", "indices", "data"}``, ``B`` (rows of input weights),
    #: ``c``; ``output_sizes`` splits the stacked rows into :data:`OUTPUT_NAMES`.
    output_sizes: list[int]
    output_state_matrix: dict[str, Any]
    output_input_matrix: list[list[float]]
    output_offset: list[float]
    #: The CasADi functions themselves when just built (not stored; saves deserialising)
    live: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_states(self) -> int:
        """Number of states (differential + algebraic)."""
        return self.n_rhs + self.n_alg

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "format": COMPILED_FORMAT,
            "functions": dict(self.functions),
            "n_rhs": self.n_rhs,
            "n_alg": self.n_alg,
            "jac_colptrs": list(self.jac_colptrs),
            "jac_rowvals": list(self.jac_rowvals),
            "jac_bandwidth_lower": self.jac_bandwidth_lower,
            "jac_bandwidth_upper": self.jac_bandwidth_upper,
            "event_names": list(self.event_names),
            "input_names": list(self.input_names),
            "output_names": list(self.output_names),
            "x_nodes_m": list(self.x_nodes_m),
            "solver_options": dict(self.solver_options),
            "output_sizes": list(self.output_sizes),
            "output_state_matrix": dict(self.output_state_matrix),
            "output_input_matrix": [list(r) for r in self.output_input_matrix],
            "output_offset": list(self.output_offset),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CompiledModel:
        """Inverse of :meth:`to_dict`; ``ValueError`` when ``d`` is not a compatible one."""
        if not isinstance(d, dict) or d.get("format") != COMPILED_FORMAT:
            raise ValueError("compiled model: unknown format")
        fns = d.get("functions")
        if not isinstance(fns, dict) or set(fns) != set(_FUNCTION_KEYS) or not all(
            isinstance(v, str) for v in fns.values()
        ):
            raise ValueError("compiled model: functions missing")
        if list(d.get("input_names", ())) != list(INPUT_NAMES) or list(
            d.get("output_names", ())
        ) != list(OUTPUT_NAMES):
            raise ValueError("compiled model: other inputs or outputs")
        out = cls(
            functions=dict(fns),
            n_rhs=int(d["n_rhs"]),
            n_alg=int(d["n_alg"]),
            jac_colptrs=[int(v) for v in d["jac_colptrs"]],
            jac_rowvals=[int(v) for v in d["jac_rowvals"]],
            jac_bandwidth_lower=int(d["jac_bandwidth_lower"]),
            jac_bandwidth_upper=int(d["jac_bandwidth_upper"]),
            event_names=[str(v) for v in d["event_names"]],
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES),
            x_nodes_m=[float(v) for v in d["x_nodes_m"]],
            solver_options=dict(d["solver_options"]),
            output_sizes=[int(v) for v in d["output_sizes"]],
            output_state_matrix={
                "shape": [int(v) for v in d["output_state_matrix"]["shape"]],
                "indptr": [int(v) for v in d["output_state_matrix"]["indptr"]],
                "indices": [int(v) for v in d["output_state_matrix"]["indices"]],
                "data": [float(v) for v in d["output_state_matrix"]["data"]],
            },
            output_input_matrix=[[float(v) for v in r] for r in d["output_input_matrix"]],
            output_offset=[float(v) for v in d["output_offset"]],
        )
        if not all(isinstance(k, str) and isinstance(v, bool | int | float | str)
                   for k, v in out.solver_options.items()):
            raise ValueError("compiled model: bad solver options")
        n = out.n_states
        if (n <= 0 or len(out.jac_colptrs) != n + 1
                or len(out.jac_rowvals) != out.jac_colptrs[-1]):
            raise ValueError("compiled model: inconsistent Jacobian sparsity")
        a, m = out.output_state_matrix, sum(out.output_sizes)
        if (len(out.output_sizes) != len(OUTPUT_NAMES) or a["shape"] != [m, n]
                or len(a["indptr"]) != n + 1 or len(a["indices"]) != a["indptr"][-1]
                or len(a["data"]) != len(a["indices"]) or len(out.output_offset) != m
                or [len(r) for r in out.output_input_matrix] != [len(INPUT_NAMES)] * m):
            raise ValueError("compiled model: inconsistent output matrices")
        return out


def compile_model(disc: Discretised) -> CompiledModel:
    """The CasADi functions of a discretised model (what ``IDAKLUSolver.set_up`` builds).

    Converts the residual once (PyBaMM's set-up converts the rhs, the algebraic part and
    their concatenation separately, each with its Jacobian) and builds the functions from
    the same expressions PyBaMM uses, so the solution equals PyBaMM's
    ``IDAKLUSolver.solve`` (tests/transport/test_dfn_cache.py).
    """
    model = disc.model
    n_rhs, n_alg = int(model.len_rhs), int(model.len_alg)
    n = n_rhs + n_alg
    t = casadi.MX.sym("t")
    y = casadi.vertcat(casadi.MX.sym("y_diff", n_rhs), casadi.MX.sym("y_alg", n_alg))
    p_dict = {name: casadi.MX.sym(name) for name in INPUT_NAMES}
    p = casadi.vertcat(*p_dict.values())
    converted: dict[Any, Any] = {}  # PyBaMM's shared conversion cache (symbol -> MX)

    def conv(symbol: Any) -> Any:
        _prefill_sparse_constants(symbol, converted)
        return symbol.to_casadi(t, y, inputs=p_dict, casadi_symbols=converted)

    rhs_alg = conv(pybamm.NumpyConcatenation(model.concatenated_rhs,
                                             model.concatenated_algebraic))
    cj = casadi.MX.sym("cj")
    v = casadi.MX.sym("v", n)
    jac = model.build_casadi_jacobian(rhs_alg, y)
    jac_times_cjmass = casadi.Function(
        "jac_times_cjmass", [t, y, p, cj], [jac - cj * _sparse_dm(model.mass_matrix.entries)]
    )
    alg = rhs_alg[n_rhs:]
    if not model.is_standard_form_dae:  # pragma: no cover - the model is semi-explicit
        raise ValueError("compile_model: expected a standard-form DAE (identity mass block)")
    events = [e for e in model.events if e.event_type == pybamm.EventType.TERMINATION]
    outputs = [conv(model.get_processed_variable_or_event(k)) for k in OUTPUT_NAMES]
    lin = _affine_outputs(outputs, t, y, p, n)
    fns = {
        "rhs_alg": casadi.Function("rhs_algebraic", [t, y, p], [rhs_alg]),
        "jac_times_cjmass": jac_times_cjmass,
        "jac_action": casadi.Function(
            "jac_action", [t, y, p, v], [casadi.densify(casadi.jtimes(rhs_alg, y, v))]
        ),
        "mass_action": casadi.Function(
            "mass_action", [v], [casadi.vertcat(v[:n_rhs], np.zeros(n_alg))]
        ),
        "events": casadi.Function(
            "rootfn", [t, y, p], [casadi.vertcat(*[conv(e.expression) for e in events])]
        ),
        "alg_res": casadi.Function("algebraic", [t, y, p], [alg]),
        "alg_jac": casadi.Function("algebraic_jac", [t, y, p], [casadi.jacobian(alg, y)]),
        "initial_conditions": casadi.Function(
            "initial_conditions", [t, y, p], [conv(model.concatenated_initial_conditions)]
        ),
    }
    sp = jac_times_cjmass.sparsity_out(0)
    x_nodes = np.concatenate(
        [disc.mesh["separator"].nodes, disc.mesh["positive electrode"].nodes]
    )
    return CompiledModel(
        functions={k: fns[k].serialize() for k in _FUNCTION_KEYS},
        n_rhs=n_rhs,
        n_alg=n_alg,
        jac_colptrs=[int(c) for c in sp.colind()],
        jac_rowvals=[int(r) for r in sp.row()],
        jac_bandwidth_lower=int(sp.bw_lower()),
        jac_bandwidth_upper=int(sp.bw_upper()),
        event_names=[e.name for e in events],
        input_names=list(INPUT_NAMES),
        output_names=list(OUTPUT_NAMES),
        x_nodes_m=[float(x) for x in x_nodes],
        solver_options=dict(make_solver().options),
        **lin,
        live={k: fns[k] for k in ("initial_conditions", "rhs_alg", "events")},
    )


def _affine_outputs(outputs: list[Any], t: Any, y: Any, p: Any, n: int) -> dict[str, Any]:
    """The output variables as ``A y + B p + c`` (they are linear in the states: slices,
    boundary extrapolations, integrals), so a solve evaluates them with one sparse product
    instead of a CasADi call per output time (numpy <-> CasADi conversion of every state at
    every time point cost 15-35 ms per solve)."""
    stacked = casadi.vertcat(*outputs)
    if casadi.depends_on(stacked, t) or not (
        casadi.is_linear(stacked, y) and casadi.is_linear(stacked, p)
    ):
        raise ValueError("compile_model: every output variable must be affine in y and inputs")
    fn = casadi.Function("affine", [y, p], [casadi.jacobian(stacked, y),
                                            casadi.jacobian(stacked, p), stacked])
    a, b, c = fn(np.zeros(n), np.zeros(len(INPUT_NAMES)))
    a = casadi.DM(a)
    sp = a.sparsity()
    return {
        "output_sizes": [int(o.numel()) for o in outputs],
        "output_state_matrix": {
            "shape": [int(a.size1()), int(a.size2())],
            "indptr": [int(v) for v in sp.colind()],
            "indices": [int(v) for v in sp.row()],
            "data": [float(v) for v in a.nonzeros()],
        },
        "output_input_matrix": np.asarray(casadi.DM(b), dtype=float).tolist(),
        "output_offset": np.asarray(casadi.DM(c), dtype=float).ravel().tolist(),
    }


def _prefill_sparse_constants(symbol: Any, converted: dict[Any, Any]) -> None:
    """Convert the sparse matrices of ``symbol`` to CasADi from their CSC arrays.

    ``casadi.MX(scipy_matrix)`` walks the arrays element by element in Python (40 ms at the
    default mesh, 140 ms at the depletion mesh); building the same ``DM`` from the index
    lists gives the identical constant (same sparsity, explicit zeros kept) 3-6x faster.
    """
    from scipy.sparse import issparse

    seen: set[int] = set()
    for node in symbol.pre_order():
        if not isinstance(node, pybamm.Array) or id(node) in seen:
            continue
        seen.add(id(node))
        if issparse(node.entries) and node not in converted:
            converted[node] = casadi.MX(_sparse_dm(node.entries))


def _sparse_dm(matrix: Any) -> Any:
    """``casadi.DM`` of a SciPy sparse matrix, built from its CSC arrays (what
    ``casadi.DM(matrix)`` gives, explicit zeros kept, without the element-wise typemap)."""
    m = matrix.tocsc()
    sp = casadi.Sparsity(m.shape[0], m.shape[1], m.indptr.tolist(), m.indices.tolist())
    return casadi.DM(sp, m.data.tolist())


class DischargeSolver:
    """IDAKLU (PyBaMM's SUNDIALS IDA + KLU solver group) for a :class:`CompiledModel`.

    Does what ``IDAKLUSolver.solve`` does for this model (initial conditions, consistent
    ``ydot0`` of the differential states, IDA's own consistent initialisation of the
    algebraic states, events, the same solver options) and returns plain arrays.
    Building one from a cached :class:`CompiledModel` skips PyBaMM's discretisation and
    set-up entirely.
    """

    def __init__(
        self, compiled: CompiledModel, *, rtol: float, atol: float, compile_c: bool = False
    ) -> None:
        from pybammsolvers import idaklu

        self.compiled = compiled
        self._idaklu = idaklu
        n = compiled.n_states
        solver_keys = ("rhs_alg", "jac_times_cjmass", "jac_action", "mass_action",
                       "events", "alg_res", "alg_jac")
        if compile_c:
            from pybamm.codegen.compilation import aot_compile

            built = aot_compile(
                [casadi.Function.deserialize(compiled.functions[k]) for k in solver_keys]
            )
            strings = {k: f.serialize() for k, f in zip(solver_keys, built, strict=True)}
        else:
            strings = {k: compiled.functions[k] for k in solver_keys}
        # IDAKLU deserialises its own copies; Python needs only the small functions
        gen = {k: idaklu.generate_function(s) for k, s in strings.items()}
        # the functions evaluated in Python (every solve needs them; deserialising them here
        # also checks a cached entry completely before it is used)
        self._python_fns: dict[str, Any] = {
            k: compiled.live.get(k) or casadi.Function.deserialize(compiled.functions[k])
            for k in ("initial_conditions", "rhs_alg", "events")
        }
        from scipy.sparse import csc_matrix

        a = compiled.output_state_matrix
        self._out_a = csc_matrix(
            (np.asarray(a["data"], dtype=float), np.asarray(a["indices"], dtype=np.int64),
             np.asarray(a["indptr"], dtype=np.int64)), shape=tuple(a["shape"])
        ).tocsr()
        self._out_b = np.asarray(compiled.output_input_matrix, dtype=float)
        self._out_c = np.asarray(compiled.output_offset, dtype=float)
        # PyBaMM's IDAKLU options of make_solver() (stored with the model: PyBaMM's
        # version is part of the cache key), so no PyBaMM import is needed here
        options = dict(compiled.solver_options, compile=bool(compile_c))
        self._group = idaklu.create_casadi_solver_group(
            number_of_states=n,
            number_of_parameters=0,
            rhs_alg=gen["rhs_alg"],
            jac_times_cjmass=gen["jac_times_cjmass"],
            jac_times_cjmass_colptrs=np.asarray(compiled.jac_colptrs, dtype=np.int64),
            jac_times_cjmass_rowvals=np.asarray(compiled.jac_rowvals, dtype=np.int64),
            jac_times_cjmass_nnz=len(compiled.jac_rowvals),
            jac_bandwidth_lower=compiled.jac_bandwidth_lower,
            jac_bandwidth_upper=compiled.jac_bandwidth_upper,
            jac_action=gen["jac_action"],
            mass_action=gen["mass_action"],
            sens=idaklu.generate_function(casadi.Function("sensfn", [], []).serialize()),
            events=gen["events"],
            number_of_events=len(compiled.event_names),
            rhs_alg_id=np.concatenate([np.ones(compiled.n_rhs, dtype=np.int64),
                                       np.zeros(compiled.n_alg, dtype=np.int64)]),
            atol=np.full(n, float(atol)),
            rtol=float(rtol),
            inputs=len(compiled.input_names),
            var_fcns=[],
            dvar_dy_fcns=[],
            dvar_dp_fcns=[],
            options=options,
            alg_res=gen["alg_res"],
            alg_jac=gen["alg_jac"],
        )

    def _fn(self, key: str) -> Any:
        """A CasADi function of the compiled model evaluated in Python."""
        return self._python_fns[key]

    @property
    def n_states(self) -> int:
        """Number of states of the model."""
        return self.compiled.n_states

    @property
    def x_nodes_m(self) -> np.ndarray:
        """Cell centres across separator + electrode [m] (``x = 0`` at the Li metal)."""
        return np.asarray(self.compiled.x_nodes_m, dtype=float)

    def solve(
        self,
        *,
        current_density_a_per_m2: float,
        m_electrode: float,
        t_end_s: float,
        n_out: int = 200,
    ) -> dict[str, Any]:
        """One constant-current discharge until an event (cut-off) or ``t_end_s``.

        Returns ``{"Time [s]": t, <each of OUTPUT_NAMES>: values per output time (a 2D
        array (points, times) for the concentration profile), "termination": str}``;
        ``termination`` reads as PyBaMM's (``"event: Minimum voltage [V]"``, ``"final
        time"``).
        """
        c = self.compiled
        n, n_rhs = c.n_states, c.n_rhs
        pv = np.array([float(current_density_a_per_m2), float(m_electrode)])
        y0 = np.asarray(self._fn("initial_conditions")(0.0, np.zeros(n), pv), dtype=float)
        y0 = y0.ravel()
        ydot0 = np.zeros(n)
        ydot0[:n_rhs] = np.asarray(self._fn("rhs_alg")(0.0, y0, pv), dtype=float).ravel()[
            :n_rhs
        ]
        t_interp = np.linspace(0.0, float(t_end_s), int(n_out))
        try:
            sol = self._group.solve(
                np.array([0.0, float(t_end_s)]), t_interp, y0[None, :], ydot0[None, :],
                pv[None, :], logger=None, pbar=np.empty((0, 0)),
            )[0]
        except ValueError as exc:
            raise pybamm.SolverError(str(exc)) from None
        if sol.flag < 0:
            raise pybamm.SolverError(
                f"input set 0: {self._idaklu.sundials_error_message(sol.flag)}"
            )
        t = np.asarray(sol.t, dtype=float)
        y = np.asarray(sol.y, dtype=float).reshape(t.size, n)
        if sol.flag == 2:  # IDA_ROOT_RETURN: an event stopped the integration
            ev = np.asarray(self._fn("events")(float(t[-1]), y[-1], pv), dtype=float).ravel()
            if t.size == 1 and ev.min() <= 0:  # as PyBaMM's check after IDA's initialisation
                names = [c.event_names[i] for i in np.flatnonzero(ev <= 0)]
                exc = pybamm.SolverError(f"Events {names} are non-positive at initial conditions")
                _raise_if_below_cutoff_at_start(exc, current_density_a_per_m2)
                raise exc
            termination = f"event: {c.event_names[int(np.nanargmin(np.abs(ev)))]}"
        else:
            termination = "final time"
        if t.size == 1:
            raise pybamm.SolverError(
                "Solution time vector has length 1. Check whether simulation terminated "
                "too early."
            )
        vals = self._out_a @ y.T + (self._out_b @ pv + self._out_c)[:, None]
        out: dict[str, Any] = {"Time [s]": t, "termination": termination}
        start = 0
        for name, size in zip(c.output_names, c.output_sizes, strict=True):
            block = vals[start:start + size]
            out[name] = block[0].copy() if size == 1 else block.copy()
            start += size
        return out


# ------------------------------------------------------------------------------------------
# reference: PyBaMM's own DFN half cell with the collapsed parameters
# ------------------------------------------------------------------------------------------
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


def pybamm_major_version() -> int:
    """Major version of the installed PyBaMM."""
    return int(str(pybamm.__version__).split(".")[0])
