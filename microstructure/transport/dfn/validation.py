"""Validation runs of the hierarchical DFN (the numbers in docs/validation_dfn.md).

``microstructure dfn validate [--quick] [--figure PATH]`` prints every table as markdown
(:func:`validation_tables`, :func:`validation_figure`). Each function returns plain rows
(lists of dicts) so tests and docs can use them.

References
----------
Naumann et al. (2024), ACS Appl. Energy Mater. 7, 4786, doi:10.1021/acsaem.4c00505
(Table 2: energy densities of the four electrodes; the hierarchical DFN).
Doyle, Fuller and Newman (1993), J. Electrochem. Soc. 140, 1526, doi:10.1149/1.2221597
(the DFN model the limits are checked against, as implemented in PyBaMM).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from microstructure.transport.dfn.parameters import MeshSettings, cell_parameters
from microstructure.transport.dfn.simulate import DEFAULT_MESH, TRANSPORT_MODES, simulate_discharge

__all__ = [
    "SEED003_TABLE2",
    "limit_check",
    "dense_limit_check",
    "table2",
    "energy_ratio_sensitivity",
    "mesh_convergence",
    "rate_table",
    "markdown_table",
    "validation_tables",
    "validation_figure",
]

#: Naumann et al. 2024, Table 2: gravimetric energy density [Wh/kg] (experiment, combined,
#: intergranular).
SEED003_TABLE2: dict[tuple[str, float], tuple[float, float, float]] = {
    ("cal-2", 3.0): (449.0, 472.0, 462.0),
    ("cal-2", 5.0): (402.0, 361.0, 326.0),
    ("cal-3", 0.5): (535.0, 593.0, 589.0),
    ("cal-3", 2.0): (464.0, 529.0, 393.0),
}


def _max_dv_mv(
    q_a: np.ndarray,
    v_a: np.ndarray,
    q_b: np.ndarray,
    v_b: np.ndarray,
    lo: float = 0.02,
    hi: float = 0.90,
) -> float:
    qmax = min(q_a[-1], q_b[-1])
    qq = np.linspace(lo * qmax, hi * qmax, 400)
    return 1e3 * float(np.max(np.abs(np.interp(qq, q_a, v_a) - np.interp(qq, q_b, v_b))))


def _versus_pybamm(p: Any, c_rate: float, mesh: MeshSettings, m_el: float) -> dict[str, float]:
    from microstructure.transport.dfn import _pybamm_model as pm

    i_app = c_rate * p.one_c_current_density_a_per_m2
    t_end = 1.2 * 3600.0 / c_rate
    d = pm.discretise(p, mesh)
    a = pm.solve(
        d,
        pm.make_solver(),
        current_density_a_per_m2=i_app,
        m_electrode=m_el,
        t_end_s=t_end,
        n_out=600,
    )
    b = pm.solve_reference(
        p, mesh, current_density_a_per_m2=i_app, m_electrode=m_el, t_end_s=t_end, n_out=600
    )
    qa = a["Discharge capacity [A.h.m-2]"].entries
    qb = b["Discharge capacity [A.h]"].entries
    return {
        "max_dv_mv": _max_dv_mv(qa, a["Voltage [V]"].entries, qb, b["Voltage [V]"].entries),
        "capacity_ours_ah_m2": float(qa[-1]),
        "capacity_pybamm_ah_m2": float(qb[-1]),
    }


def limit_check(
    preset: str = "cal-2",
    *,
    c_rates: Sequence[float] = (1.0, 5.0),
    m_intragranular: float = 1e3,
    mesh: MeshSettings = DEFAULT_MESH,
) -> list[dict[str, Any]]:
    """Fast intragranular transport vs PyBaMM's DFN half cell with collapsed parameters."""
    p = cell_parameters(
        preset,
        m_intragranular=m_intragranular,
        limit_check=True,
        intragranular_conductivity_s_per_m=None,
    )
    rows = []
    for transport in TRANSPORT_MODES:
        for c in c_rates:
            row = {
                "preset": preset,
                "c_rate": c,
                "transport": transport,
                "m_intragranular": m_intragranular,
            }
            row.update(_versus_pybamm(p, c, mesh, p.m_electrode(transport)))
            rows.append(row)
    return rows


def dense_limit_check(
    preset: str = "cal-1",
    *,
    c_rates: Sequence[float] = (1.0, 5.0),
    mesh: MeshSettings = DEFAULT_MESH,
) -> list[dict[str, Any]]:
    """``eps_II -> 0`` (1e-5), ``r_p = R_s``, fast intragranular transport vs the dense DFN."""
    p0 = cell_parameters(preset)
    p = cell_parameters(
        preset,
        intragranular_porosity=1e-5,
        m_intragranular=1e3,
        limit_check=True,
        primary_radius_um=p0.secondary_radius_um,
        intragranular_conductivity_s_per_m=None,
    )
    rows = []
    for c in c_rates:
        row = {
            "preset": preset,
            "c_rate": c,
            "transport": "intergranular",
            "intragranular_porosity": p.intragranular_porosity,
        }
        row.update(_versus_pybamm(p, c, mesh, p.m_inter))
        rows.append(row)
    return rows


def table2(*, mesh: MeshSettings | None = None, **options: Any) -> list[dict[str, Any]]:
    """The Naumann et al. 2024, Table 2 cases beside the paper's values."""
    rows = []
    for (preset, c), (exp, paper_comb, paper_inter) in SEED003_TABLE2.items():
        a = simulate_discharge(preset, c_rate=c, transport="combined", mesh=mesh, **options)
        b = simulate_discharge(preset, c_rate=c, transport="intergranular", mesh=mesh, **options)
        rows.append(
            {
                "preset": preset,
                "c_rate": c,
                "experiment": exp,
                "paper_combined": paper_comb,
                "paper_intergranular": paper_inter,
                "ours_combined": a.energy_density_wh_per_kg,
                "ours_intergranular": b.energy_density_wh_per_kg,
                "ours_combined_nmc": a.energy_density_wh_per_kg_nmc,
                "ours_intergranular_nmc": b.energy_density_wh_per_kg_nmc,
                "dev_combined": a.energy_density_wh_per_kg / exp - 1.0,
                "dev_intergranular": b.energy_density_wh_per_kg / exp - 1.0,
                "salt_cc_combined": float(a.salt_end_mol_per_m3[-1]),
                "salt_cc_intergranular": float(b.salt_end_mol_per_m3[-1]),
                "salt_conservation_rel": max(a.salt_conservation_rel, b.salt_conservation_rel),
                "lithium_balance_rel": max(a.lithium_balance_rel, b.lithium_balance_rel),
            }
        )
    return rows


#: Variations of the Cal-3 2C energy-ratio study: (label, cell_parameters options).
SENSITIVITY_CASES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("M_inter Bruggeman 1.5 (default)", {}),
    ("M_inter Bruggeman 1.2", {"m_inter_bruggeman_exponent": 1.2}),
    ("M_inter fixed 0.0075", {"m_inter_law": "fixed", "m_inter": 0.0075}),
    ("M_inter fixed 0.010", {"m_inter_law": "fixed", "m_inter": 0.010}),
    ("M_inter fixed 0.0125", {"m_inter_law": "fixed", "m_inter": 0.0125}),
    ("M_inter fixed 0.015", {"m_inter_law": "fixed", "m_inter": 0.015}),
    ("M_inter fixed 0.020", {"m_inter_law": "fixed", "m_inter": 0.020}),
    ("M_II 0.245 (seed Fig. 4)", {"m_intragranular": 0.245}),
    ("R_s 2.5 um", {"secondary_radius_um": 2.5}),
    ("R_s 10 um", {"secondary_radius_um": 10.0}),
    ("r_p 0.1 um", {"primary_radius_um": 0.1}),
    ("r_p 0.4 um", {"primary_radius_um": 0.4}),
    ("sigma_II off (phi_s^II = phi_s)", {"intragranular_conductivity_s_per_m": None}),
    ("separator 50 um", {"separator_thickness_um": 50.0}),
)


def energy_ratio_sensitivity(
    preset: str = "cal-3",
    c_rate: float = 2.0,
    *,
    mesh: MeshSettings | None = None,
    cases: Sequence[tuple[str, dict[str, Any]]] = SENSITIVITY_CASES,
) -> list[dict[str, Any]]:
    """Combined / intergranular energy ratio under the assumptions the paper leaves open."""
    rows = []
    for label, opts in cases:
        a = simulate_discharge(preset, c_rate=c_rate, transport="combined", mesh=mesh, **opts)
        b = simulate_discharge(preset, c_rate=c_rate, transport="intergranular", mesh=mesh, **opts)
        rows.append(
            {
                "case": label,
                "m_inter": a.parameters.m_inter,
                "m_combined": a.parameters.m_combined,
                "energy_combined": a.energy_density_wh_per_kg,
                "energy_intergranular": b.energy_density_wh_per_kg,
                "ratio": a.energy_density_wh_per_kg / b.energy_density_wh_per_kg,
                "salt_cc_intergranular": float(b.salt_end_mol_per_m3[-1]),
            }
        )
    return rows


def mesh_convergence(
    cases: Sequence[tuple[str, float, str]] = (
        ("cal-2", 1.0, "combined"),
        ("cal-1", 1.0, "combined"),
        ("cal-1", 2.0, "combined"),
        ("uncalendered", 2.0, "combined"),
        ("cal-2", 3.0, "combined"),
        ("cal-2", 3.0, "intergranular"),
        ("cal-3", 0.5, "intergranular"),
        ("cal-3", 2.0, "combined"),
        ("cal-3", 2.0, "intergranular"),
        ("cal-1", 10.0, "combined"),
        ("cal-2", 10.0, "combined"),
    ),
    factor: int = 2,
) -> list[dict[str, Any]]:
    """Capacity and energy on the mesh the default picks and on that mesh refined ``factor``x.

    Change relative to the refined mesh; ``refined_for_depletion`` says which default mesh
    (:data:`DEFAULT_MESH` or :data:`DEPLETION_MESH`) the case used.
    """
    rows = []
    for preset, c, transport in cases:
        t0 = time.perf_counter()
        r = simulate_discharge(preset, c_rate=c, transport=transport)
        dt = time.perf_counter() - t0
        fine_mesh = r.mesh.refined(factor)
        t0 = time.perf_counter()
        f = simulate_discharge(preset, c_rate=c, transport=transport, mesh=fine_mesh)
        dt_fine = time.perf_counter() - t0
        for res, m, sec in ((r, r.mesh, dt), (f, fine_mesh, dt_fine)):
            rows.append(
                {
                    "preset": preset,
                    "c_rate": c,
                    "transport": transport,
                    "mesh": m.counts,
                    "stretch_R": m.secondary_stretch,
                    "refined_for_depletion": r.refined_for_depletion,
                    "min_salt": r.min_salt_mol_per_m3,
                    "n_states": res.n_states,
                    "capacity_mah": res.capacity_mah,
                    "energy_wh_per_kg": res.energy_density_wh_per_kg,
                    "capacity_change": res.capacity_mah / f.capacity_mah - 1.0,
                    "energy_change": res.energy_density_wh_per_kg / f.energy_density_wh_per_kg
                    - 1.0,
                    "seconds": sec,
                }
            )
    return rows


def rate_table(
    presets: Sequence[str] = ("uncalendered", "cal-1", "cal-2", "cal-3"),
    c_rates: Sequence[float] = (0.05, 0.5, 1.0, 2.0, 5.0, 10.0),
    *,
    mesh: MeshSettings | None = None,
) -> list[dict[str, Any]]:
    """Energy density (Wh/kg coating) of both modes for every electrode and C-rate.

    A C-rate whose ohmic and contact-resistance drop is below the cut-off from the start is
    reported as ``nan``.
    """
    rows = []
    for preset in presets:
        for c in c_rates:
            row: dict[str, Any] = {"preset": preset, "c_rate": c}
            for transport in TRANSPORT_MODES:
                try:
                    r = simulate_discharge(preset, c_rate=c, transport=transport, mesh=mesh)
                    row[transport] = r.energy_density_wh_per_kg
                    row[f"salt_cc_{transport}"] = float(r.salt_end_mol_per_m3[-1])
                except ValueError:
                    row[transport] = float("nan")
                    row[f"salt_cc_{transport}"] = float("nan")
            row["ratio"] = row["combined"] / row["intergranular"]
            rows.append(row)
    return rows


def markdown_table(rows: list[dict[str, Any]], cols: Sequence[tuple[str, str, str]]) -> str:
    """Rows as a markdown table; ``cols`` are ``(key, header, format spec)`` triples."""
    head = "| " + " | ".join(h for _, h, _ in cols) + " |"
    sep = "|" + "|".join("---" for _ in cols) + "|"
    body = []
    for r in rows:
        cells = []
        for key, _, fmt in cols:
            v = r[key]
            cells.append(format(v, fmt) if fmt else str(v))
        body.append("| " + " | ".join(cells) + " |")
    return "\n".join([head, sep, *body])


_DV_COLS = (
    ("max_dv_mv", "max |dV| 2-90 % [mV]", ".4f"),
    ("capacity_ours_ah_m2", "capacity ours [Ah/m2]", ".5f"),
    ("capacity_pybamm_ah_m2", "capacity PyBaMM [Ah/m2]", ".5f"),
)

#: The validation tables in the order of docs/validation_dfn.md: (title, rows, columns).
VALIDATION_SECTIONS: tuple[
    tuple[str, Callable[[], list[dict[str, Any]]], tuple[tuple[str, str, str], ...]], ...
] = (
    ("Limit: fast intragranular transport vs PyBaMM DFN (Cal-2)", limit_check,
     (("c_rate", "C-rate", "g"), ("transport", "transport", ""), *_DV_COLS)),
    ("Limit: eps_II -> 0, r_p = R_s vs PyBaMM dense-particle DFN (Cal-1)", dense_limit_check,
     (("c_rate", "C-rate", "g"), *_DV_COLS)),
    ("Naumann et al. 2024 Table 2 (Wh/kg of coating; deviations vs experiment)", table2, (
        ("preset", "electrode", ""), ("c_rate", "C-rate", "g"), ("experiment", "exp.", ".0f"),
        ("paper_combined", "paper comb.", ".0f"), ("ours_combined", "ours comb.", ".0f"),
        ("dev_combined", "dev.", "+.0%"), ("paper_intergranular", "paper inter.", ".0f"),
        ("ours_intergranular", "ours inter.", ".0f"), ("dev_intergranular", "dev.", "+.0%"),
        ("ours_combined_nmc", "ours comb. /kg NMC", ".0f"),
        ("ours_intergranular_nmc", "ours inter. /kg NMC", ".0f"),
        ("salt_cc_combined", "salt@CC comb.", ".0f"),
        ("salt_cc_intergranular", "salt@CC inter.", ".0f"),
        ("salt_conservation_rel", "salt cons.", ".1e"),
        ("lithium_balance_rel", "Li balance", ".1e"))),
    ("Cal-3 2C: combined / intergranular energy ratio (paper 529/393 = 1.35)",
     energy_ratio_sensitivity, (
        ("case", "case", ""), ("m_inter", "M_inter", ".4f"), ("m_combined", "M_combi", ".4f"),
        ("energy_combined", "E comb. [Wh/kg]", ".0f"),
        ("energy_intergranular", "E inter. [Wh/kg]", ".0f"), ("ratio", "ratio", ".2f"),
        ("salt_cc_intergranular", "salt@CC inter. [mol/m3]", ".0f"))),
    ("Energy density for every electrode and C-rate (Wh/kg coating)", rate_table, (
        ("preset", "electrode", ""), ("c_rate", "C-rate", "g"),
        ("combined", "combined", ".0f"), ("intergranular", "intergranular", ".0f"),
        ("ratio", "ratio", ".2f"), ("salt_cc_combined", "salt@CC comb.", ".0f"),
        ("salt_cc_intergranular", "salt@CC inter.", ".0f"))),
    ("Mesh convergence (change relative to the finest mesh)", mesh_convergence, (
        ("preset", "electrode", ""), ("c_rate", "C", "g"), ("transport", "transport", ""),
        ("mesh", "mesh (x_s, x_p, R, r)", ""), ("stretch_R", "R stretch", "g"),
        ("min_salt", "min salt [mol/m3]", ".0f"), ("n_states", "states", "d"),
        ("capacity_mah", "capacity [mAh/cm2]", ".5f"),
        ("capacity_change", "d capacity", "+.3%"),
        ("energy_change", "d energy", "+.3%"), ("seconds", "time [s]", ".1f"))),
)  # fmt: skip

#: Title of the (slow) section that ``quick`` skips.
SLOW_SECTION = VALIDATION_SECTIONS[-1][0]


def validation_tables(*, quick: bool = False) -> Iterator[tuple[str, list[dict[str, Any]], str]]:
    """Compute the validation tables one after the other.

    Parameters
    ----------
    quick
        Skip the mesh convergence study (the slowest table).

    Yields
    ------
    (title, rows, markdown table)
        Each table as soon as it is computed.
    """
    for title, compute, cols in VALIDATION_SECTIONS:
        if quick and title == SLOW_SECTION:
            continue
        rows = compute()
        yield title, rows, markdown_table(rows, cols)


#: The discharges of the validation figure: (preset, C-rate) in both transport modes.
FIGURE_CASES: tuple[tuple[str, float], ...] = (("cal-3", 2.0), ("cal-1", 10.0))


def validation_figure(path: str, *, cases: Sequence[tuple[str, float]] = FIGURE_CASES) -> str:
    """Discharge curves and salt profiles of ``cases`` in both transport modes; returns path."""
    from microstructure.transport.dfn.figure import plot_discharge

    runs = [simulate_discharge(p, c_rate=c, transport=t) for p, c in cases for t in TRANSPORT_MODES]
    title = "Naumann et al. 2024 electrodes, hierarchical DFN half cell"
    return plot_discharge(runs, path, title=title)
