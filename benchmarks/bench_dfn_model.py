"""Benchmark: HierarchicalDFN as a PyBaMM model against PyBaMM's own DFN half cell.

One 1C discharge of Naumann et al. (2024) Cal-2 (combined transport) to 3.0 V, each way
measured in **new Python processes** (so the first solve pays what a user's first solve
pays: model build, parameter processing, mesh, discretisation, solver set-up, solve; imports
timed apart):

* ``sim``: ``pybamm.Simulation(HierarchicalDFN(), parameter_values=parameter_values("cal-2"),
  experiment=pybamm.Experiment(["Discharge at 1C until 3.0 V"]))``, default mesh
  (4, 12, 5, 3); *first* = first ``sim.solve()`` in the process, *second* = a new
  ``Simulation`` of a new model in the same process (one-off CasADi / IDAKLU initialisation
  already paid), *re-solve* = ``sim.solve()`` again on the built simulation.
* ``pybamm``: the same with ``pybamm.lithium_ion.DFN({"working electrode": "positive"})`` and
  the collapsed parameters (the model ours reduces to; PyBaMM's default mesh).
* ``api cold`` / ``api warm``: ``simulate_discharge("cal-2", c_rate=1.0,
  transport="combined")`` with an empty on-disk model cache and with the cache the previous
  process filled; plus the cost of building ``result.solution`` (the ``pybamm.Solution``).
  PyBaMM is imported before the clock starts here too (a warm call alone would not import
  it: docs/performance.md, "First solve ... model cache").

Run: ``python benchmarks/bench_dfn_model.py [--repeats 3]``. Prints markdown tables with the
machine, the load average and the medians. The machine has 2 cores shared with other jobs:
compare ratios measured side by side, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

PRESET = "cal-2"
EXPERIMENT = "Discharge at 1C until 3.0 V"


def _child_sim(kind: str) -> dict[str, float]:
    t0 = time.perf_counter()
    import pybamm

    from microstructure.transport.dfn import HierarchicalDFN, cell_parameters, parameter_values
    from microstructure.transport.dfn import _pybamm_model as pm

    t_import = time.perf_counter() - t0

    def build():
        if kind == "sim":
            return pybamm.Simulation(
                HierarchicalDFN(),
                parameter_values=parameter_values(PRESET),
                experiment=pybamm.Experiment([EXPERIMENT]),
            )
        p = cell_parameters(PRESET)
        model, values, _ = pm.reference_dfn(p, pm.MeshSettings(), m_electrode=p.m_combined)
        values.update({"Current function [A]": p.one_c_current_density_a_per_m2})
        return pybamm.Simulation(
            model, parameter_values=values, experiment=pybamm.Experiment([EXPERIMENT])
        )

    out = {"import_s": t_import}
    for label in ("first_s", "second_s"):
        t0 = time.perf_counter()
        sim = build()
        sol = sim.solve()
        out[label] = time.perf_counter() - t0
    t0 = time.perf_counter()
    sol = sim.solve()
    out["resolve_s"] = time.perf_counter() - t0
    area = 1e-4 if kind == "sim" else 1.0
    out["capacity_ah_m2"] = float(sol["Discharge capacity [A.h]"].entries[-1]) / area
    out["states"] = int(sol.all_ys[0].shape[0])
    return out


def _child_api() -> dict[str, float]:
    # PyBaMM imported beforehand and timed as an import, as in the other rows (a warm call
    # does not need it at all; building result.solution does)
    t0 = time.perf_counter()
    import pybamm  # noqa: F401
    import pybammsolvers  # noqa: F401

    from microstructure.transport.dfn import simulate_discharge

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    r = simulate_discharge(PRESET, c_rate=1.0, transport="combined")
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    r.solution  # noqa: B018 - builds the pybamm.Solution (imports PyBaMM, discretises)
    sol_s = time.perf_counter() - t0
    return {
        "import_s": t_import,
        "first_s": first,
        "solution_s": sol_s,
        "capacity_ah_m2": r.capacity_mah * 1e-3 / 1e-4,
        "states": r.n_states,
    }


def _run_child(args: list[str], env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", choices=("sim", "pybamm", "api"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        res = _child_api() if args.child == "api" else _child_sim(args.child)
        print(json.dumps(res))
        return
    import pybamm

    print(f"machine: {_machine()}; PyBaMM {pybamm.__version__}")
    rows: dict[str, list[dict[str, float]]] = {"sim": [], "pybamm": [], "cold": [], "warm": []}
    loads = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, MICROSTRUCTURE_CACHE_DIR=tmp)
            env.pop("MICROSTRUCTURE_DFN_CACHE", None)
            loads.append(os.getloadavg()[0])
            rows["sim"].append(_run_child(["--child", "sim"], env))
            rows["pybamm"].append(_run_child(["--child", "pybamm"], env))
            rows["cold"].append(_run_child(["--child", "api"], env))
            rows["warm"].append(_run_child(["--child", "api"], env))
            loads.append(os.getloadavg()[0])
    med = {k: {f: statistics.median(r[f] for r in v) for f in v[0]} for k, v in rows.items()}
    ref = med["pybamm"]["first_s"]
    print(f"load average (1 min) during the runs: {min(loads):.1f}-{max(loads):.1f}")
    print(f"medians of {args.repeats} new processes each\n")
    print(
        "| way | states | import [s] | first solve [s] | second build + solve [s] | "
        "re-solve [s] | pybamm.Solution [s] | capacity [Ah/m2] | first / PyBaMM DFN |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    labels = {
        "pybamm": "PyBaMM DFN half cell + Experiment (anchor)",
        "sim": "HierarchicalDFN + Simulation + Experiment",
        "cold": "simulate_discharge, cold model cache",
        "warm": "simulate_discharge, warm model cache",
    }
    for key in ("pybamm", "sim", "cold", "warm"):
        m = med[key]

        def f(name: str, m: dict[str, float] = m) -> str:
            return f"{m[name]:.3f}" if name in m else "-"

        print(
            f"| {labels[key]} | {int(m['states'])} | {f('import_s')} | {f('first_s')} | "
            f"{f('second_s')} | {f('resolve_s')} | {f('solution_s')} | "
            f"{m['capacity_ah_m2']:.4f} | {m['first_s'] / ref:.2f} |"
        )


if __name__ == "__main__":
    main()
