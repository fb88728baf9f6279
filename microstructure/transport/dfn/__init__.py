"""DFN half-cell model with hierarchically structured (porous) particles, built on PyBaMM.

Naumann et al. (ACS Appl. Energy Mater. 2024, doi:10.1021/acsaem.4c00505): a
Doyle-Fuller-Newman model (Doyle, Fuller and Newman 1993, doi:10.1149/1.2221597) of a half
cell (Li-metal counter electrode) whose positive electrode is made of porous NMC111
secondary particles. Three scales: x (separator + electrode), R (inside a secondary particle:
intragranular electrolyte and, optionally, electronic potential) and r (solid diffusion in the
primary particles). Electrode-scale ionic transport is ``"intergranular"`` (``M_inter``,
eq. 3) or ``"combined"`` (``M_inter + M_particles M_II``, eq. 4-7).

Public entry points: :func:`simulate_discharge` (fast constant-current discharges, compiled
model cache) and, for PyBaMM users, :class:`HierarchicalDFN` (a ``pybamm.BaseModel`` for
``pybamm.Simulation``, ``Experiment``, ``QuickPlot``) with :func:`parameter_values` (a
``pybamm.ParameterValues`` per electrode), :func:`energy_density_wh_per_kg` and the fitting
helpers :func:`fit_discharge_curves` / :class:`MeasuredDischarge`. These are imported on
first use (``import pybamm`` costs 1-3 s). All PyBaMM use sits in ``model``,
``parameter_set``, ``fitting``, ``_pybamm_model`` and its siblings ``_pybamm_common``,
``_pybamm_compiled``, ``_pybamm_reference`` (built on PyBaMM 26.x). Compiled models
(discretised equations as CasADi functions) are kept in an on-disk cache (``_cache``;
``simulate_discharge(disk_cache=...)``, ``MICROSTRUCTURE_DFN_CACHE=0``), so a repeated run
skips PyBaMM's discretisation.
"""

from microstructure.transport.dfn.parameters import (
    M_INTER_LAWS,
    PARAMETER_SOURCES,
    CellParameters,
    MeshSettings,
    cell_parameters,
    resolve_preset,
)
from microstructure.transport.dfn.simulate import (
    DEFAULT_MESH,
    TRANSPORT_MODES,
    DischargeResult,
    clear_cache,
    default_mesh,
    simulate_discharge,
)

#: Public names imported on first use (they import PyBaMM): name -> module.
_LAZY = {
    "HierarchicalDFN": "microstructure.transport.dfn.model",
    "energy_density_wh_per_kg": "microstructure.transport.dfn.model",
    "parameter_values": "microstructure.transport.dfn.parameter_set",
    "DischargeFit": "microstructure.transport.dfn.fitting",
    "MeasuredDischarge": "microstructure.transport.dfn.fitting",
    "fit_discharge_curves": "microstructure.transport.dfn.fitting",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_MESH",
    "DischargeFit",
    "HierarchicalDFN",
    "MeasuredDischarge",
    "M_INTER_LAWS",
    "PARAMETER_SOURCES",
    "TRANSPORT_MODES",
    "CellParameters",
    "DischargeResult",
    "MeshSettings",
    "cell_parameters",
    "clear_cache",
    "default_mesh",
    "energy_density_wh_per_kg",
    "fit_discharge_curves",
    "parameter_values",
    "resolve_preset",
    "simulate_discharge",
]
