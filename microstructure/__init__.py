"""microstructure: FIB/SEM tomography of battery electrodes to validated numbers.

Stages: preprocessing, segmentation, CBD modelling, porosity, simulated MIP and granulometry,
M-factors and a hierarchical DFN cell model. See ``ARCHITECTURE`` in the docs for the map.
"""

from microstructure.volume import PORE_PHASES, SOLID_PHASES, Phase, Volume

__version__ = "0.1.0"
__all__ = ["Phase", "Volume", "PORE_PHASES", "SOLID_PHASES", "__version__"]
