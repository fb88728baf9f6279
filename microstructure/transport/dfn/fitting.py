"""Fit the eq. 9 exponent ``a`` and the AM electronic conductivity to measured discharge curves.

Naumann et al. (2024) fitted two parameters of the hierarchical DFN to the discharge curves of
the slightly calendered electrode Cal-1 at 1C and 7C: the exponent ``a`` of the solid
diffusivity (eq. 9; 14.4) and the electronic conductivity of the active material
(``sigma_II``, 3e-5 S/m). :func:`fit_discharge_curves` does the same with
:class:`~.model.HierarchicalDFN`: both are input parameters of one discretised PyBaMM model
(``"Positive particle diffusivity exponent a"``, ``"Positive particle electronic
conductivity [S.m-1]"``), every measured C-rate is re-solved with PyBaMM's IDAKLU solver, and
SciPy's bounded trust-region least squares (``scipy.optimize.least_squares``, ``"trf"``)
minimises the voltage difference at the measured capacities plus a term for the end-of-
discharge capacity. ``sigma_II`` is fitted as ``log10``.

References
----------
Naumann et al. (2024), ACS Appl. Energy Mater. 7, 4786, doi:10.1021/acsaem.4c00505
(Figure 3, eq. 9).
Branch, Coleman and Li (1999), SIAM J. Sci. Comput. 21, 1, doi:10.1137/S1064827595289108
(the trust-region reflective method of ``least_squares``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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

__all__ = [
    "FIT_PARAMETERS",
    "DischargeFit",
    "MeasuredDischarge",
    "fit_discharge_curves",
]

#: Fittable parameters: short name -> (PyBaMM parameter name, fitted as log10?, bounds).
FIT_PARAMETERS: dict[str, tuple[str, bool, tuple[float, float]]] = {
    "a": ("Positive particle diffusivity exponent a", False, (12.0, 17.0)),
    "sigma_II": ("Positive particle electronic conductivity [S.m-1]", True, (1e-7, 1e-2)),
}

#: Weight of the relative end-of-discharge capacity difference in the residual [V per 1].
CAPACITY_WEIGHT_V = 1.0


@dataclass(frozen=True)
class MeasuredDischarge:
    """One measured constant-current discharge curve.

    Attributes
    ----------
    c_rate
        Discharge rate in C (1C = NMC mass x 160 mAh/g, as in :func:`~.simulate_discharge`).
    specific_capacity_mah_per_g
        Discharged capacity per gram of NMC, increasing.
    voltage_v
        Cell voltage at those capacities.
    """

    c_rate: float
    specific_capacity_mah_per_g: np.ndarray
    voltage_v: np.ndarray

    def __post_init__(self) -> None:
        q = np.asarray(self.specific_capacity_mah_per_g, dtype=float)
        v = np.asarray(self.voltage_v, dtype=float)
        if not (math.isfinite(self.c_rate) and self.c_rate > 0):
            raise ValueError(f"MeasuredDischarge.c_rate: must be > 0, got {self.c_rate!r}")
        if q.ndim != 1 or q.shape != v.shape or q.size < 3:
            raise ValueError(
                "MeasuredDischarge: capacity and voltage must be 1D arrays of the same length >= 3"
            )
        if not (np.all(np.isfinite(q)) and np.all(np.isfinite(v))):
            raise ValueError("MeasuredDischarge: capacity and voltage must be finite")
        if np.any(np.diff(q) < 0):
            raise ValueError("MeasuredDischarge.specific_capacity_mah_per_g: must not decrease")
        object.__setattr__(self, "specific_capacity_mah_per_g", q)
        object.__setattr__(self, "voltage_v", v)


@dataclass
class DischargeFit:
    """Result of :func:`fit_discharge_curves`.

    Attributes
    ----------
    values
        Fitted values by short name (``"a"``, ``"sigma_II"`` in S/m).
    rmse_mv
        Root-mean-square voltage difference per curve at the fitted values [mV].
    capacity_error_rel
        Simulated / measured end-of-discharge capacity - 1, per curve.
    success, message, n_evaluations
        From ``scipy.optimize.least_squares``.
    parameter_values
        The ``pybamm.ParameterValues`` with the fitted values filled in.
    """

    values: dict[str, float]
    rmse_mv: list[float]
    capacity_error_rel: list[float]
    success: bool
    message: str
    n_evaluations: int
    parameter_values: Any = field(repr=False)


class _CurveModel:
    """One discretised :class:`~.model.HierarchicalDFN` re-solved per C-rate and parameters."""

    def __init__(
        self,
        p: CellParameters,
        names: Sequence[str],
        transport: str,
        mesh: MeshSettings,
        rtol: float,
    ) -> None:
        import pybamm

        from microstructure.transport.dfn import _pybamm_model as pm
        from microstructure.transport.dfn.model import HierarchicalDFN
        from microstructure.transport.dfn.parameter_set import parameter_values

        self.p = p
        self.names = list(names)
        options = {"transport": transport}
        if p.intragranular_conductivity_s_per_m is None:
            if "sigma_II" in self.names:
                raise ValueError("fit: sigma_II cannot be fitted with sigma_II = None")
            options["intragranular electronic conduction"] = "false"
        self.base_values = parameter_values(p)
        values = self.base_values.copy()
        values.update({FIT_PARAMETERS[n][0]: "[input]" for n in self.names})
        values.update({"Current function [A]": "[input]"})
        hdfn = HierarchicalDFN(options)
        submesh = dict(hdfn.default_submesh_types)
        submesh.update(pm._stretched_submeshes(p, mesh))
        self.sim = pybamm.Simulation(
            hdfn,
            parameter_values=values,
            var_pts=pm.var_pts(mesh),
            submesh_types=submesh,
            solver=pm.make_solver(rtol=rtol, atol=rtol * 1e-2),
        )
        self.one_c_a = float(self.base_values["Nominal cell capacity [A.h]"])
        area_m2 = 1e-4
        self.nmc_g = p.nmc_mass_kg_per_m2 * area_m2 * 1e3
        theo = (1.0 - p.initial_lithiation) * p.c_max_mol_per_m3 * p.nmc_fraction
        self.theo_ah = theo * p.thickness_um * 1e-6 * area_m2 * FARADAY_C_PER_MOL / 3600.0

    def curve(self, c_rate: float, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(mAh/g, V)`` of one discharge for the physical parameter vector ``x``."""
        i_a = c_rate * self.one_c_a
        t_end = 1.05 * self.theo_ah * 3600.0 / i_a
        inputs = {"Current function [A]": i_a}
        inputs.update({FIT_PARAMETERS[n][0]: float(v) for n, v in zip(self.names, x, strict=True)})
        sol = self.sim.solve([0.0, t_end], inputs=inputs, t_interp=np.linspace(0.0, t_end, 400))
        q = np.asarray(sol["Discharge capacity [A.h]"].entries, dtype=float) * 1e3 / self.nmc_g
        return q, np.asarray(sol["Voltage [V]"].entries, dtype=float)


def _residuals(
    model: _CurveModel, curves: Sequence[MeasuredDischarge], x: np.ndarray
) -> np.ndarray:
    """Voltage differences at the measured capacities and the capacity term, all curves."""
    out = []
    for c in curves:
        q_meas, v_meas = c.specific_capacity_mah_per_g, c.voltage_v
        try:
            q, v = model.curve(c.c_rate, x)
        except Exception:  # a parameter set the solver cannot run: worst case, not a crash
            out.append(np.full(q_meas.size + 1, 1.0))
            continue
        v_at = np.interp(q_meas, q, v, right=v[-1])
        out.append(v_at - v_meas)
        out.append([CAPACITY_WEIGHT_V * (q[-1] / q_meas[-1] - 1.0)])
    return np.concatenate([np.ravel(o) for o in out])


def fit_discharge_curves(
    curves: Sequence[MeasuredDischarge],
    preset: str | ElectrodePreset | CellParameters = "cal-1",
    *,
    fit: Sequence[str] = ("a", "sigma_II"),
    initial: dict[str, float] | None = None,
    bounds: dict[str, tuple[float, float]] | None = None,
    transport: str = "combined",
    mesh: MeshSettings | None = None,
    rtol: float = 1e-6,
    max_evaluations: int = 60,
) -> DischargeFit:
    """Fit ``a`` (eq. 9) and/or ``sigma_II`` to measured discharge curves (Naumann et al. 2024).

    Parameters
    ----------
    curves
        Measured discharges (the paper used Cal-1 at 1C and 7C).
    preset
        Electrode (name, preset or :class:`~.parameters.CellParameters`); all other
        parameters stay at their values.
    fit
        Short names from :data:`FIT_PARAMETERS` (``"a"``, ``"sigma_II"``).
    initial
        Start values (default: the preset's, 14.4 and 3e-5 S/m).
    bounds
        Bounds per short name (default in :data:`FIT_PARAMETERS`).
    transport
        ``"combined"`` or ``"intergranular"``.
    mesh
        Finite-volume mesh (default ``DEFAULT_MESH``).
    rtol
        Solver relative tolerance (smooth residuals need it tighter than a single run).
    max_evaluations
        Budget of residual evaluations (each solves every curve once).

    Returns
    -------
    DischargeFit

    Raises
    ------
    ValueError
        No curves, unknown parameter name, start value outside the bounds, bad transport.
    """
    from scipy.optimize import least_squares

    from microstructure.transport.dfn.simulate import DEFAULT_MESH, TRANSPORT_MODES

    curves = list(curves)
    if not curves or not all(isinstance(c, MeasuredDischarge) for c in curves):
        raise ValueError("curves: expected one or more MeasuredDischarge")
    names = list(fit)
    if not names or len(set(names)) != len(names) or any(n not in FIT_PARAMETERS for n in names):
        raise ValueError(f"fit: expected distinct names from {list(FIT_PARAMETERS)}, got {names}")
    if transport not in TRANSPORT_MODES:
        raise ValueError(f"transport: expected one of {TRANSPORT_MODES}, got {transport!r}")
    p = preset if isinstance(preset, CellParameters) else cell_parameters(preset)
    p.validate()
    model = _CurveModel(p, names, transport, mesh or DEFAULT_MESH, rtol)
    default_start = {
        "a": p.solid_diffusivity_exponent_a,
        "sigma_II": p.intragranular_conductivity_s_per_m,
    }
    start = {**default_start, **(initial or {})}
    lo, hi, z0 = [], [], []
    for n in names:
        _, log, (b_lo, b_hi) = FIT_PARAMETERS[n]
        b_lo, b_hi = (bounds or {}).get(n, (b_lo, b_hi))
        s = float(start[n])
        if not (b_lo < b_hi and b_lo <= s <= b_hi):
            raise ValueError(f"initial[{n!r}]: {s!r} outside the bounds ({b_lo}, {b_hi})")
        tr = math.log10 if log else float
        lo.append(tr(b_lo))
        hi.append(tr(b_hi))
        z0.append(tr(s))

    def to_x(z: np.ndarray) -> np.ndarray:
        return np.array(
            [10.0**zi if FIT_PARAMETERS[n][1] else zi for n, zi in zip(names, z, strict=True)]
        )

    res = least_squares(
        lambda z: _residuals(model, curves, to_x(z)),
        np.array(z0),
        bounds=(np.array(lo), np.array(hi)),
        method="trf",
        diff_step=1e-3,
        x_scale=1.0,
        max_nfev=int(max_evaluations),
    )
    x = to_x(res.x)
    values = dict(zip(names, (float(v) for v in x), strict=True))
    rmse, cap = [], []
    for c in curves:
        q, v = model.curve(c.c_rate, x)
        d = np.interp(c.specific_capacity_mah_per_g, q, v, right=v[-1]) - c.voltage_v
        rmse.append(1e3 * float(np.sqrt(np.mean(d**2))))
        cap.append(float(q[-1] / c.specific_capacity_mah_per_g[-1] - 1.0))
    fitted = model.base_values.copy()
    fitted.update({FIT_PARAMETERS[n][0]: values[n] for n in names})
    return DischargeFit(
        values=values,
        rmse_mv=rmse,
        capacity_error_rel=cap,
        success=bool(res.success),
        message=str(res.message),
        n_evaluations=int(res.nfev),
        parameter_values=fitted,
    )
