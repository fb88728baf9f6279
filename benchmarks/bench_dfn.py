"""Benchmark: hierarchical DFN (ours, on PyBaMM) vs PyBaMM's standard DFN half cell.

One 1C discharge of seed 003 Cal-2 (combined transport), measured in one process:

* first solve = build + mesh + discretise + solve (what a CLI call pays),
* re-solve = the same discretised model solved again with a new C-rate (input parameter),
  median of 5.

The anchor is PyBaMM's ``lithium_ion.DFN`` half cell (``working electrode: positive``) with
the collapsed parameters and the same x / r meshes (the model ours must reduce to), and with
PyBaMM's default mesh. Run: ``python benchmarks/bench_dfn.py``. The machine has 2 cores and
other jobs may run at the same time: compare the ratios, not the absolute times.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import pybamm

from microstructure.transport.dfn import MeshSettings, cell_parameters
from microstructure.transport.dfn import _pybamm_model as pm
from microstructure.transport.dfn.simulate import DEFAULT_MESH

PRESET = "cal-2"
REPEATS = 5


def _ours(mesh: MeshSettings, rtol: float) -> tuple[float, float, int, float]:
    p = cell_parameters(PRESET)
    i1 = p.one_c_current_density_a_per_m2
    m = p.m_combined
    t0 = time.perf_counter()
    d = pm.discretise(p, mesh)
    s = pm.make_solver(rtol=rtol, atol=rtol * 1e-2)
    sol = pm.solve(d, s, current_density_a_per_m2=i1, m_electrode=m, t_end_s=4000.0)
    first = time.perf_counter() - t0
    q = float(sol["Discharge capacity [A.h.m-2]"].entries[-1])
    times = []
    for k in range(REPEATS):
        t0 = time.perf_counter()
        pm.solve(d, s, current_density_a_per_m2=i1 * (1.0 + 0.01 * (k + 1)), m_electrode=m,
                 t_end_s=4000.0)
        times.append(time.perf_counter() - t0)
    return first, statistics.median(times), d.n_states, q


def _pybamm_dfn(var_pts: dict[str, int] | None, rtol: float) -> tuple[float, float, int, float]:
    p = cell_parameters(PRESET)
    i1 = p.one_c_current_density_a_per_m2
    t0 = time.perf_counter()
    model, param, vp = pm.reference_dfn(p, DEFAULT_MESH, m_electrode=p.m_combined)
    solver = pybamm.IDAKLUSolver(rtol=rtol, atol=rtol * 1e-2)
    sim = pybamm.Simulation(model, parameter_values=param,
                            var_pts=vp if var_pts is None else var_pts, solver=solver)
    t_interp = np.linspace(0.0, 4000.0, 200)
    sol = sim.solve([0.0, 4000.0], inputs={"Current function [A]": i1}, t_interp=t_interp)
    first = time.perf_counter() - t0
    q = float(sol["Discharge capacity [A.h]"].entries[-1])
    n = int(sim.built_model.concatenated_initial_conditions.shape[0])
    times = []
    for k in range(REPEATS):
        t0 = time.perf_counter()
        sim.solve([0.0, 4000.0], inputs={"Current function [A]": i1 * (1.0 + 0.01 * (k + 1))},
                  t_interp=t_interp)
        times.append(time.perf_counter() - t0)
    return first, statistics.median(times), n, q


def main() -> None:
    print(f"PyBaMM {pybamm.__version__}; seed 003 {PRESET}, 1C, combined transport; "
          "2-core VM, other jobs may be running")
    rows = []
    coarse = MeshSettings(4, 8, 4, 6)
    default_pts = pybamm.lithium_ion.DFN({"working electrode": "positive"}).default_var_pts
    for rtol in (1e-6, 1e-5, 1e-4):
        ref = _pybamm_dfn(None, rtol)
        ref_default = _pybamm_dfn(
            {k: v for k, v in default_pts.items() if k in ("x_n", "x_s", "x_p", "r_p")}, rtol)
        for label, mesh in (("default", DEFAULT_MESH), ("coarse", coarse)):
            ours = _ours(mesh, rtol)
            rows.append((f"ours {label} {tuple(vars(mesh).values())}", rtol, *ours, ref))
        rows.append(("PyBaMM DFN, same x/r mesh", rtol, *ref, ref))
        rows.append(("PyBaMM DFN, default mesh", rtol, *ref_default, ref))
    print("\n| model | rtol | states | first solve [s] | re-solve [ms] | capacity [Ah/m2] | "
          "first / PyBaMM | re-solve / PyBaMM |")
    print("|---|---|---|---|---|---|---|---|")
    for label, rtol, first, resolve, n, q, ref in rows:
        print(f"| {label} | {rtol:g} | {n} | {first:.2f} | {1e3 * resolve:.0f} | {q:.4f} | "
              f"{first / ref[0]:.2f} | {resolve / ref[1]:.2f} |")


if __name__ == "__main__":
    main()
