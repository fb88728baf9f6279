"""Plot helpers draw into a given Axes with units on the axes; the overview has four panels."""

from __future__ import annotations

import numpy as np
from sorption_models import bet_isotherm, cylinder_isotherm, lognormal_pores

from microstructure.physisorption import Isotherm, bet, bjh, hysteresis, tplot
from microstructure.physisorption.plotting import physisorption_figure
from microstructure.plot import new_figure, save_figure


def test_overview_figure(tmp_path):
    radii, vols = lognormal_pores(10.0, 0.2, 0.3, n=3000)
    xa = np.concatenate([np.geomspace(0.01, 0.3, 12), np.linspace(0.32, 0.99, 60)])
    xd = np.linspace(0.985, 0.3, 60)
    na = cylinder_isotherm(
        xa, radii_nm=radii, volumes_cm3_per_g=vols, desorption=False, external_area_m2_per_g=20.0
    ) + bet_isotherm(xa, 3.0, 90.0)
    nd = cylinder_isotherm(
        xd, radii_nm=radii, volumes_cm3_per_g=vols, desorption=True, external_area_m2_per_g=20.0
    ) + bet_isotherm(xd, 3.0, 90.0)
    b = ["adsorption"] * xa.size + ["desorption"] * xd.size
    iso = Isotherm.from_arrays(np.concatenate([xa, xd]), np.concatenate([na, nd]), branch=b)
    fig = physisorption_figure(
        iso, bet_result=bet(iso), tplot_result=tplot(iso), bjh_result=bjh(iso), loop=hysteresis(iso)
    )
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) >= 4
    for ax in axes:  # units on every axis (the twin axis of the BJH panel shares x)
        assert "(" in ax.get_ylabel()
    for ax in axes[:4]:
        assert "(" in ax.get_xlabel()
    out = save_figure(fig, tmp_path / "overview.png")
    assert out.stat().st_size > 5000
    fig2 = new_figure()
    ax = fig2.add_subplot(1, 1, 1)
    from microstructure.physisorption import bjh_axes

    assert bjh_axes(bjh(iso), ax, cumulative=False) is ax
    assert ax.get_xscale() == "log"
