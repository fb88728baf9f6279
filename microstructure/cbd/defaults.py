"""Defaults of the CBD model, stated once (the stages and the CLI read them from here).

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. https://doi.org/10.3390/batteries7040070
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_CBD_POROSITY",
    "DEFAULT_CONTACT_ANGLE_DEG",
    "DEFAULT_NANOPORE_MEAN_NM",
    "DEFAULT_NANOPORE_STD_NM",
]

#: Porosity of the CBD envelope (volume fraction of its nanopores, 0..1), from [1]_.
DEFAULT_CBD_POROSITY = 0.502
#: Contact angle between CBD and active material in degrees, as in [1]_.
DEFAULT_CONTACT_ANGLE_DEG = 40.0
#: Mean and standard deviation (nm) of the Gaussian of CBD nanopore (cylinder) diameters.
DEFAULT_NANOPORE_MEAN_NM = 100.0
DEFAULT_NANOPORE_STD_NM = 30.0
