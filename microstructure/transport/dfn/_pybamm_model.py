"""The hierarchical DFN on PyBaMM (built on PyBaMM 26.x): parameterise, mesh, discretise, solve.

PyBaMM's internals move between releases; every use of PyBaMM sits in this module, in the
model (:mod:`.model`, :class:`~.model.HierarchicalDFN`, the equations), its parameter set
(:mod:`.parameter_set`) and three siblings (``_pybamm_common``: materials, solver settings;
``_pybamm_compiled``: the compiled model and its IDAKLU solver; ``_pybamm_reference``:
PyBaMM's own DFN), so a port touches these files only. The names of the siblings are
re-exported here.

:func:`discretise` builds :class:`~.model.HierarchicalDFN` with the current and the
electrode-scale M-factor as input parameters (:func:`build_model`), processes the
parameters of one :class:`~.parameters.CellParameters`, and discretises it on a
:class:`~.parameters.MeshSettings` mesh (uniform or clustered); :mod:`._pybamm_compiled`
turns that into the cached CasADi functions behind
:func:`~microstructure.transport.dfn.simulate_discharge`.

References
----------
Naumann et al. (2024), ACS Appl. Energy Mater. 7, 4786, doi:10.1021/acsaem.4c00505.
Doyle, Fuller and Newman (1993), J. Electrochem. Soc. 140, 1526, doi:10.1149/1.2221597.
"""

from __future__ import annotations

import warnings
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
from microstructure.transport.dfn.parameters import CellParameters, MeshSettings

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
    "compiled_options",
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
    "solution_from_states",
    "solve_reference",
    "var_pts",
]

pybamm: Any = LazyPyBaMM(globals())


# ------------------------------------------------------------------------------------------
# the hierarchical model, parameterised for the compiled discharge path
# ------------------------------------------------------------------------------------------
#: Options of the :class:`~.model.HierarchicalDFN` behind :func:`discretise`: the
#: electrode-scale M-factor is the input ``"Positive electrode intergranular M-factor"`` (with
#: ``"transport": "intergranular"`` and ``"M-factor source": "image"`` the model uses it as
#: given), so one discretised model serves both transport modes; the caller passes
#: ``CellParameters.m_electrode(transport)``.
def compiled_options(p: CellParameters) -> dict[str, str]:
    """Model options of the compiled path for ``p`` (sigma_II on unless it is ``None``)."""
    conduction = "false" if p.intragranular_conductivity_s_per_m is None else "true"
    return {
        "transport": "intergranular",
        "M-factor source": "image",
        "intragranular electronic conduction": conduction,
    }


def build_model(p: CellParameters) -> tuple[pybamm.BaseModel, pybamm.ParameterValues]:
    """:class:`~.model.HierarchicalDFN` and its parameters for the compiled path.

    Inputs (``pybamm.InputParameter``): ``"Current function [A]"`` (discharge > 0, a 1 m2
    electrode, so A = A/m2) and ``"Positive electrode intergranular M-factor"`` (the
    electrode-scale ``M``, see :func:`compiled_options`).
    """
    from microstructure.transport.dfn.model import HierarchicalDFN
    from microstructure.transport.dfn.parameter_set import cell_parameter_values

    model = HierarchicalDFN(compiled_options(p), name=f"hierarchical DFN half cell ({p.name})")
    values = cell_parameter_values(p, area_m2=1.0, current_a="[input]")
    values[INPUT_M] = "[input]"
    return model, pybamm.ParameterValues(values)


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
    model, values = build_model(p)
    geometry = model.default_geometry
    values.process_geometry(geometry)
    values.process_model(model)
    submesh_types = dict(model.default_submesh_types)
    submesh_types.update(_stretched_submeshes(p, mesh))
    m = pybamm.Mesh(geometry, submesh_types, var_pts(mesh))
    disc = pybamm.Discretisation(m, model.default_spatial_methods, check_model=bool(check_model))
    disc.process_model(model)
    n = int(model.concatenated_initial_conditions.shape[0])
    return Discretised(model=model, mesh=m, n_states=n)


def var_pts(mesh: MeshSettings) -> dict[Any, int]:
    """``var_pts`` of :class:`~.model.HierarchicalDFN` for a :class:`~.parameters.MeshSettings`
    (:meth:`~.model.HierarchicalDFN.mesh_points`)."""
    from microstructure.transport.dfn.model import HierarchicalDFN

    return HierarchicalDFN.mesh_points(mesh)


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


_DISCRETISED: dict[tuple[CellParameters, MeshSettings], Discretised] = {}


def solution_from_states(
    p: CellParameters,
    mesh: MeshSettings,
    *,
    t: np.ndarray,
    y: np.ndarray,
    inputs: dict[str, float],
    termination: str,
) -> pybamm.Solution:
    """A ``pybamm.Solution`` of the discretised model from states a
    :class:`DischargeSolver` returned (``keep_states=True``).

    The model is discretised again (deterministic: the same states in the same order as the
    compiled model of ``p`` and ``mesh``; kept in memory for the next call), so every
    variable of :class:`~.model.HierarchicalDFN` can be read, plotted with
    ``pybamm.QuickPlot`` or post-processed.
    """
    key = (p, mesh)
    disc = _DISCRETISED.get(key)
    if disc is None:
        disc = discretise(p, mesh)
        if len(_DISCRETISED) >= 4:
            _DISCRETISED.pop(next(iter(_DISCRETISED)))
        _DISCRETISED[key] = disc
    y = np.asarray(y, dtype=float)
    if y.shape != (disc.n_states, np.size(t)):
        raise ValueError(f"states: expected shape ({disc.n_states}, {np.size(t)}), got {y.shape}")
    event = termination.startswith("event")
    return pybamm.Solution(
        np.asarray(t, dtype=float),
        y,
        disc.model,
        {k: float(v) for k, v in inputs.items()},
        t_event=np.array([float(t[-1])]) if event else None,
        y_event=y[:, -1:] if event else None,
        termination=termination,
    )
