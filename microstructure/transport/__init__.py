"""Effective transport: image-based M-factors, geometric descriptors and closed-form relations.

* :func:`m_factor` / :func:`m_factors` - steady-state diffusion through a phase set of a labels
  volume (finite volumes, multigrid-preconditioned conjugate gradients).
* :mod:`~microstructure.transport.formulas` - Bruggeman, Hashin-Shtrikman, Naumann et al.
  2024 eq. 5-7, Stenzel et al. 2016.
* :mod:`~microstructure.transport.descriptors` - geodesic tortuosity, constrictivity.
* :mod:`~microstructure.transport.presets` - the four electrodes of Naumann et al. 2024, Table 1.
* :mod:`~microstructure.transport.figure` - the Naumann et al. 2024 Figure 4 analogue and the
  per-axis M-factor figure of the ``mfactor`` stage.

References
----------
Bruggeman (1935), Ann. Phys. 416, 636, doi:10.1002/andp.19354160705.
Hashin and Shtrikman (1962), J. Appl. Phys. 33, 3125, doi:10.1063/1.1728579.
Naumann et al. (2024), ACS Appl. Energy Mater. 7, 4786, doi:10.1021/acsaem.4c00505.
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use (PEP 562): ``microstructure.transport.dfn`` (the DFN cell model) lives
# in this package, and every ``microstructure dfn`` call would otherwise pay ~1 s for the
# numba kernels and scipy.ndimage of the M-factor modules, which the DFN does not use.
_LAZY = {
    "formulas": "microstructure.transport.formulas",
    "constrictivity": "microstructure.transport.descriptors",
    "geodesic_tortuosity": "microstructure.transport.descriptors",
    "transport_descriptors": "microstructure.transport.descriptors",
    "m_factor_curve": "microstructure.transport.figure",
    "plot_m_factor_axes": "microstructure.transport.figure",
    "plot_m_factor_vs_porosity": "microstructure.transport.figure",
    "MFactorResult": "microstructure.transport.mfactor",
    "NotPercolatingWarning": "microstructure.transport.mfactor",
    "m_factor": "microstructure.transport.mfactor",
    "m_factors": "microstructure.transport.mfactor",
    "PRESETS": "microstructure.transport.presets",
    "ElectrodePreset": "microstructure.transport.presets",
    "get_preset": "microstructure.transport.presets",
}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(target)
    value = module if target.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "PRESETS",
    "ElectrodePreset",
    "MFactorResult",
    "NotPercolatingWarning",
    "constrictivity",
    "formulas",
    "geodesic_tortuosity",
    "get_preset",
    "m_factor",
    "m_factor_curve",
    "m_factors",
    "plot_m_factor_axes",
    "plot_m_factor_vs_porosity",
    "transport_descriptors",
]
