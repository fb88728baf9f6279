"""DFN half-cell model with hierarchically structured (porous) particles, built on PyBaMM.

Naumann et al. (ACS Appl. Energy Mater. 2024, doi:10.1021/acsaem.4c00505): a
Doyle-Fuller-Newman model (Doyle, Fuller and Newman 1993, doi:10.1149/1.2221597) of a half
cell (Li-metal counter electrode) whose positive electrode is made of porous NMC111
secondary particles. Three scales: x (separator + electrode), R (inside a secondary particle:
intragranular electrolyte and, optionally, electronic potential) and r (solid diffusion in the
primary particles). Electrode-scale ionic transport is ``"intergranular"`` (``M_inter``,
eq. 3) or ``"combined"`` (``M_inter + M_particles M_II``, eq. 4-7).

Public entry point: :func:`simulate_discharge`. All PyBaMM use sits in ``_pybamm_model`` and
its siblings ``_pybamm_common``, ``_pybamm_compiled``, ``_pybamm_reference`` (built on PyBaMM
26.x). Compiled models (discretised equations as CasADi functions) are kept
in an on-disk cache (``_cache``; ``simulate_discharge(disk_cache=...)``,
``MICROSTRUCTURE_DFN_CACHE=0``), so a repeated run skips PyBaMM's discretisation.
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

__all__ = [
    "DEFAULT_MESH",
    "M_INTER_LAWS",
    "PARAMETER_SOURCES",
    "TRANSPORT_MODES",
    "CellParameters",
    "DischargeResult",
    "MeshSettings",
    "cell_parameters",
    "clear_cache",
    "default_mesh",
    "resolve_preset",
    "simulate_discharge",
]
