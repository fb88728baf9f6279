"""Constant-current discharge of the hierarchical DFN half cell: the public entry point.

References
----------
Naumann et al. (2024), ACS Appl. Energy Mater. 7, 4786, doi:10.1021/acsaem.4c00505.
Doyle, Fuller and Newman (1993), J. Electrochem. Soc. 140, 1526, doi:10.1149/1.2221597.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from microstructure.transport.dfn.parameters import (
    DEFAULT_MESH,
    FARADAY_C_PER_MOL,
    CellParameters,
    MeshSettings,
    cell_parameters,
)
from microstructure.transport.presets import ElectrodePreset

__all__ = [
    "DEFAULT_MESH",
    "DEPLETION_FRACTION",
    "DEPLETION_MESH",
    "HIGH_RATE_C",
    "HIGH_RATE_DEPLETION_MESH",
    "HIGH_RATE_MESH",
    "default_mesh",
    "DischargeResult",
    "TRANSPORT_MODES",
    "clear_cache",
    "simulate_discharge",
]

TRANSPORT_MODES = ("combined", "intergranular")

#: C-rate above which the default meshes resolve the reaction front inside the secondary
#: particles (with ``sigma_II = 3e-5 S/m``, R 5 -> 10 cells changes the Cal-2 10C capacity by
#: 2 %) and the steeper salt gradients across separator and electrode.
HIGH_RATE_C = 3.0

#: Default mesh above :data:`HIGH_RATE_C` while the salt does not deplete.
HIGH_RATE_MESH = MeshSettings(n_separator=8, n_electrode=32, n_secondary=20, n_primary=6)

#: Default mesh up to :data:`HIGH_RATE_C` when the salt depletes (a moving depletion front
#: converges at first order in x and R; R cells clustered at the particle surface).
DEPLETION_MESH = MeshSettings(
    n_separator=6, n_electrode=64, n_secondary=10, n_primary=4, secondary_stretch=2.0
)

#: Default mesh above :data:`HIGH_RATE_C` when the salt depletes. Not converged to 0.1 %:
#: x 64 -> 128 cells still changes the capacity by 0.4-0.6 % (docs/validation_dfn.md).
HIGH_RATE_DEPLETION_MESH = MeshSettings(n_separator=8, n_electrode=64, n_secondary=20, n_primary=6)

#: Lowest intergranular salt, as a fraction of the initial salt, below which a default run
#: counts as depleting and is redone on the depletion mesh.
DEPLETION_FRACTION = 0.05


def default_mesh(c_rate: float, *, depleting: bool) -> MeshSettings:
    """The mesh :func:`simulate_discharge` uses for ``mesh=None``.

    :data:`DEFAULT_MESH` / :data:`HIGH_RATE_MESH` (above :data:`HIGH_RATE_C`), or the
    depletion meshes when the salt falls below :data:`DEPLETION_FRACTION` of its initial
    value. Each is within 0.1 % in capacity of a 2x finer mesh in the documented cases of
    its regime except salt depletion above :data:`HIGH_RATE_C` (docs/validation_dfn.md).
    """
    high = c_rate > HIGH_RATE_C
    if depleting:
        return HIGH_RATE_DEPLETION_MESH if high else DEPLETION_MESH
    return HIGH_RATE_MESH if high else DEFAULT_MESH


_CACHE: dict[tuple[CellParameters, MeshSettings, float, bool], Any] = {}
_CACHE_SIZE = 8


def clear_cache(*, disk: bool = False) -> None:
    """Forget the solvers kept in memory for re-solves; ``disk=True`` also deletes the
    on-disk cache of compiled models (see :func:`simulate_discharge`, ``disk_cache``)."""
    _CACHE.clear()
    if disk:
        from microstructure.transport.dfn import _cache

        _cache.clear()


def _use_disk_cache(disk_cache: bool | None) -> bool:
    from microstructure.transport.dfn import _cache

    if disk_cache is None:
        return not _cache.disabled_by_env()
    if not isinstance(disk_cache, bool):
        raise ValueError(f"disk_cache: expected True, False or None, got {disk_cache!r}")
    return disk_cache


def _compiled(p: CellParameters, mesh: MeshSettings, material: dict[str, Any] | None) -> Any:
    """``(compiled model, from the disk cache?)``: loaded when ``material`` (the cache key)
    is given and an entry exists, else built by discretising."""
    from microstructure.transport.dfn import _cache
    from microstructure.transport.dfn import _pybamm_model as pm

    if material is not None:
        entry = _cache.load(material)
        if entry is not None:
            payload, texts = entry
            try:
                return pm.CompiledModel.from_dict({**payload, "functions": texts}), True
            except (ValueError, KeyError, TypeError):
                pass  # incompatible entry: rebuilt and overwritten
    return pm.compile_model(pm.discretise(p, mesh)), False


def _solver(
    p: CellParameters, mesh: MeshSettings, rtol: float, compile_c: bool, disk_cache: bool
) -> Any:
    """A ready :class:`~._pybamm_model.DischargeSolver`, kept in memory for re-solves."""
    from microstructure.transport.dfn import _cache
    from microstructure.transport.dfn import _pybamm_model as pm

    key = (p, mesh, rtol, compile_c)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    material = None
    if disk_cache and not compile_c:  # compiled C functions live in PyBaMM's own cache
        material = _cache.key_material(
            p, mesh, layout=pm.COMPILED_FORMAT, inputs=pm.INPUT_NAMES, outputs=pm.OUTPUT_NAMES
        )
    compiled, from_disk = _compiled(p, mesh, material)
    atol = rtol * 1e-2
    try:
        solver = pm.DischargeSolver(compiled, rtol=rtol, atol=atol, compile_c=compile_c)
    except Exception:
        if not from_disk:
            raise
        # a cached entry CasADi cannot read back (damaged in place): rebuild it
        compiled, from_disk = pm.compile_model(pm.discretise(p, mesh)), False
        solver = pm.DischargeSolver(compiled, rtol=rtol, atol=atol, compile_c=compile_c)
    if material is not None and not from_disk:
        payload = compiled.to_dict()
        _cache.store(material, payload, texts=payload.pop("functions"))
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = solver
    return solver


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
    n_states, mesh
        Size and finite-volume mesh of the discretised model that produced the result.
    refined_for_depletion
        True when the default first pass depleted the salt and the result comes from
        :data:`DEPLETION_MESH`.
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
    mesh: MeshSettings | None = None
    refined_for_depletion: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    #: States, inputs and termination of the solve (for :attr:`solution`)
    states: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    _solution: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def solution(self) -> Any:
        """The ``pybamm.Solution`` of this discharge (:class:`~.model.HierarchicalDFN`).

        Built on first access from the stored states: the model is discretised once more
        (about as long as a cold first solve, ~0.3-0.6 s on the default mesh; PyBaMM is
        imported then), so :func:`simulate_discharge` itself keeps its speed. Every model
        variable can be read (``solution["Voltage [V]"]``, ``"Discharge capacity
        [A.h.m-2]"``, ``"Electrolyte concentration [mol.m-3]"``, ``"Intragranular
        electrolyte concentration [mol.m-3]"``...) and ``pybamm.QuickPlot(solution)``
        works. The discretised model is the compiled one: a 1 m2 electrode (``"Current
        [A]"`` and ``"Discharge capacity [A.h]"`` are per m2) whose input ``"Positive
        electrode intergranular M-factor"`` holds the electrode-scale M of ``transport``.

        Raises
        ------
        ValueError
            The result carries no states (built by hand).
        """
        if self._solution is None:
            if self.states is None or self.mesh is None:
                raise ValueError("solution: this result carries no solver states")
            from microstructure.transport.dfn import _pybamm_model as pm

            self._solution = pm.solution_from_states(self.parameters, self.mesh, **self.states)
        return self._solution

    # ------------------------------------------------------------------ exports
    CSV_COLUMNS = ("time_s", "capacity_mah", "specific_capacity_mah_per_g", "voltage_v")

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the discharge curve: columns ``time_s, capacity_mah,
        specific_capacity_mah_per_g, voltage_v`` (one row per output step)."""
        from microstructure.io.tables import atomic_open

        nmc_g = self.parameters.nmc_mass_kg_per_m2 * 1e3 * self.area_cm2 * 1e-4
        with atomic_open(path, "w") as fh:
            w = csv.writer(fh)
            w.writerow(self.CSV_COLUMNS)
            for t, q, v in zip(self.time_s, self.discharged_mah, self.voltage_v, strict=True):
                w.writerow([f"{t:.6g}", f"{q:.8g}", f"{q / nmc_g:.8g}", f"{v:.8g}"])

    def salt_profile_to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the end-of-discharge salt profile: columns ``x_um, salt_mol_per_m3``."""
        from microstructure.io.tables import atomic_open

        with atomic_open(path, "w") as fh:
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
            "mesh": None if self.mesh is None else list(self.mesh.counts),
            "refined_for_depletion": self.refined_for_depletion,
        }


#: highest discharge rate accepted (1/h): a 36 s discharge; beyond it the half cell is
#: exhausted before the first output step and the solver fails (1e6 C: IDA_BAD_K)
MAX_C_RATE = 100.0


def _check_c_rate(c_rate: Any) -> float:
    try:
        c = float(c_rate)
    except (TypeError, ValueError):
        raise ValueError(f"c_rate: expected a positive number, got {c_rate!r}") from None
    if not (math.isfinite(c) and c > 0):
        raise ValueError(f"c_rate: must be a positive number, got {c_rate!r}")
    if c > MAX_C_RATE:
        raise ValueError(
            f"c_rate: {c:g} C is above the {MAX_C_RATE:g} C the discharge model is solved for "
            "(a full discharge in under 36 s)"
        )
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
    disk_cache: bool | None = None,
    **parameter_options: Any,
) -> DischargeResult:
    """Simulate a constant-current discharge of a Naumann et al. 2024 half cell (Li counter).

    Parameters
    ----------
    preset
        ``"naumann-uncalendered"``, ``"naumann-cal-1"`` .. ``"naumann-cal-3"`` (the prefix is
        optional), an :class:`~microstructure.transport.presets.ElectrodePreset`, or ready
        :class:`~microstructure.transport.dfn.parameters.CellParameters`.
    c_rate
        Discharge rate in C (1C from the NMC mass and 160 mAh/g), > 0.
    transport
        ``"combined"`` (``M = M_inter + M_particles M_II``, Naumann et al. 2024, eq. 7) or
        ``"intergranular"`` (``M = M_inter``, eq. 3) for the electrode-scale electrolyte.
    mesh
        Finite-volume mesh. ``None`` (default): :func:`default_mesh` for the C-rate, and if
        the intergranular salt falls below :data:`DEPLETION_FRACTION` of its initial value,
        a second solve on the depletion mesh (``result.refined_for_depletion``).
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
    disk_cache
        Keep the compiled model (discretised equations as CasADi functions: everything
        that does not depend on the C-rate, the transport mode or ``rtol``) in an on-disk
        cache, so a later process skips PyBaMM's discretisation and set-up, and does not
        even import PyBaMM (1C first solve on the default mesh ~0.15 s instead of ~0.65 s
        of CPU, docs/performance.md, "First solve ... model cache"). ``None`` (default): on
        unless the environment variable ``MICROSTRUCTURE_DFN_CACHE=0``; ``False``: neither
        read nor written. Folder: ``$MICROSTRUCTURE_CACHE_DIR/dfn``, else
        ``~/.cache/microstructure/dfn`` (``$XDG_CACHE_HOME`` honoured). Results are the
        same with and without it. Not used with ``compile_c``.
    **parameter_options
        Passed to :func:`~microstructure.transport.dfn.parameters.cell_parameters` when
        ``preset`` is a name (``m_inter_law``, ``m_inter``, ``m_intragranular``, any
        parameter field such as ``secondary_radius_um``).

    Returns
    -------
    DischargeResult
        ``.capacity_mah``, ``.voltage_v``, ``.energy_density_wh_per_kg`` and more;
        ``.solution`` is the ``pybamm.Solution`` (built on first access).

    Raises
    ------
    ValueError
        Non-positive C-rate, unknown transport mode or preset, M outside (0, 1],
        volume fractions summing to more than 1, ``disk_cache`` not a bool or None.
    """
    c = _check_c_rate(c_rate)
    if transport not in TRANSPORT_MODES:
        raise ValueError(f"transport: expected 'combined' or 'intergranular', got {transport!r}")
    p = _cell(preset, parameter_options)
    if not (isinstance(area_cm2, int | float) and math.isfinite(area_cm2) and area_cm2 > 0):
        raise ValueError(f"area_cm2: must be a positive number, got {area_cm2!r}")
    adaptive = mesh is None
    mesh = default_mesh(c, depleting=False) if mesh is None else mesh
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
    solve = dict(
        rtol=rtol,
        compile_c=bool(compile_c),
        disk_cache=_use_disk_cache(disk_cache),
        i_app=i_app,
        m_el=m_el,
        t_end=t_end,
        n_points=n_points,
    )
    run = _run(p, mesh, **solve)
    if adaptive and run["c_e"].min() < DEPLETION_FRACTION * p.initial_salt_mol_per_m3:
        mesh = default_mesh(c, depleting=True)
        run = _run(p, mesh, **solve)
    return _discharge_result(
        p,
        run,
        transport=transport,
        c_rate=c,
        i_app=i_app,
        m_el=m_el,
        area_cm2=area_cm2,
        mesh=mesh,
        refined=adaptive and mesh is default_mesh(c, depleting=True),
    )


def _cell(
    preset: str | ElectrodePreset | CellParameters, parameter_options: dict[str, Any]
) -> CellParameters:
    """Validated cell parameters of a preset name, preset or ready parameters."""
    if isinstance(preset, CellParameters):
        if parameter_options:
            return preset.with_changes(**parameter_options)
        preset.validate()
        return preset
    return cell_parameters(preset, **parameter_options)


def _discharge_result(
    p: CellParameters,
    run: dict[str, Any],
    *,
    transport: str,
    c_rate: float,
    i_app: float,
    m_el: float,
    area_cm2: float,
    mesh: MeshSettings,
    refined: bool,
) -> DischargeResult:
    """The :class:`DischargeResult` of one solve (capacities, energies, balances)."""
    t, v, q_ah_m2, salt, li, c_e = (run[k] for k in ("t", "v", "q", "salt", "li", "c_e"))
    energy_wh_m2 = float(np.trapezoid(v, q_ah_m2))
    q_end = float(q_ah_m2[-1])
    passed = q_end * 3600.0
    li_gain = (li[-1] - li[0]) * FARADAY_C_PER_MOL
    area_m2 = area_cm2 * 1e-4
    return DischargeResult(
        preset=p.name,
        transport=transport,
        c_rate=c_rate,
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
        x_um=run["x"] * 1e6,
        salt_end_mol_per_m3=c_e[:, -1].copy(),
        min_salt_mol_per_m3=float(c_e.min()),
        salt_conservation_rel=float(np.max(np.abs(salt - salt[0])) / salt[0]),
        lithium_balance_rel=float(abs(li_gain - passed) / passed) if passed > 0 else 0.0,
        termination=run["termination"],
        m_electrode=m_el,
        parameters=p,
        n_states=run["n_states"],
        mesh=mesh,
        refined_for_depletion=refined,
        states={
            "t": t,
            "y": run["y"],
            "inputs": run["inputs"],
            "termination": run["termination"],
        },
    )


def _run(
    p: CellParameters,
    mesh: MeshSettings,
    *,
    rtol: float,
    compile_c: bool,
    disk_cache: bool,
    i_app: float,
    m_el: float,
    t_end: float,
    n_points: int,
) -> dict[str, Any]:
    """One solve on one mesh: the arrays :func:`simulate_discharge` needs."""
    solver = _solver(p, mesh, rtol, compile_c, disk_cache)
    sol = solver.solve(
        current_density_a_per_m2=i_app,
        m_electrode=m_el,
        t_end_s=t_end,
        n_out=n_points,
        keep_states=True,
    )
    return {
        "t": sol["Time [s]"],
        "v": sol["Voltage [V]"],
        "q": sol["Discharge capacity [A.h.m-2]"],
        "salt": sol["Total salt [mol.m-2]"],
        "li": sol["Solid lithium [mol.m-2]"],
        "c_e": sol["Electrolyte concentration [mol.m-3]"],
        "x": solver.x_nodes_m,
        "termination": sol["termination"],
        "n_states": solver.n_states,
        "y": sol["y"],
        "inputs": sol["inputs"],
    }
