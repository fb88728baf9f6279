"""The hierarchical DFN half cell as a first-class PyBaMM model (built on PyBaMM 26.x).

:class:`HierarchicalDFN` is a :class:`pybamm.BaseModel` subclass that follows the
conventions of ``pybamm.lithium_ion.BaseModel``: every number is a ``pybamm.Parameter`` or
``pybamm.FunctionParameter`` with a PyBaMM-style name and unit, the applied current is the
``"Current function [A]"`` of :class:`pybamm.Experiment`, the variables carry PyBaMM's
standard names (``"Voltage [V]"``, ``"Current [A]"``, ``"Discharge capacity [A.h]"``,
``"Electrolyte concentration [mol.m-3]"``...), and the model provides ``default_geometry``,
``default_submesh_types``, ``default_var_pts``, ``default_spatial_methods``,
``default_solver``, ``default_parameter_values`` and ``default_quick_plot_variables``, so
``pybamm.Simulation(HierarchicalDFN(), experiment=...)`` and ``pybamm.QuickPlot`` work.

Three scales (docs/validation_dfn.md):

* x (domains ``"separator"``, ``"positive electrode"``): intergranular electrolyte
  ``c_e, phi_e`` with the electrode-scale M-factor, electrode potential ``phi_s``; Li-metal
  Butler-Volmer counter electrode at ``x = 0``; contact-resistance drop ``R_cont i_app``
  (Naumann et al. 2024, eq. 8) at the current collector.
* R (domain ``"positive secondary particle"``): intragranular electrolyte ``c_II, phi_II``
  with ``M_II``, matched to ``c_e, phi_e`` at the particle surface; optionally the electronic
  potential inside the particle (conductivity ``sigma_II``).
* r (domain ``"positive primary particle"``): solid diffusion with ``D_s(l)`` (eq. 9);
  Butler-Volmer kinetics on the primary-particle surfaces.

Particle-scale exchange terms are R-averages of divergences (``eps_s <div N_II>_R``), which
the finite-volume integral telescopes to the discrete boundary flux, so salt and charge are
conserved exactly by the discretisation.

References
----------
Naumann et al. (2024), ACS Appl. Energy Mater. 7, 4786, doi:10.1021/acsaem.4c00505.
Doyle, Fuller and Newman (1993), J. Electrochem. Soc. 140, 1526, doi:10.1149/1.2221597.
Sulzer et al. (2021), J. Open Res. Softw. 9, 14, doi:10.5334/jors.309 (PyBaMM).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pybamm

from microstructure.transport.dfn._pybamm_common import DOM_PRIM, DOM_SEC, _regularised
from microstructure.transport.dfn.parameter_set import NAUMANN2024_BIBTEX, parameter_values
from microstructure.transport.dfn.parameters import (
    DEFAULT_MESH,
    FARADAY_C_PER_MOL,
    GAS_CONSTANT_J_PER_MOL_K,
)

__all__ = [
    "DOM_PRIM",
    "DOM_SEC",
    "HierarchicalDFN",
    "MODEL_OPTIONS",
    "ModelOptions",
    "NAUMANN2024_BIBTEX",
    "QUICK_PLOT_VARIABLES",
    "SUMMARY_VARIABLES",
    "energy_density_wh_per_kg",
    "spatial_variables",
]


#: Options of :class:`HierarchicalDFN` and their allowed values (the first is the default).
MODEL_OPTIONS: dict[str, tuple[str, ...]] = {
    # electrode-scale ionic transport: M_inter (eq. 3) or M_inter + M_particles M_II (eq. 4-7)
    "transport": ("combined", "intergranular"),
    # intergranular M-factor: Bruggeman eps_inter^b ("formula") or a number measured on an
    # image ("image", e.g. microstructure.transport.m_factor on the intergranular pores)
    "M-factor source": ("formula", "image"),
    # electronic conduction inside the secondary particles (sigma_II) or phi_s,II = phi_s
    "intragranular electronic conduction": ("true", "false"),
}

#: Variables :meth:`HierarchicalDFN.default_quick_plot_variables` shows.
QUICK_PLOT_VARIABLES = (
    "Electrolyte concentration [mol.m-3]",
    "Particle-averaged intragranular electrolyte concentration [mol.m-3]",
    "Positive particle surface stoichiometry",
    "Electrolyte potential [V]",
    "Current [A]",
    "Voltage [V]",
)


#: Scalar variables PyBaMM's cycle summaries report (``solution.summary_variables``).
SUMMARY_VARIABLES = (
    "Positive electrode stoichiometry",
    "Total lithium in positive electrode [mol]",
    "Total lithium in electrolyte [mol]",
)


class ModelOptions(dict):
    """The options of a :class:`HierarchicalDFN` (a ``dict``; its own type so that PyBaMM's
    submodels take them as already checked instead of as ``BatteryModelOptions``)."""


def _check_options(options: dict[str, str] | None) -> dict[str, str]:
    """Defaults completed and every key and value checked (one-line ``ValueError``)."""
    out = {k: v[0] for k, v in MODEL_OPTIONS.items()}
    if options is None:
        return out
    if not isinstance(options, dict):
        raise ValueError(f"HierarchicalDFN options: expected a dict, got {options!r}")
    for key, value in options.items():
        if key not in MODEL_OPTIONS:
            raise ValueError(
                f"HierarchicalDFN options: unknown option {key!r}; known: {list(MODEL_OPTIONS)}"
            )
        if value not in MODEL_OPTIONS[key]:
            raise ValueError(
                f"HierarchicalDFN options[{key!r}]: expected one of {MODEL_OPTIONS[key]}, "
                f"got {value!r}"
            )
        out[key] = value
    return out


def spatial_variables() -> SimpleNamespace:
    """The spatial variables x_s, x_p (m), R_sec (secondary particle), r_p (primary)."""
    aux_sec = {"secondary": "positive electrode"}
    aux_prim = {"secondary": DOM_SEC, "tertiary": "positive electrode"}
    return SimpleNamespace(
        x_s=pybamm.SpatialVariable("x_s", domain=["separator"], coord_sys="cartesian"),
        x_p=pybamm.SpatialVariable("x_p", domain=["positive electrode"], coord_sys="cartesian"),
        x=pybamm.SpatialVariable(
            "x", domain=["separator", "positive electrode"], coord_sys="cartesian"
        ),
        R=pybamm.SpatialVariable(
            "R_sec", domain=[DOM_SEC], auxiliary_domains=aux_sec, coord_sys="spherical polar"
        ),
        r=pybamm.SpatialVariable(
            "r_p", domain=[DOM_PRIM], auxiliary_domains=aux_prim, coord_sys="spherical polar"
        ),
        aux_sec=aux_sec,
        aux_prim=aux_prim,
    )


def _parameters(options: dict[str, str]) -> SimpleNamespace:
    """Every ``pybamm.Parameter`` the model uses (names as in :func:`parameter_values`)."""
    P = pybamm.Parameter
    q = SimpleNamespace()
    q.F = pybamm.Scalar(FARADAY_C_PER_MOL)
    q.T = P("Ambient temperature [K]")
    q.RT_F = GAS_CONSTANT_J_PER_MOL_K * q.T / q.F
    q.L_s = P("Separator thickness [m]")
    q.L_p = P("Positive electrode thickness [m]")
    q.L_li = P("Negative electrode thickness [m]")
    q.A = P("Electrode height [m]") * P("Electrode width [m]")
    q.eps_sep = P("Separator porosity")
    q.m_sep = q.eps_sep ** P("Separator Bruggeman coefficient (electrolyte)")
    q.eps_inter = P("Positive electrode intergranular porosity")
    q.eps_s = P("Positive electrode porous particle volume fraction")
    q.eps_add = P("Positive electrode additive volume fraction")
    q.eps_ii = P("Positive particle intragranular porosity")
    if options["M-factor source"] == "formula":
        q.m_inter = q.eps_inter ** P("Positive electrode Bruggeman coefficient (electrolyte)")
    else:
        q.m_inter = P("Positive electrode intergranular M-factor")
    q.m_ii = P("Positive particle intragranular M-factor")
    q.m_particles = pybamm.FunctionParameter(
        "Positive electrode particle-network M-factor",
        {"Positive electrode porous particle volume fraction": q.eps_s},
    )
    if options["transport"] == "combined":
        q.m_el = q.m_inter + q.m_particles * q.m_ii  # eq. 7
    else:
        q.m_el = q.m_inter  # eq. 3
    q.R_cont = P("Contact resistance [Ohm.m2]")
    q.sigma_eff = P("Positive electrode effective conductivity [S.m-1]")
    q.sigma_ii = P("Positive particle electronic conductivity [S.m-1]")
    q.R_s = P("Positive secondary particle radius [m]")
    q.r_p = P("Positive primary particle radius [m]")
    q.c_max = P("Maximum concentration in positive electrode [mol.m-3]")
    q.c_s0 = P("Initial concentration in positive electrode [mol.m-3]")
    q.c_e0 = P("Initial concentration in electrolyte [mol.m-3]")
    q.t_plus = P("Cation transference number")
    q.delta = P("Electrolyte concentration regularisation [mol.m-3]")
    q.c_li = P("Lithium metal concentration [mol.m-3]")
    q.sigma_li = P("Negative electrode conductivity [S.m-1]")
    q.v_low = P("Lower voltage cut-off [V]")
    q.v_high = P("Upper voltage cut-off [V]")
    q.n_cells = P("Number of cells connected in series to make a battery")
    q.rho_am = P("Positive electrode active material density [kg.m-3]")
    q.rho_add = P("Positive electrode additive density [kg.m-3]")
    q.I = pybamm.FunctionParameter("Current function [A]", {"Time [s]": pybamm.t})
    q.i_app = q.I / q.A
    return q


def _ocp(sto: Any) -> Any:
    return pybamm.FunctionParameter(
        "Positive electrode OCP [V]", {"Positive particle stoichiometry": sto}
    )


def _d_e(c_e: Any, T: Any) -> Any:
    return pybamm.FunctionParameter(
        "Electrolyte diffusivity [m2.s-1]",
        {"Electrolyte concentration [mol.m-3]": c_e, "Temperature [K]": T},
    )


def _kappa_e(c_e: Any, T: Any) -> Any:
    return pybamm.FunctionParameter(
        "Electrolyte conductivity [S.m-1]",
        {"Electrolyte concentration [mol.m-3]": c_e, "Temperature [K]": T},
    )


class HierarchicalDFN(pybamm.BaseModel):
    """Doyle-Fuller-Newman half cell with hierarchically structured (porous) particles.

    Naumann et al. (2024): a Li-metal counter electrode, a separator and a positive
    electrode of porous NMC secondary particles (intragranular electrolyte, optional
    intragranular electronic conduction) made of primary particles (solid diffusion with
    eq. 9). Parameterise with :func:`~microstructure.transport.dfn.parameter_values`.

    Parameters
    ----------
    options
        ``{"transport": "combined" | "intergranular", "M-factor source": "formula" |
        "image", "intragranular electronic conduction": "true" | "false"}`` (defaults
        first). ``"transport"``: electrode-scale M-factor ``M_inter + M_particles M_II``
        (eq. 7) or ``M_inter`` (eq. 3). ``"M-factor source"``: ``M_inter = eps_inter^b`` with
        ``"Positive electrode Bruggeman coefficient (electrolyte)"`` (``"formula"``) or the
        number ``"Positive electrode intergranular M-factor"`` (``"image"``, e.g. from
        :mod:`microstructure.transport.m_factor`).
    name
        Model name.

    Raises
    ------
    ValueError
        Unknown option or value.

    References
    ----------
    Naumann et al. (2024), ACS Appl. Energy Mater. 7, 4786, doi:10.1021/acsaem.4c00505.
    Doyle, Fuller and Newman (1993), J. Electrochem. Soc. 140, 1526,
    doi:10.1149/1.2221597.

    Examples
    --------
    >>> import pybamm
    >>> from microstructure.transport.dfn import HierarchicalDFN, parameter_values
    >>> sim = pybamm.Simulation(HierarchicalDFN(), parameter_values=parameter_values("cal-3"),
    ...                         experiment=pybamm.Experiment(["Discharge at 2C until 3.0 V"]))
    >>> sol = sim.solve()  # doctest: +SKIP
    """

    def __init__(
        self, options: dict[str, str] | None = None, name: str = "Hierarchical DFN half cell"
    ) -> None:
        super().__init__(name)
        self.options = ModelOptions(_check_options(options))
        # what PyBaMM's external-circuit submodels read (voltage, power and resistance
        # steps of an Experiment): nominal capacity, electrode area, cells and electrodes
        P = pybamm.Parameter
        self.param = SimpleNamespace(
            Q=P("Nominal cell capacity [A.h]"),
            A_cc=P("Electrode height [m]") * P("Electrode width [m]"),
            n_electrodes_parallel=P("Number of electrodes connected in parallel to make a cell"),
            n_cells=P("Number of cells connected in series to make a battery"),
        )
        pybamm.citations.register("Doyle1993")
        pybamm.citations.register(NAUMANN2024_BIBTEX)
        v = SimpleNamespace(**vars(spatial_variables()), **vars(_parameters(self.options)))
        self._state_variables(v)
        self._primary_particles(v)
        self._intragranular_scale(v)
        self._electrode_scale(v)
        self._output_variables(v)
        self._cut_offs(v)

    # -------------------------------------------------------------- PyBaMM conventions
    @property
    def default_geometry(self) -> pybamm.Geometry:
        """x (separator, electrode), R (secondary particle), r (primary particle), in m."""
        s = spatial_variables()
        P = pybamm.Parameter
        L_s = P("Separator thickness [m]")
        L_p = P("Positive electrode thickness [m]")
        zero = pybamm.Scalar(0.0)
        return pybamm.Geometry(
            {
                "separator": {s.x_s: {"min": zero, "max": L_s}},
                "positive electrode": {s.x_p: {"min": L_s, "max": L_s + L_p}},
                DOM_SEC: {s.R: {"min": zero, "max": P("Positive secondary particle radius [m]")}},
                DOM_PRIM: {s.r: {"min": zero, "max": P("Positive primary particle radius [m]")}},
            }
        )

    @property
    def default_var_pts(self) -> dict[Any, int]:
        """Cells per spatial variable: ``DEFAULT_MESH`` (4, 12, 5, 3); see :meth:`mesh_points`."""
        return self.mesh_points(DEFAULT_MESH)

    @staticmethod
    def mesh_points(mesh: Any) -> dict[Any, int]:
        """``var_pts`` for ``pybamm.Simulation`` from a :class:`~.parameters.MeshSettings`.

        Keys are the ``pybamm.SpatialVariable`` objects ``x_s``, ``x_p``, ``R_sec``, ``r_p``
        (``R_sec`` is not one of PyBaMM's standard names, so string keys cannot name it).
        """
        s = spatial_variables()
        return {
            s.x_s: mesh.n_separator,
            s.x_p: mesh.n_electrode,
            s.R: mesh.n_secondary,
            s.r: mesh.n_primary,
        }

    @property
    def default_submesh_types(self) -> dict[str, Any]:
        """Uniform 1D submeshes on every domain."""
        return {d: pybamm.Uniform1DSubMesh for d in self._domains()}

    @property
    def default_spatial_methods(self) -> dict[str, Any]:
        """PyBaMM's finite volumes on every domain."""
        return {d: pybamm.FiniteVolume() for d in self._domains()}

    @property
    def default_solver(self) -> pybamm.BaseSolver:
        """IDAKLU with ``rtol = 1e-5, atol = 1e-7`` (as :func:`simulate_discharge`)."""
        return pybamm.IDAKLUSolver(rtol=1e-5, atol=1e-7, options={"num_threads": 1})

    @property
    def default_parameter_values(self) -> pybamm.ParameterValues:
        """Naumann et al. (2024) Cal-3 (:func:`~.parameter_values`)."""
        return parameter_values("cal-3")

    @property
    def default_quick_plot_variables(self) -> list[str]:
        """:data:`QUICK_PLOT_VARIABLES`."""
        return list(QUICK_PLOT_VARIABLES)

    @property
    def summary_variables(self) -> list[str]:
        """Scalar variables PyBaMM summarises per cycle of an experiment."""
        return list(getattr(self, "_hdfn_summary", SUMMARY_VARIABLES))

    @summary_variables.setter
    def summary_variables(self, value: list[str]) -> None:
        self._hdfn_summary = list(value)

    @staticmethod
    def _domains() -> tuple[str, ...]:
        return ("separator", "positive electrode", DOM_SEC, DOM_PRIM)

    # -------------------------------------------------------------- equations
    def _state_variables(self, v: SimpleNamespace) -> None:
        """The unknowns of the model (names as in the variables dictionary)."""
        V = pybamm.Variable
        v.c_e_s = V("Separator electrolyte concentration [mol.m-3]", domain="separator")
        v.c_e_p = V("Positive electrolyte concentration [mol.m-3]", domain="positive electrode")
        v.c_e = pybamm.concatenation(v.c_e_s, v.c_e_p)
        v.phi_e_s = V("Separator electrolyte potential [V]", domain="separator")
        v.phi_e_p = V("Positive electrolyte potential [V]", domain="positive electrode")
        v.phi_e = pybamm.concatenation(v.phi_e_s, v.phi_e_p)
        v.phi_s = V("Positive electrode potential [V]", domain="positive electrode")
        v.c_ii = V(
            "Intragranular electrolyte concentration [mol.m-3]",
            domain=DOM_SEC,
            auxiliary_domains=v.aux_sec,
        )
        v.phi_ii = V(
            "Intragranular electrolyte potential [V]", domain=DOM_SEC, auxiliary_domains=v.aux_sec
        )
        v.c_s = V(
            "Positive primary particle concentration [mol.m-3]",
            domain=DOM_PRIM,
            auxiliary_domains=v.aux_prim,
        )
        if self.options["intragranular electronic conduction"] == "true":
            v.phi_s_ii = V(
                "Intragranular solid potential [V]", domain=DOM_SEC, auxiliary_domains=v.aux_sec
            )
        else:
            v.phi_s_ii = pybamm.PrimaryBroadcast(v.phi_s, DOM_SEC)
        v.Q = V("Discharge capacity [A.h]")
        vol_sec = 4.0 / 3.0 * math.pi * v.R_s**3
        vol_prim = 4.0 / 3.0 * math.pi * v.r_p**3
        v.r_avg = lambda f: pybamm.Integral(f, v.r) / vol_prim
        v.R_avg = lambda f: pybamm.Integral(f, v.R) / vol_sec

    def _primary_particles(self, v: SimpleNamespace) -> None:
        """Solid diffusion in the primary particles and the Butler-Volmer reaction on them."""
        F, c_max, c_s = v.F, v.c_max, v.c_s
        a_prim = 3.0 * (1.0 - v.eps_ii) / v.r_p  # primary-particle area per particle volume
        v.c_s_surf = pybamm.surf(c_s)
        v.sto_surf = v.c_s_surf / c_max
        v.c_ii_reg = _regularised(v.c_ii, v.delta)
        j0 = pybamm.FunctionParameter(
            "Positive electrode exchange-current density [A.m-2]",
            {
                "Electrolyte concentration [mol.m-3]": v.c_ii_reg,
                "Positive particle surface concentration [mol.m-3]": v.c_s_surf,
                "Maximum positive particle surface concentration [mol.m-3]": c_max,
                "Temperature [K]": v.T,
            },
        )
        v.ocp_surf = _ocp(v.sto_surf)
        v.eta = v.phi_s_ii - v.phi_ii - v.ocp_surf
        j = 2.0 * j0 * pybamm.sinh(0.5 * v.eta / v.RT_F)  # > 0: Li leaves the solid
        v.j = j
        v.a_j = a_prim * j  # A per m3 of secondary particle
        D_s = pybamm.FunctionParameter(
            "Positive particle diffusivity [m2.s-1]",
            {"Positive particle stoichiometry": c_s / c_max, "Temperature [K]": v.T},
        )
        self.rhs[c_s] = -pybamm.div(-D_s * pybamm.grad(c_s))
        self.boundary_conditions[c_s] = {
            "left": (pybamm.Scalar(0), "Neumann"),
            "right": (-j / (F * pybamm.surf(D_s)), "Neumann"),
        }
        self.initial_conditions[c_s] = v.c_s0

    def _intragranular_scale(self, v: SimpleNamespace) -> None:
        """Electrolyte (and optionally electronic potential) inside the secondary particles."""
        F, T, RT_F, t_plus, R_s = v.F, v.T, v.RT_F, v.t_plus, v.R_s
        c_ii, phi_ii, a_j = v.c_ii, v.phi_ii, v.a_j
        kappa_ii = v.m_ii * _kappa_e(v.c_ii_reg, T)
        i_ii = kappa_ii * (
            2.0 * RT_F * (1.0 - t_plus) * pybamm.grad(c_ii) / v.c_ii_reg - pybamm.grad(phi_ii)
        )
        N_ii = -v.m_ii * _d_e(c_ii, T) * pybamm.grad(c_ii) + t_plus * i_ii / F
        div_N_ii = pybamm.div(N_ii)
        div_i_ii = pybamm.div(i_ii)
        self.rhs[c_ii] = (-div_N_ii + a_j / F) / v.eps_ii
        self.algebraic[phi_ii] = R_s**2 * (div_i_ii - a_j) / (F * v.c_e0)
        self.boundary_conditions[c_ii] = {
            "left": (pybamm.Scalar(0), "Neumann"),
            "right": (v.c_e_p, "Dirichlet"),
        }
        self.boundary_conditions[phi_ii] = {
            "left": (pybamm.Scalar(0), "Neumann"),
            "right": (v.phi_e_p, "Dirichlet"),
        }
        self.initial_conditions[c_ii] = v.c_e0
        self.initial_conditions[phi_ii] = pybamm.Scalar(0.0)
        if self.options["intragranular electronic conduction"] == "true":
            sig, phi_s_ii = v.sigma_ii, v.phi_s_ii
            i_s_ii = -sig * pybamm.grad(phi_s_ii)
            self.algebraic[phi_s_ii] = R_s**2 * (pybamm.div(i_s_ii) + a_j) / sig
            self.boundary_conditions[phi_s_ii] = {
                "left": (pybamm.Scalar(0), "Neumann"),
                "right": (v.phi_s, "Dirichlet"),
            }
            self.initial_conditions[phi_s_ii] = _ocp(v.c_s0 / v.c_max)
        # exchange with the electrode scale (per electrode volume)
        v.S_p = v.eps_s * v.R_avg(div_N_ii)  # salt leaving the particles [mol/m3/s]
        v.J_p = v.eps_s * v.R_avg(div_i_ii)  # ionic current leaving them [A/m3]

    def _electrode_scale(self, v: SimpleNamespace) -> None:
        """Intergranular electrolyte, Li-metal counter electrode and electrode potential (x)."""
        F, T, RT_F, t_plus, delta = v.F, v.T, v.RT_F, v.t_plus, v.delta
        c_e, phi_e, phi_s, i_app = v.c_e, v.phi_e, v.phi_s, v.i_app
        M_x = pybamm.concatenation(
            pybamm.PrimaryBroadcast(v.m_sep, "separator"),
            pybamm.PrimaryBroadcast(v.m_el, "positive electrode"),
        )
        v.eps_x = pybamm.concatenation(
            pybamm.PrimaryBroadcast(v.eps_sep, "separator"),
            pybamm.PrimaryBroadcast(v.eps_inter, "positive electrode"),
        )
        zero_s = pybamm.PrimaryBroadcast(pybamm.Scalar(0.0), "separator")
        S_x = pybamm.concatenation(zero_s, v.S_p)
        J_x = pybamm.concatenation(zero_s, v.J_p)
        c_e_reg = _regularised(c_e, delta)
        i_e = (
            M_x
            * _kappa_e(c_e_reg, T)
            * (2.0 * RT_F * (1.0 - t_plus) * pybamm.grad(c_e) / c_e_reg - pybamm.grad(phi_e))
        )
        MD_e = M_x * _d_e(c_e, T)
        N_e = -MD_e * pybamm.grad(c_e) + t_plus * i_e / F
        self.rhs[c_e] = (-pybamm.div(N_e) + S_x) / v.eps_x
        self.algebraic[phi_e] = (v.L_s + v.L_p) ** 2 * (pybamm.div(i_e) - J_x) / (F * v.c_e0)
        # Li metal at x = 0 injects i_app / F of Li+; N_e(0) = i_app / F requires this gradient
        dce_dx_left = -(1.0 - t_plus) * i_app / (F * pybamm.boundary_value(MD_e, "left"))
        self.boundary_conditions[c_e] = {
            "left": (dce_dx_left, "Neumann"),
            "right": (pybamm.Scalar(0), "Neumann"),
        }
        j0_li = pybamm.FunctionParameter(
            "Exchange-current density for lithium metal electrode [A.m-2]",
            {
                "Electrolyte concentration [mol.m-3]": _regularised(
                    pybamm.boundary_value(c_e, "left"), delta
                ),
                "Lithium metal concentration [mol.m-3]": v.c_li,
                "Temperature [K]": T,
            },
        )
        v.j0_li = j0_li
        v.eta_li = 2.0 * RT_F * pybamm.arcsinh(i_app / (2.0 * j0_li))
        v.dphi_li = v.L_li * i_app / v.sigma_li
        self.boundary_conditions[phi_e] = {
            "left": (-v.dphi_li - v.eta_li, "Dirichlet"),
            "right": (pybamm.Scalar(0), "Neumann"),
        }
        self.initial_conditions[c_e] = v.c_e0
        self.initial_conditions[phi_e] = pybamm.Scalar(0.0)
        i_s = -v.sigma_eff * pybamm.grad(phi_s)
        self.algebraic[phi_s] = v.L_p**2 * (pybamm.div(i_s) + v.J_p) / v.sigma_eff
        self.boundary_conditions[phi_s] = {
            "left": (pybamm.Scalar(0), "Neumann"),
            "right": (-i_app / v.sigma_eff, "Neumann"),
        }
        self.initial_conditions[phi_s] = _ocp(v.c_s0 / v.c_max)
        self.rhs[v.Q] = v.I / 3600.0
        self.initial_conditions[v.Q] = pybamm.Scalar(0.0)

    def _output_variables(self, v: SimpleNamespace) -> None:
        """PyBaMM's standard names plus the hierarchical ones (salt, intragranular fields)."""
        eps_s, eps_ii, L_p, A = v.eps_s, v.eps_ii, v.L_p, v.A
        v.voltage = pybamm.boundary_value(v.phi_s, "right") - v.R_cont * v.i_app
        salt_inter = pybamm.Integral(v.eps_x * v.c_e, v.x)
        salt_intra = pybamm.Integral(eps_s * eps_ii * v.R_avg(v.c_ii), v.x_p)
        li_solid = pybamm.Integral(eps_s * (1.0 - eps_ii) * v.R_avg(v.r_avg(v.c_s)), v.x_p)
        nmc_mass = L_p * A * eps_s * (1.0 - eps_ii) * v.rho_am
        coating_mass = nmc_mass + L_p * A * v.eps_add * v.rho_add
        sto_surf_r = v.R_avg(v.sto_surf)
        self.variables = {
            "Time [s]": pybamm.t,
            "Time [min]": pybamm.t / 60.0,
            "Time [h]": pybamm.t / 3600.0,
            "Current [A]": v.I,
            "Current variable [A]": v.I,  # for compatibility with pybamm.Experiment
            "Current density [A.m-2]": v.i_app,
            "Voltage [V]": v.voltage,
            "Voltage expression [V]": v.voltage,
            "Battery voltage [V]": v.voltage * v.n_cells,
            "Power [W]": v.voltage * v.I,
            "Instantaneous power [W.m-2]": v.voltage * v.i_app,
            "Discharge capacity [A.h]": v.Q,
            "Discharge capacity [A.h.m-2]": v.Q / A,
            "Electrolyte concentration [mol.m-3]": v.c_e,
            "Separator electrolyte concentration [mol.m-3]": v.c_e_s,
            "Positive electrolyte concentration [mol.m-3]": v.c_e_p,
            "Electrolyte potential [V]": v.phi_e,
            "Separator electrolyte potential [V]": v.phi_e_s,
            "Positive electrolyte potential [V]": v.phi_e_p,
            "Positive electrode potential [V]": v.phi_s,
            "Intragranular electrolyte concentration [mol.m-3]": v.c_ii,
            "Particle-averaged intragranular electrolyte concentration [mol.m-3]": v.R_avg(v.c_ii),
            "Intragranular electrolyte potential [V]": v.phi_ii,
            "Intragranular solid potential [V]": v.phi_s_ii,
            "Positive primary particle concentration [mol.m-3]": v.c_s,
            "Primary particle surface concentration [mol.m-3]": v.c_s_surf,
            "Positive particle surface stoichiometry": sto_surf_r,
            "Positive electrode open-circuit potential [V]": v.ocp_surf,
            "Positive electrode reaction overpotential [V]": v.eta,
            "Positive electrode interfacial current density [A.m-2]": v.j,
            "Positive electrode stoichiometry": li_solid / (eps_s * (1.0 - eps_ii) * L_p * v.c_max),
            "Average lithiation": li_solid / (eps_s * (1.0 - eps_ii) * L_p * v.c_max),
            "Electrode M-factor": v.m_el,
            "Intergranular salt [mol.m-2]": salt_inter,
            "Intragranular salt [mol.m-2]": salt_intra,
            "Total salt [mol.m-2]": salt_inter + salt_intra,
            "Total lithium in electrolyte [mol]": (salt_inter + salt_intra) * A,
            "Solid lithium [mol.m-2]": li_solid,
            "Total lithium in positive electrode [mol]": li_solid * A,
            "Contact overpotential [V]": v.R_cont * v.i_app,
            "Negative electrode exchange current density [A.m-2]": v.j0_li,
            "Negative electrode reaction overpotential [V]": v.eta_li,
            "Negative electrode potential drop [V]": v.dphi_li,
            "Minimum electrolyte concentration [mol.m-3]": pybamm.min(v.c_e),
            "Positive electrode active material mass [kg]": nmc_mass,
            "Positive electrode coating mass [kg]": coating_mass,
        }

    def _cut_offs(self, v: SimpleNamespace) -> None:
        """Voltage cut-offs and the lithiation limits of the primary particles."""
        self.events = [
            pybamm.Event("Minimum voltage [V]", v.voltage - v.v_low),
            pybamm.Event("Maximum voltage [V]", v.v_high - v.voltage),
            pybamm.Event("Maximum surface lithiation", 0.999 - pybamm.max(v.sto_surf)),
            pybamm.Event("Minimum surface lithiation", pybamm.min(v.sto_surf) - 0.001),
        ]


def energy_density_wh_per_kg(solution: pybamm.Solution) -> float:
    """Discharge energy per kg of cathode coating (NMC + additives) of a solution [Wh/kg].

    ``int V dQ`` (trapezoid over the solution's time points, ``"Voltage [V]"`` and
    ``"Discharge capacity [A.h]"``) divided by ``"Positive electrode coating mass [kg]"``:
    the basis of :attr:`~.DischargeResult.energy_density_wh_per_kg`.

    Raises
    ------
    ValueError
        The solution has no ``"Positive electrode coating mass [kg]"`` (not a
        :class:`HierarchicalDFN` solution).
    """
    try:
        mass = float(np.ravel(solution["Positive electrode coating mass [kg]"].entries)[0])
    except KeyError:
        raise ValueError(
            "solution: no 'Positive electrode coating mass [kg]' (not a HierarchicalDFN solution)"
        ) from None
    v = np.asarray(solution["Voltage [V]"].entries, dtype=float)
    q = np.asarray(solution["Discharge capacity [A.h]"].entries, dtype=float)
    return float(np.trapezoid(v, q)) / mass
