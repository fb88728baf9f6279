"""Effective transport: image-based M-factors, geometric descriptors and closed-form relations.

* :func:`m_factor` / :func:`m_factors` - steady-state diffusion through a phase set of a labels
  volume (finite volumes, multigrid-preconditioned conjugate gradients).
* :mod:`~microstructure.transport.formulas` - Bruggeman, Hashin-Shtrikman, seed 003 eq. 5-7,
  Stenzel et al. 2016.
* :mod:`~microstructure.transport.descriptors` - geodesic tortuosity, constrictivity.
* :mod:`~microstructure.transport.presets` - the four electrodes of seed 003 Table 1.
* :mod:`~microstructure.transport.figure` - the seed 003 Figure 4 analogue and the per-axis
  M-factor figure of the ``mfactor`` stage.
"""

from microstructure.transport import formulas
from microstructure.transport.descriptors import (
    constrictivity,
    geodesic_tortuosity,
    transport_descriptors,
)
from microstructure.transport.figure import (
    m_factor_curve,
    plot_m_factor_axes,
    plot_m_factor_vs_porosity,
)
from microstructure.transport.mfactor import (
    MFactorResult,
    NotPercolatingWarning,
    m_factor,
    m_factors,
)
from microstructure.transport.presets import PRESETS, ElectrodePreset, get_preset

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
