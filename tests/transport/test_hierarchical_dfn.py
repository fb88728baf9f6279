"""HierarchicalDFN as a PyBaMM model: Simulation, Experiment, QuickPlot, ParameterValues.

The same equations as ``simulate_discharge`` (which discretises this model), so a
``pybamm.Simulation`` of a preset must give the compiled path's numbers; PyBaMM's own
machinery (experiments with charge and rest, parameter updates, plots) must work on it.
"""

from __future__ import annotations

import numpy as np
import pytest

pybamm = pytest.importorskip("pybamm")

from microstructure.transport.dfn import (  # noqa: E402
    DEFAULT_MESH,
    HierarchicalDFN,
    cell_parameters,
    energy_density_wh_per_kg,
    parameter_values,
    simulate_discharge,
)
from microstructure.transport.dfn.model import MODEL_OPTIONS, NAUMANN2024_BIBTEX  # noqa: E402

pytestmark = pytest.mark.usefixtures("private_dfn_cache")


def _discharge(values, c_rate=2.0, options=None):
    sim = pybamm.Simulation(
        HierarchicalDFN(options),
        parameter_values=values,
        experiment=pybamm.Experiment([f"Discharge at {c_rate:g}C until 3.0 V"]),
    )
    return sim.solve()


@pytest.fixture(scope="module")
def cal3_2c():
    return _discharge(parameter_values("cal-3"))


def test_simulation_with_experiment_equals_simulate_discharge(cal3_2c):
    # the example: Cal-3, 2C, combined transport (default options) on the default
    # mesh; simulate_discharge runs the same model through its compiled path
    sol = cal3_2c
    ref = simulate_discharge("cal-3", c_rate=2.0, transport="combined")
    assert ref.mesh == DEFAULT_MESH and not ref.refined_for_depletion
    e = energy_density_wh_per_kg(sol)
    assert e == pytest.approx(ref.energy_density_wh_per_kg, rel=5e-3)
    # 1 cm2 electrode: Discharge capacity [A.h] x 1000 = mAh of simulate_discharge
    q = sol["Discharge capacity [A.h]"].entries
    assert 1e3 * q[-1] == pytest.approx(ref.capacity_mah, rel=5e-3)
    assert sol["Voltage [V]"].entries[-1] == pytest.approx(3.0, abs=1e-3)
    c_e = sol["Electrolyte concentration [mol.m-3]"].entries
    assert c_e.shape[0] == DEFAULT_MESH.n_separator + DEFAULT_MESH.n_electrode
    c_ii = sol["Intragranular electrolyte concentration [mol.m-3]"].entries
    assert c_ii.shape[:2] == (DEFAULT_MESH.n_secondary, DEFAULT_MESH.n_electrode)
    # salt is conserved through the experiment (intergranular + intragranular)
    salt = sol["Total salt [mol.m-2]"].entries
    assert np.max(np.abs(salt - salt[0])) / salt[0] < 1e-4
    # current follows the nominal capacity: 2C of 160 mAh/g NMC for 1 cm2
    p = cell_parameters("cal-3")
    i_2c = 2.0 * p.one_c_current_density_a_per_m2 * 1e-4
    assert np.allclose(sol["Current [A]"].entries, i_2c, rtol=1e-9)


def test_quickplot_renders(cal3_2c, tmp_path):
    # MPLBACKEND=Agg (the test run's environment); QuickPlot draws with pyplot
    qp = pybamm.QuickPlot(cal3_2c)
    qp.plot(0.5 * cal3_2c.t[-1])
    out = tmp_path / "quickplot.png"
    qp.fig.savefig(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(qp.fig.axes) >= len(HierarchicalDFN().default_quick_plot_variables)


def test_parameter_update_changes_result_in_expected_direction(cal3_2c):
    base_v = cal3_2c["Voltage [V]"].entries
    base_q = cal3_2c["Discharge capacity [A.h]"].entries
    values = parameter_values("cal-3")
    r_cont = values["Contact resistance [Ohm.m2]"]
    values.update({"Contact resistance [Ohm.m2]": 0.25 * r_cont})
    low = _discharge(values)
    # at the same discharged capacity the voltage is higher by (R - R/4) i_app
    q = np.linspace(0.05, 0.9, 50) * base_q[-1]
    dv = np.interp(q, low["Discharge capacity [A.h]"].entries, low["Voltage [V]"].entries)
    dv -= np.interp(q, base_q, base_v)
    i_app = low["Current density [A.m-2]"].entries[0]
    assert np.allclose(dv, 0.75 * r_cont * i_app, rtol=0.05)
    assert low["Discharge capacity [A.h]"].entries[-1] > base_q[-1]
    # slower solid diffusion (larger a in eq. 9) lowers the 2C capacity
    slow = parameter_values("cal-3")
    slow.update({"Positive particle diffusivity exponent a": 15.4})
    assert _discharge(slow)["Discharge capacity [A.h]"].entries[-1] < 0.99 * base_q[-1]


def test_defaults_options_and_citations():
    m = HierarchicalDFN()
    assert isinstance(m, pybamm.BaseModel)
    assert m.options == {k: v[0] for k, v in MODEL_OPTIONS.items()}
    assert set(m.default_geometry) == {
        "separator",
        "positive electrode",
        "positive secondary particle",
        "positive primary particle",
    }
    assert sorted(v.name for v in m.default_var_pts) == ["R_sec", "r_p", "x_p", "x_s"]
    assert set(m.default_submesh_types) == set(m.default_geometry)
    assert set(m.default_spatial_methods) == set(m.default_geometry)
    assert isinstance(m.default_solver, pybamm.IDAKLUSolver)
    assert isinstance(m.default_parameter_values, pybamm.ParameterValues)
    cited = pybamm.citations._papers_to_cite | pybamm.citations._unknown_citations
    assert NAUMANN2024_BIBTEX in cited or "Naumann2024" in cited
    for name in ("Intragranular electrolyte concentration [mol.m-3]", "Discharge capacity [A.h]"):
        assert name in m.variables
    # picklable (Simulation.save, multiprocessing) with its options
    import pickle

    again = pickle.loads(pickle.dumps(HierarchicalDFN({"transport": "intergranular"})))
    assert again.options["transport"] == "intergranular" and set(again.rhs) and again.events
    with pytest.raises(ValueError, match="transport"):
        HierarchicalDFN({"transport": "bulk"})
    with pytest.raises(ValueError, match="unknown option"):
        HierarchicalDFN({"thermal": "lumped"})
    with pytest.raises(ValueError, match="area_cm2"):
        parameter_values("cal-3", area_cm2=0.0)
    with pytest.raises(ValueError, match="preset"):
        parameter_values("cal-9")


def test_m_factor_source_and_transport_options():
    # "image": M_inter is the given number; equal to the Bruggeman value it reproduces
    # "formula"; a larger number raises the intergranular 2C voltage of Cal-3
    values = parameter_values("cal-3")
    inter = {"transport": "intergranular"}
    formula = _discharge(values, options=inter)
    image = _discharge(values, options={**inter, "M-factor source": "image"})
    assert image["Discharge capacity [A.h]"].entries[-1] == pytest.approx(
        formula["Discharge capacity [A.h]"].entries[-1], rel=1e-6
    )
    bigger = values.copy()
    bigger.update({"Positive electrode intergranular M-factor": 0.02})
    more = _discharge(bigger, options={**inter, "M-factor source": "image"})
    assert (
        more["Discharge capacity [A.h]"].entries[-1]
        > 1.2 * formula["Discharge capacity [A.h]"].entries[-1]
    )
    # combined transport keeps more salt at the current collector than intergranular
    comb = _discharge(values)
    c_cc = comb["Electrolyte concentration [mol.m-3]"].entries[-1, -1]
    i_cc = formula["Electrolyte concentration [mol.m-3]"].entries[-1, -1]
    assert c_cc > 800.0 and i_cc < 0.5 * c_cc


def test_simulate_discharge_returns_the_pybamm_solution():
    r = simulate_discharge("cal-2", c_rate=1.0, transport="combined")
    sol = r.solution
    assert isinstance(sol, pybamm.Solution)
    assert np.allclose(sol["Voltage [V]"].entries, r.voltage_v, rtol=0, atol=1e-9)
    q = sol["Discharge capacity [A.h.m-2]"].entries * r.area_cm2 * 1e-4 * 1e3
    assert np.allclose(q, r.discharged_mah, rtol=1e-9)
    c_e = sol["Electrolyte concentration [mol.m-3]"].entries
    assert np.allclose(c_e[:, -1], r.salt_end_mol_per_m3, rtol=1e-9)
    assert sol is r.solution  # built once
    assert energy_density_wh_per_kg(sol) == pytest.approx(r.energy_density_wh_per_kg, rel=1e-9)
