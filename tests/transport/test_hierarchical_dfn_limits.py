"""HierarchicalDFN through pybamm.Simulation: the PyBaMM-DFN limit and the eq. 9 / sigma_II fit.

* Fast intragranular transport (``M_II = 1e3``, no intragranular electronic drop): the model
  reduces to PyBaMM's own DFN half cell with the collapsed parameters (storage porosity,
  active fraction, primary radius) - the check of test_dfn.py, now with both models run by
  ``pybamm.Simulation`` and an ``Experiment``.
* Fitting: ``a`` (eq. 9) and ``sigma_II`` recovered from curves simulated with known values
  (the seed's fit used Cal-1 at 1C and 7C).
"""

from __future__ import annotations

import numpy as np
import pytest

pybamm = pytest.importorskip("pybamm")

from dfn_helpers import COARSE, max_dv_mv  # noqa: E402

from microstructure.transport.dfn import (  # noqa: E402
    DEFAULT_MESH,
    HierarchicalDFN,
    MeasuredDischarge,
    cell_parameters,
    fit_discharge_curves,
    parameter_values,
    simulate_discharge,
)
from microstructure.transport.dfn import _pybamm_model as pm  # noqa: E402

pytestmark = pytest.mark.usefixtures("private_dfn_cache")


def _versus_pybamm_dfn(m_intragranular, c_rates):
    """Max |dV| [mV] and capacities per C-rate: HierarchicalDFN vs PyBaMM's DFN, both
    through pybamm.Simulation with an Experiment (Ah per m2 of electrode)."""
    p = cell_parameters(
        "cal-2",
        m_intragranular=m_intragranular,
        limit_check=True,
        intragranular_conductivity_s_per_m=None,
    )
    ours_values = parameter_values(p)
    ref_model, ref_values, ref_pts = pm.reference_dfn(p, COARSE, m_electrode=p.m_combined)
    ref_values.update({"Current function [A]": p.one_c_current_density_a_per_m2})
    out = []
    for c in c_rates:
        experiment = pybamm.Experiment([f"Discharge at {c:g}C until 3.0 V"])
        ours = pybamm.Simulation(
            HierarchicalDFN({"intragranular electronic conduction": "false"}),
            parameter_values=ours_values,
            var_pts=pm.var_pts(COARSE),
            solver=pm.make_solver(),
            experiment=experiment,
        ).solve()
        ref = pybamm.Simulation(
            ref_model,
            parameter_values=ref_values,
            var_pts=ref_pts,
            solver=pm.make_solver(),
            experiment=experiment,
        ).solve()
        qa = ours["Discharge capacity [A.h]"].entries / 1e-4  # 1 cm2 -> per m2
        qb = ref["Discharge capacity [A.h]"].entries  # 1 m2
        dv = max_dv_mv(qa, ours["Voltage [V]"].entries, qb, ref["Voltage [V]"].entries)
        out.append((dv, qa[-1], qb[-1]))
    return out


def test_fast_intragranular_limit_equals_pybamm_dfn_through_simulation():
    for dv, qa, qb in _versus_pybamm_dfn(1e3, (1.0, 5.0)):
        assert dv < 2.0
        assert abs(qa - qb) / qb < 2e-3


def test_slow_intragranular_transport_departs_through_simulation():
    # the comparison can fail: M_II = 1e-4 starves the particle cores at 5C
    ((dv, _, _),) = _versus_pybamm_dfn(1e-4, (5.0,))
    assert dv > 5.0


def _measured(c_rate, **true_values):
    r = simulate_discharge(
        "cal-1",
        c_rate=c_rate,
        transport="combined",
        mesh=DEFAULT_MESH,
        rtol=1e-6,
        **true_values,
    )
    nmc_g = r.parameters.nmc_mass_kg_per_m2 * 1e3 * r.area_cm2 * 1e-4
    return MeasuredDischarge(c_rate, r.discharged_mah / nmc_g, r.voltage_v)


def test_fit_recovers_a_and_sigma_from_cal1_1c_7c():
    # curves simulated with a = 14.0 and sigma_II = 1e-4 S/m (the seed: 14.4, 3e-5) through
    # simulate_discharge (the compiled path); the fit runs pybamm.Simulation from the
    # preset's values and must find them again
    truth = {"solid_diffusivity_exponent_a": 14.0, "intragranular_conductivity_s_per_m": 1e-4}
    curves = [_measured(c, **truth) for c in (1.0, 7.0)]
    fit = fit_discharge_curves(curves, "cal-1")
    assert fit.success
    assert fit.values["a"] == pytest.approx(14.0, abs=0.02)
    assert fit.values["sigma_II"] == pytest.approx(1e-4, rel=0.03)
    assert max(fit.rmse_mv) < 1.0
    assert fit.parameter_values["Positive particle diffusivity exponent a"] == fit.values["a"]
    # fitting a alone with sigma_II held at the wrong 3e-5 S/m cannot match the 7C curve
    only_a = fit_discharge_curves(curves, "cal-1", fit=("a",), max_evaluations=20)
    assert max(only_a.rmse_mv) > 5.0 * max(fit.rmse_mv)
    assert max(only_a.rmse_mv) > 2.0


def test_fit_bad_input():
    curve = MeasuredDischarge(1.0, np.array([0.0, 50.0, 100.0]), np.array([4.0, 3.8, 3.5]))
    with pytest.raises(ValueError, match="fit"):
        fit_discharge_curves([curve], fit=("k",))
    with pytest.raises(ValueError, match="curves"):
        fit_discharge_curves([])
    with pytest.raises(ValueError, match="outside the bounds"):
        fit_discharge_curves([curve], initial={"a": 30.0})
    with pytest.raises(ValueError, match="must not decrease"):
        MeasuredDischarge(1.0, np.array([0.0, 50.0, 40.0]), np.array([4.0, 3.8, 3.5]))
    with pytest.raises(ValueError, match="c_rate"):
        MeasuredDischarge(0.0, np.array([0.0, 50.0, 100.0]), np.array([4.0, 3.8, 3.5]))
