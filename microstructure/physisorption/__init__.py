"""Gas physisorption (N2 at 77 K): isotherms from instrument files, BET, t-plot, BJH, hysteresis.

Public API::

    read_isotherm(path, *, manufacturer=None, fmt=None) -> Isotherm
    bet(isotherm, *, p_over_p0_range=None) -> BetResult
    tplot(isotherm, *, thickness="harkins-jura", p_over_p0_range=None) -> TplotResult
    bjh(isotherm, *, branch="desorption", thickness="harkins-jura") -> BjhResult
    hysteresis(isotherm) -> HysteresisResult

and plotting helpers drawing into a given Axes (:mod:`microstructure.physisorption.plotting`).

References
----------
.. [1] Thommes M. et al. (2015), Pure Appl. Chem. 87, 1051-1069, doi:10.1515/pac-2014-1117.
.. [2] Beuse T. et al. (2021), Batteries 7, 70, doi:10.3390/batteries7040070 (N2 physisorption
   of NMC622 electrodes: BET in p/p0 0.05-0.15, t-plot, BJH of the desorption branch, H3).
"""

from microstructure.physisorption.bet import BetResult, bet
from microstructure.physisorption.bjh import BjhResult, bjh
from microstructure.physisorption.hysteresis import HysteresisResult, hysteresis
from microstructure.physisorption.isotherm import Isotherm
from microstructure.physisorption.plotting import (
    bet_axes,
    bjh_axes,
    isotherm_axes,
    tplot_axes,
)
from microstructure.physisorption.reading import read_isotherm
from microstructure.physisorption.thickness import kelvin_radius_nm, thickness_nm
from microstructure.physisorption.tplot import TplotResult, tplot

__all__ = [
    "Isotherm",
    "read_isotherm",
    "bet",
    "BetResult",
    "tplot",
    "TplotResult",
    "bjh",
    "BjhResult",
    "hysteresis",
    "HysteresisResult",
    "thickness_nm",
    "kelvin_radius_nm",
    "isotherm_axes",
    "bet_axes",
    "tplot_axes",
    "bjh_axes",
]
