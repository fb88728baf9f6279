"""Hierarchical DFN half cell (seed 003): limits, conservation, seed behaviour, bad input.

Coarse meshes keep this file fast; docs/validation_dfn.md has the converged numbers.
"""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

pytest.importorskip("pybamm")

from dfn_helpers import COARSE, max_dv_mv  # noqa: E402

from microstructure.transport.dfn import (  # noqa: E402
    MeshSettings,
    cell_parameters,
    simulate_discharge,
)
from microstructure.transport.dfn import _pybamm_model as pm  # noqa: E402

pytestmark = pytest.mark.usefixtures("private_dfn_cache")


def _compare_with_pybamm(p, c_rates, mesh, m_el):
    """Max |dV| (mV, 2-90 % of capacity) and capacities, ours vs PyBaMM's DFN, per C-rate."""
    import pybamm

    d = pm.discretise(p, mesh, check_model=True)  # PyBaMM's well-posedness checks
    solver = pm.make_solver()
    model, param, var_pts = pm.reference_dfn(p, mesh, m_electrode=m_el)
    sim = pybamm.Simulation(model, parameter_values=param, var_pts=var_pts, solver=pm.make_solver())
    out = []
    for c_rate in c_rates:
        i_app = c_rate * p.one_c_current_density_a_per_m2
        t_end = 1.2 * 3600.0 / c_rate
        a = pm.solve(
            d, solver, current_density_a_per_m2=i_app, m_electrode=m_el, t_end_s=t_end, n_out=400
        )
        b = sim.solve(
            [0.0, t_end],
            inputs={"Current function [A]": i_app},
            t_interp=np.linspace(0.0, t_end, 400),
        )
        qa = a["Discharge capacity [A.h.m-2]"].entries
        qb = b["Discharge capacity [A.h]"].entries  # 1 m2 electrode in the reference
        dv = max_dv_mv(qa, a["Voltage [V]"].entries, qb, b["Voltage [V]"].entries)
        out.append((dv, qa[-1], qb[-1]))
    return out


def test_fast_intragranular_transport_equals_pybamm_dfn():
    # M_II -> infinity and phi_s^II = phi_s: PyBaMM's DFN half cell with storage porosity
    # eps_inter + eps_s eps_II, active fraction eps_s (1 - eps_II), radius r_p; 1C and 5C.
    p = cell_parameters(
        "cal-2", m_intragranular=1e3, limit_check=True, intragranular_conductivity_s_per_m=None
    )
    for dv, qa, qb in _compare_with_pybamm(p, (1.0, 5.0), COARSE, p.m_combined):
        assert dv < 2.0
        assert abs(qa - qb) / qb < 2e-3


def test_slow_intragranular_transport_departs_from_collapsed_dfn():
    # the comparison above can fail: with M_II = 1e-4 the particle cores starve at 5C
    # (with the seed's M_II ~0.29 and R_s = 5 um the difference is only ~0.02 mV)
    p = cell_parameters("cal-2", m_intragranular=1e-4, intragranular_conductivity_s_per_m=None)
    ((dv, _, _),) = _compare_with_pybamm(p, (5.0,), COARSE, p.m_combined)
    assert dv > 5.0


def test_dense_particle_limit_equals_pybamm_dfn():
    # eps_II -> 0 and r_p = R_s (fast intragranular transport): the dense-particle DFN
    p = cell_parameters(
        "cal-1",
        intragranular_porosity=1e-5,
        m_intragranular=1e3,
        limit_check=True,
        primary_radius_um=5.0,
        intragranular_conductivity_s_per_m=None,
    )
    assert p.nmc_fraction == pytest.approx(p.particle_fraction, rel=1e-4)
    assert p.storage_porosity == pytest.approx(p.intergranular_porosity, rel=1e-3)
    ((dv, qa, qb),) = _compare_with_pybamm(p, (1.0,), COARSE, p.m_inter)
    assert dv < 2.0
    assert abs(qa - qb) / qb < 2e-3


def test_salt_and_lithium_conserved_through_depletion():
    # Cal-3 2C intergranular: the salt runs out near the current collector
    r = simulate_discharge("naumann-cal-3", c_rate=2.0, transport="intergranular", mesh=COARSE)
    assert r.salt_conservation_rel < 1e-4
    assert r.lithium_balance_rel < 1e-4
    assert r.min_salt_mol_per_m3 < 50.0


def test_default_mesh_refines_only_when_the_salt_depletes(monkeypatch):
    # mesh=None: first pass on DEFAULT_MESH, a second on DEPLETION_MESH only when the
    # intergranular salt falls below DEPLETION_FRACTION of its initial value (small meshes
    # stand in for both here to keep the test fast)
    from microstructure.transport.dfn import simulate as sim

    fine = MeshSettings(n_separator=4, n_electrode=10, n_secondary=4, n_primary=3)
    monkeypatch.setattr(sim, "DEFAULT_MESH", COARSE)
    monkeypatch.setattr(sim, "DEPLETION_MESH", fine)
    dep = simulate_discharge("cal-3", c_rate=2.0, transport="intergranular")
    assert dep.refined_for_depletion and dep.mesh is fine
    assert dep.min_salt_mol_per_m3 < sim.DEPLETION_FRACTION * 1000.0
    assert len(dep.x_um) == fine.n_separator + fine.n_electrode
    assert dep.to_json_dict()["mesh"] == list(fine.counts)
    ok = simulate_discharge("cal-2", c_rate=1.0, transport="combined")
    assert not ok.refined_for_depletion and ok.mesh is COARSE
    assert ok.min_salt_mol_per_m3 > sim.DEPLETION_FRACTION * 1000.0
    # above HIGH_RATE_C the reaction front inside the secondary particles needs more R cells
    assert sim.default_mesh(10.0, depleting=False).n_secondary > COARSE.n_secondary
    assert sim.default_mesh(10.0, depleting=True).n_electrode >= fine.n_electrode
    # an explicit mesh is used as given, even through depletion
    exp = simulate_discharge("cal-3", c_rate=2.0, transport="intergranular", mesh=COARSE)
    assert not exp.refined_for_depletion and exp.mesh is COARSE


def test_stretched_edges_are_exact_and_clustered():
    e = pm.clustered_edges(25e-6, 77e-6, 8, 2.0)
    assert e[0] == 25e-6 and e[-1] == 77e-6
    w = np.diff(e)
    assert np.all(w > 0) and np.all(np.diff(w) < 0)  # cells shrink towards the right end
    assert w[0] / w[-1] == pytest.approx(math.exp(2.0 * 7 / 8), rel=1e-9)
    assert np.allclose(pm.clustered_edges(0.0, 1.0, 4, 0.0), [0, 0.25, 0.5, 0.75, 1.0])


def test_seed003_cal1_10c_same_for_both_modes():
    a = simulate_discharge("cal-1", c_rate=10.0, transport="combined", mesh=COARSE)
    b = simulate_discharge("cal-1", c_rate=10.0, transport="intergranular", mesh=COARSE)
    assert a.parameters.m_particles == 0.0  # no percolating particle network above 0.245
    assert a.energy_density_wh_per_kg == pytest.approx(b.energy_density_wh_per_kg, rel=1e-6)


@pytest.fixture(scope="module")
def cal3_2c():
    a = simulate_discharge("cal-3", c_rate=2.0, transport="combined", mesh=COARSE)
    b = simulate_discharge("cal-3", c_rate=2.0, transport="intergranular", mesh=COARSE)
    return a, b


def test_seed003_cal3_2c_intergranular_depletes_and_loses_energy(cal3_2c):
    a, b = cal3_2c
    # salt at the current collector at the end: depleted only for intergranular transport
    assert b.salt_end_mol_per_m3[-1] < 0.05 * a.salt_end_mol_per_m3[-1]
    assert a.salt_end_mol_per_m3[-1] > 800.0
    assert b.energy_density_wh_per_kg < 0.85 * a.energy_density_wh_per_kg
    # the ratio is decided by the M_inter law: a larger fixed M_inter shrinks it
    c = simulate_discharge(
        "cal-3",
        c_rate=2.0,
        transport="intergranular",
        mesh=COARSE,
        m_inter_law="fixed",
        m_inter=0.0125,
    )
    ratio_brug = a.energy_density_wh_per_kg / b.energy_density_wh_per_kg
    d = simulate_discharge(
        "cal-3", c_rate=2.0, transport="combined", mesh=COARSE, m_inter_law="fixed", m_inter=0.0125
    )
    ratio_fixed = d.energy_density_wh_per_kg / c.energy_density_wh_per_kg
    assert ratio_fixed < ratio_brug
    assert 1.0 < ratio_fixed < 1.5


def test_result_exports(tmp_path):
    r = simulate_discharge("cal-2", c_rate=1.0, transport="combined", mesh=COARSE, area_cm2=2.0)
    # energy = integral V dQ; capacity is per 2 cm2
    e_wh = np.trapezoid(r.voltage_v, r.discharged_mah) * 1e-3
    coating_kg = r.parameters.coating_mass_kg_per_m2 * 2e-4
    assert r.energy_density_wh_per_kg == pytest.approx(e_wh / coating_kg, rel=1e-9)
    assert r.capacity_mah == pytest.approx(r.discharged_mah[-1])
    # 1C from 160 mAh/g: a 1C discharge delivers roughly that
    assert 140.0 < r.specific_capacity_mah_per_g < 175.0
    assert r.voltage_v[-1] == pytest.approx(r.parameters.lower_cutoff_v, abs=1e-3)
    out = tmp_path / "dfn.csv"
    r.to_csv(out)
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["time_s", "capacity_mah", "specific_capacity_mah_per_g", "voltage_v"]
    assert len(rows) == len(r.time_s) + 1
    assert float(rows[-1][3]) == pytest.approx(r.voltage_v[-1], rel=1e-6)
    d = r.to_json_dict()
    json.dumps(d)
    assert all(not isinstance(v, float) or math.isfinite(v) for v in d.values())
    assert d["energy_density_wh_per_kg"] == r.energy_density_wh_per_kg
    prof = tmp_path / "salt.csv"
    r.salt_profile_to_csv(prof)
    assert len(list(csv.reader(prof.open()))) == len(r.x_um) + 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"c_rate": 0.0}, "c_rate"),
        ({"c_rate": -1.0}, "c_rate"),
        ({"c_rate": float("nan")}, "c_rate"),
        ({"transport": "bulk"}, "transport"),
        ({"preset": "cal-9"}, "preset"),
        ({"m_inter_law": "fixed", "m_inter": 0.0}, "m_inter"),
        ({"m_inter_law": "fixed", "m_inter": 1.5}, "m_inter"),
        ({"m_intragranular": 1.2}, "m_intragranular"),
        ({"m_intragranular": -0.1}, "m_intragranular"),
        ({"particle_fraction": 0.95}, "sum"),
        ({"intergranular_porosity": 1.2}, "intergranular_porosity"),
        ({"mesh": (4, 8, 4, 6)}, "mesh"),
        ({"n_points": 1}, "n_points"),
        ({"rtol": 0.5}, "rtol"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"preset": "cal-1", "c_rate": 1.0, "transport": "combined", "mesh": COARSE}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        simulate_discharge(args.pop("preset"), **args)


def test_discharge_figure(tmp_path, cal3_2c):
    from microstructure.transport.dfn.figure import plot_discharge

    out = plot_discharge(list(cal3_2c), tmp_path / "dfn.png", title="Cal-3 2C")
    data = (tmp_path / "dfn.png").read_bytes()
    assert out.endswith("dfn.png") and data[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="results"):
        plot_discharge([], tmp_path / "empty.png")


def test_preset_parameters_carry_table1_and_sources():
    p = cell_parameters("naumann-cal-3")
    assert p.thickness_um == 52.0
    assert p.electrode_conductivity_s_per_m == pytest.approx(1.0 / 4.0)
    assert p.contact_resistance_ohm_m2 == 0.0008
    assert p.storage_porosity == pytest.approx(0.401, abs=2e-3)  # Table 1 total porosity
    assert p.nmc_fraction == pytest.approx(0.465, abs=2e-3)
    assert p.m_inter == pytest.approx(0.032**1.5)
    assert p.m_combined > 30 * p.m_inter
    src = p.sources()
    assert src["solid_diffusivity_exponent_a"]["value"] == 14.4
    assert "assumed" in src["secondary_radius_um"]["source"]


def test_c_rate_too_high_for_the_cutoff_is_a_clear_error():
    # uncalendered at 10C: R_cont 0.006 Ohm m2 x 185 A/m2 = 1.1 V drop, below 3.0 V at t = 0
    with pytest.raises(ValueError, match="c_rate: .*cut-off"):
        simulate_discharge("naumann-uncalendered", c_rate=10.0, transport="combined", mesh=COARSE)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_electrode": 2},
        {"n_primary": 4.5},
        {"secondary_stretch": -1.0},
        {"electrode_stretch": 11.0},
        {"primary_stretch": float("nan")},
    ],
)
def test_bad_mesh(kwargs):
    with pytest.raises(ValueError, match="mesh"):
        MeshSettings(**kwargs)
