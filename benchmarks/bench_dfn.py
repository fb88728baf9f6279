"""Benchmark: hierarchical DFN (ours, on PyBaMM) vs PyBaMM's standard DFN half cell.

One 1C discharge of seed 003 Cal-2 (combined transport), measured in one process:

* first solve = build + mesh + discretise + solver set-up + solve (what a CLI call pays),
  median of ``--repeats`` fresh builds after one warm-up build of each model (so the one-off
  import and CasADi/IDAKLU initialisation cost is not charged to whichever model runs first),
* re-solve = the same discretised model solved again with a new C-rate (input parameter),
  median of ``--repeats``.

The anchor (ratio 1.00) is PyBaMM's ``lithium_ion.DFN`` half cell (``working electrode:
positive``) with the collapsed parameters (the model ours reduces to) on PyBaMM's default
mesh; a second row runs it on our default x / r mesh. Rows for our depletion mesh and for
the previous default mesh (6, 32, 10, 6) show what those cost. ``simulate_discharge`` adds
its post-processing (curves, salt and lithium balances) on top of the first solve.

Run: ``python benchmarks/bench_dfn.py [--rtol 1e-5 1e-4] [--repeats 5]``. The machine has 2
cores and other jobs may run at the same time: the load average is printed with the table;
compare the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import pybamm

from microstructure.transport.dfn import MeshSettings, cell_parameters, clear_cache
from microstructure.transport.dfn import _pybamm_model as pm
from microstructure.transport.dfn.simulate import (
    DEFAULT_MESH,
    DEPLETION_MESH,
    simulate_discharge,
)

PRESET = "cal-2"
T_END_S = 4000.0


def _ours(mesh: MeshSettings, rtol: float, repeats: int) -> tuple[float, float, int, float]:
    p = cell_parameters(PRESET)
    i1 = p.one_c_current_density_a_per_m2
    m = p.m_combined
    firsts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        d = pm.discretise(p, mesh)
        s = pm.make_solver(rtol=rtol, atol=rtol * 1e-2)
        sol = pm.solve(d, s, current_density_a_per_m2=i1, m_electrode=m, t_end_s=T_END_S)
        firsts.append(time.perf_counter() - t0)
    q = float(sol["Discharge capacity [A.h.m-2]"].entries[-1])
    times = []
    for k in range(repeats):
        t0 = time.perf_counter()
        pm.solve(d, s, current_density_a_per_m2=i1 * (1.0 + 0.01 * (k + 1)), m_electrode=m,
                 t_end_s=T_END_S)
        times.append(time.perf_counter() - t0)
    return statistics.median(firsts), statistics.median(times), d.n_states, q


def _public_api(rtol: float, repeats: int) -> tuple[float, float, int, float]:
    firsts, times = [], []
    for _ in range(repeats):
        clear_cache()
        t0 = time.perf_counter()
        r = simulate_discharge(PRESET, c_rate=1.0, transport="combined", rtol=rtol)
        firsts.append(time.perf_counter() - t0)
    for k in range(repeats):
        t0 = time.perf_counter()
        simulate_discharge(PRESET, c_rate=1.0 + 0.01 * (k + 1), transport="combined",
                           rtol=rtol)
        times.append(time.perf_counter() - t0)
    assert not r.refined_for_depletion
    return statistics.median(firsts), statistics.median(times), r.n_states, \
        r.capacity_mah * 10.0


def _pybamm_dfn(var_pts: dict[str, int] | None, rtol: float,
                repeats: int) -> tuple[float, float, int, float]:
    p = cell_parameters(PRESET)
    i1 = p.one_c_current_density_a_per_m2
    t_interp = np.linspace(0.0, T_END_S, 200)
    firsts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model, param, vp = pm.reference_dfn(p, DEFAULT_MESH, m_electrode=p.m_combined)
        solver = pybamm.IDAKLUSolver(rtol=rtol, atol=rtol * 1e-2)
        sim = pybamm.Simulation(model, parameter_values=param,
                                var_pts=vp if var_pts is None else var_pts, solver=solver)
        sol = sim.solve([0.0, T_END_S], inputs={"Current function [A]": i1},
                        t_interp=t_interp)
        firsts.append(time.perf_counter() - t0)
    q = float(sol["Discharge capacity [A.h]"].entries[-1])
    n = int(sim.built_model.concatenated_initial_conditions.shape[0])
    times = []
    for k in range(repeats):
        t0 = time.perf_counter()
        sim.solve([0.0, T_END_S], inputs={"Current function [A]": i1 * (1.0 + 0.01 * (k + 1))},
                  t_interp=t_interp)
        times.append(time.perf_counter() - t0)
    return statistics.median(firsts), statistics.median(times), n, q


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rtol", type=float, nargs="+", default=[1e-5])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-slow", action="store_true",
                    help="leave out the depletion mesh and the previous default mesh")
    args = ap.parse_args()
    load0 = os.getloadavg()
    print(f"PyBaMM {pybamm.__version__}; seed 003 {PRESET}, 1C, combined transport; "
          f"2-core VM, other jobs may be running; load average at start {load0[0]:.1f}")
    default_pts = pybamm.lithium_ion.DFN({"working electrode": "positive"}).default_var_pts
    pybamm_pts = {k: v for k, v in default_pts.items() if k in ("x_n", "x_s", "x_p", "r_p")}
    # warm-up: imports, CasADi / IDAKLU initialisation
    _ours(DEFAULT_MESH, 1e-5, 1)
    _pybamm_dfn(None, 1e-5, 1)
    meshes = [("default", DEFAULT_MESH)]
    if not args.skip_slow:
        meshes += [("depletion", DEPLETION_MESH),
                   ("previous default", MeshSettings(6, 32, 10, 6))]
    rows = []
    for rtol in args.rtol:
        ref = _pybamm_dfn(pybamm_pts, rtol, args.repeats)
        rows.append(("PyBaMM DFN half cell, PyBaMM's default mesh (anchor)", rtol, *ref, ref))
        rows.append(("PyBaMM DFN half cell, our default x/r mesh", rtol,
                     *_pybamm_dfn(None, rtol, args.repeats), ref))
        for label, mesh in meshes:
            rows.append((f"ours, {label} mesh {mesh.counts}"
                         + (f" R stretch {mesh.secondary_stretch:g}"
                            if mesh.secondary_stretch else ""),
                         rtol, *_ours(mesh, rtol, args.repeats), ref))
        rows.append(("ours, `simulate_discharge` (public API, default)", rtol,
                     *_public_api(rtol, args.repeats), ref))
    load1 = os.getloadavg()
    print("\n| model | rtol | states | first solve [s] | re-solve [ms] | capacity [Ah/m2] | "
          "first / PyBaMM | re-solve / PyBaMM |")
    print("|---|---|---|---|---|---|---|---|")
    for label, rtol, first, resolve, n, q, ref in rows:
        print(f"| {label} | {rtol:g} | {n} | {first:.2f} | {1e3 * resolve:.0f} | {q:.4f} | "
              f"{first / ref[0]:.2f} | {resolve / ref[1]:.2f} |")
    print(f"\nload average (1 min) at start {load0[0]:.1f}, at end {load1[0]:.1f}")


if __name__ == "__main__":
    main()
