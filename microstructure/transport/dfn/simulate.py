"""Constant-current discharge of the hierarchical DFN half cell: the public entry point."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from microstructure.transport.dfn.parameters import (
    FARADAY_C_PER_MOL,
    CellParameters,
    MeshSettings,
    cell_parameters,
)
from microstructure.transport.presets import ElectrodePreset

__all__ = ["DischargeResult", "TRANSPORT_MODES", "simulate_discharge", "clear_cache"]

TRANSPORT_MODES = ("combined", "intergranular")

#: Default mesh of :func:`simulate_discharge`: capacity within 0.02 % of a 2x finer mesh
#: without salt depletion, 0.17 % through depletion (use ``MeshSettings(n_electrode=64)``
#: there); see docs/validation_dfn.md.
DEFAULT_MESH = MeshSettings()

_CACHE: dict[tuple[CellParameters, MeshSettings, float, bool], Any] = {}
_CACHE_SIZE = 8


def clear_cache() -> None:
    """Forget the discretised models kept for re-solves."""
    _CACHE.clear()


def _discretised(p: CellParameters, mesh: MeshSettings, rtol: float, compile_c: bool) -> Any:
    from microstructure.transport.dfn import _pybamm_model as pm

    key = (p, mesh, rtol, compile_c)
    hit = _CACHE.get(key)
    if hit is None:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        hit = (
            pm.discretise(p, mesh),
            pm.make_solver(rtol=rtol, atol=rtol * 1e-2, compile_c=compile_c),
        )
        _CACHE[key] = hit
    return hit


@dataclass
class DischargeResult:
    """One simulated constant-current discharge.

    Attributes
    ----------
    preset, transport, c_rate
        What was simulated.
    current_density_a_per_m2
        Applied current density (discharge positive).
    area_cm2
        Electrode area the capacities in mAh refer to.
    time_s, voltage_v, discharged_mah
        Curves (one entry per output step).
    capacity_mah
        Discharged capacity at the cut-off (or end), mAh for ``area_cm2``.
    specific_capacity_mah_per_g
        Capacity per gram of NMC.
    energy_density_wh_per_kg
        Energy per kg of cathode coating (NMC + additives, no electrolyte, no current
        collector): the basis used in this project.
    energy_density_wh_per_kg_nmc
        Energy per kg of NMC.
    mean_voltage_v
        Energy / capacity.
    x_um, salt_end_mol_per_m3
        Intergranular salt concentration across separator + electrode at the end
        (``x = 0`` at the Li-metal side).
    min_salt_mol_per_m3
        Lowest intergranular salt concentration reached during the discharge.
    salt_conservation_rel
        ``max |n_salt(t) - n_salt(0)| / n_salt(0)`` (intergranular + intragranular).
    lithium_balance_rel
        ``|solid Li gained * F - charge passed| / charge passed`` at the end.
    termination
        Why the solver stopped.
    parameters
        The cell parameters used.
    """

    preset: str
    transport: str
    c_rate: float
    current_density_a_per_m2: float
    area_cm2: float
    time_s: np.ndarray
    voltage_v: np.ndarray
    discharged_mah: np.ndarray
    capacity_mah: float
    specific_capacity_mah_per_g: float
    energy_density_wh_per_kg: float
    energy_density_wh_per_kg_nmc: float
    mean_voltage_v: float
    x_um: np.ndarray
    salt_end_mol_per_m3: np.ndarray
    min_salt_mol_per_m3: float
    salt_conservation_rel: float
    lithium_balance_rel: float
    termination: str
    m_electrode: float
    parameters: CellParameters
    n_states: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ exports
    CSV_COLUMNS = ("time_s", "capacity_mah", "specific_capacity_mah_per_g", "voltage_v")

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the discharge curve: columns ``time_s, capacity_mah,
        specific_capacity_mah_per_g, voltage_v`` (one row per output step)."""
        nmc_g = self.parameters.nmc_mass_kg_per_m2 * 1e3 * self.area_cm2 * 1e-4
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(self.CSV_COLUMNS)
            for t, q, v in zip(self.time_s, self.discharged_mah, self.voltage_v, strict=True):
                w.writerow([f"{t:.6g}", f"{q:.8g}", f"{q / nmc_g:.8g}", f"{v:.8g}"])

    def salt_profile_to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the end-of-discharge salt profile: columns ``x_um, salt_mol_per_m3``."""
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(("x_um", "salt_mol_per_m3"))
            for x, c in zip(self.x_um, self.salt_end_mol_per_m3, strict=True):
                w.writerow([f"{x:.6g}", f"{c:.8g}"])

    def to_json_dict(self) -> dict[str, Any]:
        """Scalar results as a JSON-ready dict (snake_case keys with units)."""
        p = self.parameters
        return {
            "preset": self.preset,
            "transport": self.transport,
            "c_rate": self.c_rate,
            "current_density_a_per_m2": self.current_density_a_per_m2,
            "area_cm2": self.area_cm2,
            "capacity_mah": self.capacity_mah,
            "specific_capacity_mah_per_g": self.specific_capacity_mah_per_g,
            "energy_density_wh_per_kg": self.energy_density_wh_per_kg,
            "energy_density_basis": "cathode coating (NMC + additives)",
            "energy_density_wh_per_kg_nmc": self.energy_density_wh_per_kg_nmc,
            "mean_voltage_v": self.mean_voltage_v,
            "end_voltage_v": float(self.voltage_v[-1]),
            "duration_s": float(self.time_s[-1]),
            "min_salt_mol_per_m3": self.min_salt_mol_per_m3,
            "salt_at_current_collector_mol_per_m3": float(self.salt_end_mol_per_m3[-1]),
            "salt_conservation_rel": self.salt_conservation_rel,
            "lithium_balance_rel": self.lithium_balance_rel,
            "m_electrode": self.m_electrode,
            "m_inter": p.m_inter,
            "m_inter_law": p.m_inter_law,
            "m_intragranular": p.m_intragranular,
            "m_particles": p.m_particles,
            "m_combined": p.m_combined,
            "termination": self.termination,
            "n_states": self.n_states,
        }


def _check_c_rate(c_rate: Any) -> float:
    try:
        c = float(c_rate)
    except (TypeError, ValueError):
        raise ValueError(f"c_rate: expected a positive number, got {c_rate!r}") from None
    if not (math.isfinite(c) and c > 0):
        raise ValueError(f"c_rate: must be a positive number, got {c_rate!r}")
    return c


def simulate_discharge(
    preset: str | ElectrodePreset | CellParameters,
    *,
    c_rate: float,
    transport: str,
    mesh: MeshSettings | None = None,
    area_cm2: float = 1.0,
    n_points: int = 300,
    rtol: float = 1e-5,
    compile_c: bool = False,
    **parameter_options: Any,
) -> DischargeResult:
    """Simulate a constant-current discharge of a seed 003 half cell (Li-metal counter).

    Parameters
    ----------
    preset
        ``"naumann-uncalendered"``, ``"naumann-cal-1"`` .. ``"naumann-cal-3"`` (the prefix is
        optional), an :class:`~microstructure.transport.presets.ElectrodePreset`, or ready
        :class:`~microstructure.transport.dfn.parameters.CellParameters`.
    c_rate
        Discharge rate in C (1C from the NMC mass and 160 mAh/g), > 0.
    transport
        ``"combined"`` (``M = M_inter + M_particles M_II``, seed 003 eq. 7) or
        ``"intergranular"`` (``M = M_inter``, eq. 3) for the electrode-scale electrolyte.
    mesh
        Finite-volume points (default :data:`DEFAULT_MESH`).
    area_cm2
        Electrode area for the capacities in mAh.
    n_points
        Output steps of the curves.
    rtol
        Relative tolerance of the IDAKLU solver (absolute tolerance ``rtol / 100``). 1e-5
        changes capacities by < 0.001 % against 1e-6 (docs/performance.md) and is faster.
    compile_c
        Compile the model to C (PyBaMM's ``"compile"`` solver option): about a minute once
        (cached on disk), then faster solves; worth it for parameter sweeps.
    **parameter_options
        Passed to :func:`~microstructure.transport.dfn.parameters.cell_parameters` when
        ``preset`` is a name (``m_inter_law``, ``m_inter``, ``m_intragranular``, any
        parameter field such as ``secondary_radius_um``).

    Returns
    -------
    DischargeResult
        ``.capacity_mah``, ``.voltage_v``, ``.energy_density_wh_per_kg`` and more.

    Raises
    ------
    ValueError
        Non-positive C-rate, unknown transport mode or preset, M outside (0, 1],
        volume fractions summing to more than 1.
    """
    from microstructure.transport.dfn import _pybamm_model as pm

    c = _check_c_rate(c_rate)
    if transport not in TRANSPORT_MODES:
        raise ValueError(
            f"transport: expected 'combined' or 'intergranular', got {transport!r}"
        )
    if isinstance(preset, CellParameters):
        if parameter_options:
            p = preset.with_changes(**parameter_options)
        else:
            preset.validate()
            p = preset
    else:
        p = cell_parameters(preset, **parameter_options)
    if not (isinstance(area_cm2, int | float) and math.isfinite(area_cm2) and area_cm2 > 0):
        raise ValueError(f"area_cm2: must be a positive number, got {area_cm2!r}")
    mesh = DEFAULT_MESH if mesh is None else mesh
    if not isinstance(mesh, MeshSettings):
        raise ValueError(f"mesh: expected MeshSettings, got {type(mesh).__name__}")
    if not (isinstance(n_points, int) and n_points >= 2):
        raise ValueError(f"n_points: expected an integer >= 2, got {n_points!r}")
    m_el = p.m_electrode(transport)
    i_app = c * p.one_c_current_density_a_per_m2
    theo = (1.0 - p.initial_lithiation) * p.c_max_mol_per_m3 * p.nmc_fraction
    theo_c_per_m2 = theo * p.thickness_um * 1e-6 * FARADAY_C_PER_MOL
    t_end = 1.05 * theo_c_per_m2 / i_app

    if not (isinstance(rtol, float) and 0.0 < rtol < 1e-2):
        raise ValueError(f"rtol: expected a float in (0, 0.01), got {rtol!r}")
    disc, solver = _discretised(p, mesh, rtol, bool(compile_c))
    sol = pm.solve(
        disc, solver, current_density_a_per_m2=i_app, m_electrode=m_el, t_end_s=t_end,
        n_out=n_points,
    )
    t = np.asarray(sol["Time [s]"].entries, dtype=float)
    v = np.asarray(sol["Voltage [V]"].entries, dtype=float)
    q_ah_m2 = np.asarray(sol["Discharge capacity [A.h.m-2]"].entries, dtype=float)
    salt = np.asarray(sol["Total salt [mol.m-2]"].entries, dtype=float)
    li = np.asarray(sol["Solid lithium [mol.m-2]"].entries, dtype=float)
    c_e = np.asarray(sol["Electrolyte concentration [mol.m-3]"].entries, dtype=float)
    x_nodes = np.concatenate(
        [disc.mesh["separator"].nodes, disc.mesh["positive electrode"].nodes]
    )
    energy_wh_m2 = float(np.trapezoid(v, q_ah_m2))
    q_end = float(q_ah_m2[-1])
    passed = q_end * 3600.0
    li_gain = (li[-1] - li[0]) * FARADAY_C_PER_MOL
    area_m2 = area_cm2 * 1e-4
    return DischargeResult(
        preset=p.name,
        transport=transport,
        c_rate=c,
        current_density_a_per_m2=i_app,
        area_cm2=float(area_cm2),
        time_s=t,
        voltage_v=v,
        discharged_mah=q_ah_m2 * area_m2 * 1e3,
        capacity_mah=q_end * area_m2 * 1e3,
        specific_capacity_mah_per_g=q_end / (p.nmc_mass_kg_per_m2 * 1e3) * 1e3,
        energy_density_wh_per_kg=energy_wh_m2 / p.coating_mass_kg_per_m2,
        energy_density_wh_per_kg_nmc=energy_wh_m2 / p.nmc_mass_kg_per_m2,
        mean_voltage_v=energy_wh_m2 / q_end if q_end > 0 else float("nan"),
        x_um=x_nodes * 1e6,
        salt_end_mol_per_m3=c_e[:, -1].copy(),
        min_salt_mol_per_m3=float(c_e.min()),
        salt_conservation_rel=float(np.max(np.abs(salt - salt[0])) / salt[0]),
        lithium_balance_rel=float(abs(li_gain - passed) / passed) if passed > 0 else 0.0,
        termination=str(sol.termination),
        m_electrode=m_el,
        parameters=p,
        n_states=disc.n_states,
    )
