"""HierarchicalDFN with PyBaMM experiments: discharge, rest, charge, voltage hold, power.

Explicit (current) steps set ``"Current function [A]"``; implicit ones (voltage hold, power)
add PyBaMM's external-circuit control, which makes the current an unknown.
"""

from __future__ import annotations

import numpy as np
import pytest

pybamm = pytest.importorskip("pybamm")

from microstructure.transport.dfn import HierarchicalDFN, parameter_values  # noqa: E402


def test_cycle_experiment_discharge_rest_charge():
    values = parameter_values("cal-2")
    experiment = pybamm.Experiment(
        [
            (
                "Discharge at 1C until 3.5 V",
                "Discharge at 2C until 3.0 V",
                "Rest for 10 minutes",
                "Charge at 1C until 4.2 V",
            )
        ]
    )
    sim = pybamm.Simulation(HierarchicalDFN(), parameter_values=values, experiment=experiment)
    sol = sim.solve()
    steps = sol.cycles[0].steps
    assert len(steps) == 4
    v = [s["Voltage [V]"].entries for s in steps]
    q = [s["Discharge capacity [A.h]"].entries for s in steps]
    assert v[0][-1] == pytest.approx(3.5, abs=2e-3)
    assert v[1][-1] == pytest.approx(3.0, abs=2e-3)
    assert np.all(np.diff(v[2]) > -1e-6) and v[2][-1] > 3.2  # relaxes towards the OCV
    assert np.ptp(q[2]) < 1e-12  # no current while resting
    assert v[3][-1] == pytest.approx(4.2, abs=2e-3)
    assert q[3][-1] < q[3][0]  # charging removes the discharged capacity
    # charge passed is what the solid lithium shows (1 cm2)
    li = sol["Total lithium in positive electrode [mol]"].entries
    q_all = sol["Discharge capacity [A.h]"].entries
    f = 96485.33212
    assert (li[-1] - li[0]) * f / 3600.0 == pytest.approx(q_all[-1] - q_all[0], rel=1e-3)


def test_voltage_hold_and_power_steps():
    # implicit steps: PyBaMM's external-circuit control makes the current an unknown
    values = parameter_values("cal-2")
    one_c = values["Nominal cell capacity [A.h]"]
    experiment = pybamm.Experiment(
        [
            (
                "Discharge at 1C until 3.0 V",
                "Charge at 1C until 4.2 V",
                "Hold at 4.2 V until C/20",
                "Discharge at 5 mW until 3.5 V",
            )
        ]
    )
    sol = pybamm.Simulation(HierarchicalDFN(), parameter_values=values, experiment=experiment)
    steps = sol.solve().cycles[0].steps
    hold, power = steps[2], steps[3]
    assert np.allclose(hold["Voltage [V]"].entries, 4.2, atol=1e-6)
    i_hold = hold["Current [A]"].entries
    assert i_hold[-1] == pytest.approx(-one_c / 20.0, rel=1e-3)
    assert np.all(np.diff(i_hold) > 0)  # the charging current decays
    p = power["Voltage [V]"].entries * power["Current [A]"].entries
    assert np.allclose(p, 5e-3, rtol=1e-6)
    assert power["Voltage [V]"].entries[-1] == pytest.approx(3.5, abs=2e-3)
