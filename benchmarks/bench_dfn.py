"""Benchmark: hierarchical DFN (ours, on PyBaMM) vs PyBaMM's standard DFN half cell.

One 1C discharge of Naumann et al. (2024) Cal-2 (combined transport), measured in one process:

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

``--cache [N]`` instead measures what a CLI call pays, each in a **new process** (N times):
``simulate_discharge`` with an empty on-disk model cache (*cold*) and with the cache filled
by an earlier process (*warm*), and PyBaMM's standard DFN half cell first solve (build +
mesh + discretise + set-up + solve) in the same process, once after ours and once before
ours (whichever runs first pays the one-off CasADi / IDAKLU initialisation). Import times
are listed separately (not part of a first solve).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

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
        s = pm.DischargeSolver(
            pm.compile_model(pm.discretise(p, mesh)), rtol=rtol, atol=rtol * 1e-2
        )
        sol = s.solve(current_density_a_per_m2=i1, m_electrode=m, t_end_s=T_END_S)
        firsts.append(time.perf_counter() - t0)
    q = float(sol["Discharge capacity [A.h.m-2]"][-1])
    times = []
    for k in range(repeats):
        t0 = time.perf_counter()
        s.solve(
            current_density_a_per_m2=i1 * (1.0 + 0.01 * (k + 1)), m_electrode=m, t_end_s=T_END_S
        )
        times.append(time.perf_counter() - t0)
    return statistics.median(firsts), statistics.median(times), s.n_states, q


def _public_api(
    rtol: float, repeats: int, disk_cache: bool = False
) -> tuple[float, float, int, float]:
    firsts, times = [], []
    if disk_cache:  # fill the disk cache first: every timed call below loads from it
        clear_cache()
        simulate_discharge(PRESET, c_rate=1.0, transport="combined", rtol=rtol, disk_cache=True)
    for _ in range(repeats):
        clear_cache()
        t0 = time.perf_counter()
        r = simulate_discharge(
            PRESET, c_rate=1.0, transport="combined", rtol=rtol, disk_cache=disk_cache
        )
        firsts.append(time.perf_counter() - t0)
    for k in range(repeats):
        t0 = time.perf_counter()
        simulate_discharge(
            PRESET,
            c_rate=1.0 + 0.01 * (k + 1),
            transport="combined",
            rtol=rtol,
            disk_cache=disk_cache,
        )
        times.append(time.perf_counter() - t0)
    assert not r.refined_for_depletion
    return statistics.median(firsts), statistics.median(times), r.n_states, r.capacity_mah * 10.0


def _pybamm_dfn(
    var_pts: dict[str, int] | None, rtol: float, repeats: int
) -> tuple[float, float, int, float]:
    import pybamm

    p = cell_parameters(PRESET)
    i1 = p.one_c_current_density_a_per_m2
    t_interp = np.linspace(0.0, T_END_S, 200)
    firsts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model, param, vp = pm.reference_dfn(p, DEFAULT_MESH, m_electrode=p.m_combined)
        solver = pybamm.IDAKLUSolver(rtol=rtol, atol=rtol * 1e-2)
        sim = pybamm.Simulation(
            model, parameter_values=param, var_pts=vp if var_pts is None else var_pts, solver=solver
        )
        sol = sim.solve([0.0, T_END_S], inputs={"Current function [A]": i1}, t_interp=t_interp)
        firsts.append(time.perf_counter() - t0)
    q = float(sol["Discharge capacity [A.h]"].entries[-1])
    n = int(sim.built_model.concatenated_initial_conditions.shape[0])
    times = []
    for k in range(repeats):
        t0 = time.perf_counter()
        sim.solve(
            [0.0, T_END_S],
            inputs={"Current function [A]": i1 * (1.0 + 0.01 * (k + 1))},
            t_interp=t_interp,
        )
        times.append(time.perf_counter() - t0)
    return statistics.median(firsts), statistics.median(times), n, q


_CHILD = """
import json, os, statistics, sys, time
t0 = time.perf_counter()
from microstructure.transport.dfn import simulate_discharge
out = {"mode": MODE, "order": ORDER, "import_ours_s": time.perf_counter() - t0}


def import_pybamm():
    if "pybamm" not in sys.modules:
        t = time.perf_counter()
        import pybamm  # noqa: F401
        out["import_pybamm_s"] = time.perf_counter() - t


def ours():
    if MODE == "cold":  # the cold path builds with PyBaMM: its import is not a solve cost
        import_pybamm()
    t = time.perf_counter()
    import pybammsolvers.idaklu  # noqa: F401  (imports CasADi too)
    import microstructure.transport.dfn._pybamm_model  # noqa: F401
    out["import_ours_s"] += time.perf_counter() - t
    t, c = time.perf_counter(), time.process_time()
    r = simulate_discharge(PRESET, c_rate=1.0, transport="combined")
    out["ours_first_s"] = time.perf_counter() - t
    out["ours_first_cpu_s"] = time.process_time() - c
    out["pybamm_imported_by_ours"] = "pybamm" in sys.modules and ORDER == "ours-first"
    times = []
    for k in range(3):
        t = time.perf_counter()
        simulate_discharge(PRESET, c_rate=1.0 + 0.01 * (k + 1), transport="combined")
        times.append(time.perf_counter() - t)
    out["ours_resolve_s"] = statistics.median(times)
    out["ours_capacity_ah_m2"] = r.capacity_mah * 10.0
    out["ours_states"] = r.n_states


def theirs():
    import_pybamm()
    sys.path.insert(0, BENCH_DIR)
    from bench_dfn import _pybamm_dfn_once
    first, resolve, n, q, cpu = _pybamm_dfn_once()
    out.update(pybamm_first_s=first, pybamm_resolve_s=resolve, pybamm_states=n,
               pybamm_capacity_ah_m2=q, pybamm_first_cpu_s=cpu)


for step in ((ours, theirs) if ORDER == "ours-first" else (theirs, ours)):
    step()
out["load"] = os.getloadavg()[0]
print(json.dumps(out))
"""


def _child_code(mode: str, order: str) -> str:
    """The script a new process runs for :func:`_cache_table` (imports timed in it)."""
    head = (
        f"MODE, ORDER, PRESET = {mode!r}, {order!r}, {PRESET!r}\n"
        f"BENCH_DIR = {os.path.dirname(os.path.abspath(__file__))!r}\n"
    )
    return head + _CHILD


def _pybamm_dfn_once() -> tuple[float, float, int, float, float]:
    """PyBaMM's DFN half cell: one first solve (build .. solve; wall and CPU seconds) and
    the median re-solve."""
    import pybamm

    from microstructure.transport.dfn import _pybamm_model as pm_

    p = cell_parameters(PRESET)
    i1 = p.one_c_current_density_a_per_m2
    t_interp = np.linspace(0.0, T_END_S, 200)
    default_pts = pybamm.lithium_ion.DFN({"working electrode": "positive"}).default_var_pts
    t0, c0 = time.perf_counter(), time.process_time()
    model, param, _ = pm_.reference_dfn(p, DEFAULT_MESH, m_electrode=p.m_combined)
    solver = pybamm.IDAKLUSolver(rtol=1e-5, atol=1e-7)
    sim = pybamm.Simulation(
        model,
        parameter_values=param,
        solver=solver,
        var_pts={k: v for k, v in default_pts.items() if k in ("x_n", "x_s", "x_p", "r_p")},
    )
    sol = sim.solve([0.0, T_END_S], inputs={"Current function [A]": i1}, t_interp=t_interp)
    q = float(sol["Discharge capacity [A.h]"].entries[-1])
    first, cpu = time.perf_counter() - t0, time.process_time() - c0
    times = []
    for k in range(3):
        t = time.perf_counter()
        sim.solve(
            [0.0, T_END_S],
            inputs={"Current function [A]": i1 * (1.0 + 0.01 * (k + 1))},
            t_interp=t_interp,
        )
        times.append(time.perf_counter() - t)
    n = int(sim.built_model.concatenated_initial_conditions.shape[0])
    return first, statistics.median(times), n, q, cpu


def _cache_table(n_runs: int) -> None:
    """Cold / warm first solves in new processes beside PyBaMM's DFN (module docstring)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="dfn-cache-bench-") as tmp:
        for k in range(n_runs):
            for order in ("ours-first", "pybamm-first"):
                folder = os.path.join(tmp, f"{k}-{order}")
                env = dict(os.environ, MICROSTRUCTURE_CACHE_DIR=folder)
                env.pop("MICROSTRUCTURE_DFN_CACHE", None)
                for mode in ("cold", "warm"):  # warm: the cache the cold process filled
                    res = subprocess.run(
                        [sys.executable, "-c", _child_code(mode, order)],
                        env=env,
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    print(
        "\n| cache | order in the process | load (1 min) | ours first solve [s] (CPU) | "
        "ours re-solve [ms] | PyBaMM DFN first solve [s] (CPU) | PyBaMM re-solve [ms] | "
        "first / PyBaMM | PyBaMM imported by ours | import ours [s] | import PyBaMM [s] | "
        "ours import + first solve [s] |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")

    def total(r: dict) -> str:
        """What a CLI call pays (imports our solve needs + first solve); ours-first only."""
        if r["order"] != "ours-first":
            return "-"
        pb = (
            r.get("import_pybamm_s", 0.0)
            if (r["mode"] == "cold" or r["pybamm_imported_by_ours"])
            else 0.0
        )
        return f"{r['import_ours_s'] + pb + r['ours_first_s']:.2f}"

    def imported(r: dict) -> str:
        if r["mode"] == "cold":
            return "yes (builds)"
        if r["order"] != "ours-first":
            return "n/a"
        return "yes" if r["pybamm_imported_by_ours"] else "**no**"

    for r in rows:
        print(
            f"| {r['mode']} | {r['order']} | {r['load']:.1f} | {r['ours_first_s']:.3f} "
            f"({r['ours_first_cpu_s']:.3f}) | {1e3 * r['ours_resolve_s']:.0f} | "
            f"{r['pybamm_first_s']:.3f} ({r['pybamm_first_cpu_s']:.3f}) | "
            f"{1e3 * r['pybamm_resolve_s']:.0f} | "
            f"{r['ours_first_s'] / r['pybamm_first_s']:.2f} | "
            f"{imported(r)} | {r['import_ours_s']:.2f} | "
            f"{r.get('import_pybamm_s', float('nan')):.2f} | {total(r)} |"
        )
    for mode in ("cold", "warm"):
        sel = [r for r in rows if r["mode"] == mode]
        print(
            f"\nmedian {mode}: ours {statistics.median(r['ours_first_s'] for r in sel):.3f} s"
            f" (CPU {statistics.median(r['ours_first_cpu_s'] for r in sel):.3f} s), PyBaMM "
            f"DFN {statistics.median(r['pybamm_first_s'] for r in sel):.3f} s (CPU "
            f"{statistics.median(r['pybamm_first_cpu_s'] for r in sel):.3f} s), "
            f"ours re-solve {1e3 * statistics.median(r['ours_resolve_s'] for r in sel):.0f} ms"
            f" (capacity ours {sel[0]['ours_capacity_ah_m2']:.4f}, PyBaMM "
            f"{sel[0]['pybamm_capacity_ah_m2']:.4f} Ah/m2; states {sel[0]['ours_states']} /"
            f" {sel[0]['pybamm_states']})"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rtol", type=float, nargs="+", default=[1e-5])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--skip-slow",
        action="store_true",
        help="leave out the depletion mesh and the previous default mesh",
    )
    ap.add_argument(
        "--cache",
        type=int,
        nargs="?",
        const=3,
        default=0,
        metavar="N",
        help="cold / warm disk-cache first solves in N x 2 new processes",
    )
    args = ap.parse_args()
    if args.cache:
        load0 = os.getloadavg()
        import pybamm as pb

        print(
            f"PyBaMM {pb.__version__}; Naumann et al. 2024 {PRESET}, 1C, combined "
            f"transport, default rtol 1e-5; 2-core VM, other jobs may be running; "
            f"load at start {load0[0]:.1f}"
        )
        _cache_table(args.cache)
        print(f"\nload average (1 min) at end {os.getloadavg()[0]:.1f}")
        return
    import shutil

    import pybamm

    cache_tmp = tempfile.mkdtemp(prefix="dfn-cache-bench-")  # not the user's cache
    os.environ["MICROSTRUCTURE_CACHE_DIR"] = cache_tmp
    load0 = os.getloadavg()
    print(
        f"PyBaMM {pybamm.__version__}; Naumann et al. (2024) {PRESET}, 1C, combined transport; "
        f"2-core VM, other jobs may be running; load average at start {load0[0]:.1f}"
    )
    default_pts = pybamm.lithium_ion.DFN({"working electrode": "positive"}).default_var_pts
    pybamm_pts = {k: v for k, v in default_pts.items() if k in ("x_n", "x_s", "x_p", "r_p")}
    # warm-up: imports, CasADi / IDAKLU initialisation
    _ours(DEFAULT_MESH, 1e-5, 1)
    _pybamm_dfn(None, 1e-5, 1)
    meshes = [("default", DEFAULT_MESH)]
    if not args.skip_slow:
        meshes += [("depletion", DEPLETION_MESH), ("previous default", MeshSettings(6, 32, 10, 6))]
    rows = []
    for rtol in args.rtol:
        ref = _pybamm_dfn(pybamm_pts, rtol, args.repeats)
        rows.append(("PyBaMM DFN half cell, PyBaMM's default mesh (anchor)", rtol, *ref, ref))
        rows.append(
            (
                "PyBaMM DFN half cell, our default x/r mesh",
                rtol,
                *_pybamm_dfn(None, rtol, args.repeats),
                ref,
            )
        )
        for label, mesh in meshes:
            rows.append(
                (
                    f"ours, {label} mesh {mesh.counts}"
                    + (f" R stretch {mesh.secondary_stretch:g}" if mesh.secondary_stretch else ""),
                    rtol,
                    *_ours(mesh, rtol, args.repeats),
                    ref,
                )
            )
        rows.append(
            (
                "ours, `simulate_discharge` (public API, default), disk cache off",
                rtol,
                *_public_api(rtol, args.repeats),
                ref,
            )
        )
        rows.append(
            (
                "ours, `simulate_discharge`, disk cache filled",
                rtol,
                *_public_api(rtol, args.repeats, disk_cache=True),
                ref,
            )
        )
    load1 = os.getloadavg()
    print(
        "\n| model | rtol | states | first solve [s] | re-solve [ms] | capacity [Ah/m2] | "
        "first / PyBaMM | re-solve / PyBaMM |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, rtol, first, resolve, n, q, ref in rows:
        print(
            f"| {label} | {rtol:g} | {n} | {first:.2f} | {1e3 * resolve:.0f} | {q:.4f} | "
            f"{first / ref[0]:.2f} | {resolve / ref[1]:.2f} |"
        )
    print(f"\nload average (1 min) at start {load0[0]:.1f}, at end {load1[0]:.1f}")
    shutil.rmtree(cache_tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
