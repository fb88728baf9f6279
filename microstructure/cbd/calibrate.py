"""Fit the CBD model to a measured mercury intrusion curve.

Beuse et al. 2021 [1]_ "simulated the CBD on the basis of the PSD from the MIP experiment":
the CBD model (contact angle, largest gas void, CBD porosity, nanopore diameters) was
adjusted until the simulated intrusion matched the measured one. :func:`calibrate_cbd` does
that with a bounded derivative-free optimiser (Powell, scipy) over a few parameters, with the
whole forward model in the loop (:func:`cbd_mip_curve`: CBD insertion into the AM/pore
labels, fibrous nanopores, simulated MIP at discrete radii).

The curves are compared in the *resolved range* only, from the smallest diameter the voxels
resolve up to the largest simulated step (or the measured curve's range where it is
narrower): each curve is re-normalised to the volume it intrudes inside that range, so the
misfit is a shape misfit of the PSD the model can represent. The misfit is the RMS difference
of those cumulative curves on a log-uniform grid (64 points); reported with it are the largest
difference, the area between the curves (decades) and the D50 of both inside the range.

Sensitivity of a fitted parameter: the change that moves the simulated curve by ``tolerance``
(0.02 saturation) at some diameter, from one-sided finite differences around the optimum.
A parameter with a large sensitivity (compared with its band) is not determined by the
curve.

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. https://doi.org/10.3390/batteries7040070
.. [2] Powell, M. J. D. An efficient method for finding the minimum of a function of several
   variables without calculating derivatives. Comput. J. 1964, 7, 155-162.
   https://doi.org/10.1093/comjnl/7.2.155
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from microstructure.cbd.defaults import (
    DEFAULT_CBD_POROSITY,
    DEFAULT_CONTACT_ANGLE_DEG,
    DEFAULT_NANOPORE_MEAN_NM,
    DEFAULT_NANOPORE_STD_NM,
)
from microstructure.cbd.insertion import cbd_envelope_fraction, insert_cbd
from microstructure.cbd.nanopores import add_nanopores
from microstructure.volume import Phase, check_labels, parse_voxel_size

__all__ = [
    "CALIBRATION_PARAMETERS",
    "DEFAULT_BOUNDS",
    "DEFAULT_FREE",
    "DEFAULT_MAX_VOID_DIAMETER_NM",
    "CbdCalibration",
    "calibrate_cbd",
    "calibration_figure",
    "cbd_mip_curve",
    "resolved_misfit",
]

#: Largest gas void (nm) of the void-filling CBD used when none is given.
DEFAULT_MAX_VOID_DIAMETER_NM = 500.0
#: The parameters the fit can vary, with their starting values.
CALIBRATION_PARAMETERS: dict[str, float] = {
    "contact_angle_deg": DEFAULT_CONTACT_ANGLE_DEG,
    "max_void_diameter_nm": DEFAULT_MAX_VOID_DIAMETER_NM,
    "cbd_porosity": DEFAULT_CBD_POROSITY,
    "nanopore_mean_nm": DEFAULT_NANOPORE_MEAN_NM,
    "nanopore_std_nm": DEFAULT_NANOPORE_STD_NM,
}
#: Default bands (low, high); the CBD porosity band is the user's to set (literature: 47-58 %).
DEFAULT_BOUNDS: dict[str, tuple[float, float]] = {
    "contact_angle_deg": (10.0, 70.0),
    "max_void_diameter_nm": (200.0, 1500.0),
    "cbd_porosity": (0.45, 0.58),
    "nanopore_mean_nm": (60.0, 300.0),
    "nanopore_std_nm": (10.0, 120.0),
}
#: Parameters fitted unless ``free`` says otherwise.
DEFAULT_FREE: tuple[str, ...] = (
    "max_void_diameter_nm",
    "cbd_porosity",
    "nanopore_mean_nm",
    "nanopore_std_nm",
)
_GRID_POINTS = 64


def _prepare_labels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """AM/pore labels without CBD, the closed pores (kept empty) and the AM fraction."""
    from microstructure.segment import closed_pores

    lab = check_labels(labels, name="labels").copy()
    lab[(lab == Phase.CBD) | (lab == Phase.CBD_PORE)] = Phase.PORE
    am = lab == Phase.AM
    if not am.any():
        raise ValueError("labels: no active material (phase 1); the CBD volume comes from it")
    closed = np.asarray(closed_pores(am)) & (lab == Phase.PORE)
    return lab, closed, float(am.mean())


def _check_fits(am_fraction: float, open_pore: float, ratio: float, porosity: float) -> float:
    """The CBD envelope fraction; a one-line error when it exceeds the open pore space."""
    env = cbd_envelope_fraction(am_fraction, cbd_to_am_volume_ratio=ratio, cbd_porosity=porosity)
    if env >= open_pore:
        raise ValueError(
            f"cbd_porosity: at {porosity:.3f} the recipe's CBD envelope ({env:.4f} of the volume; "
            f"solid CBD / AM = {ratio:.4f}) is larger than the open pore space ({open_pore:.4f}); "
            "lower the CBD porosity band or check the recipe and the segmentation"
        )
    return env


def cbd_mip_curve(
    labels: np.ndarray,
    *,
    voxel_size_nm: Any,
    cbd_to_am_volume_ratio: float,
    parameters: Mapping[str, float] | None = None,
    distribution: str = "contact",
    inlet: str = "all-but-bottom",
    thickness_axis: str = "y",
    top_at: int = 0,
    radii_nm: Sequence[float] | None = None,
    seed: int = 0,
    _prepared: tuple[np.ndarray, np.ndarray, float] | None = None,
) -> Any:
    """Simulated MIP curve of a labels volume after CBD insertion and nanopores.

    Parameters
    ----------
    labels
        Labels (z, y, x) with AM (1) and pore (0); CBD already present is removed first.
    voxel_size_nm
        Voxel size (z, y, x) in nm.
    cbd_to_am_volume_ratio
        Solid CBD volume per AM volume from the recipe (Table 1 of [1]_: 11.46 / 88.54).
    parameters
        Values of :data:`CALIBRATION_PARAMETERS` (missing ones take their defaults).
    distribution
        CBD distribution mode of :func:`~microstructure.cbd.insert_cbd`.
    inlet, thickness_axis, top_at
        Mercury inlet faces and electrode orientation (``simulate_mip``).
    radii_nm
        Discrete intrusion radii (nm); default 20 per decade from half a voxel to 1.5 um.
    seed
        Seed of the insertion and of the nanopores (common random numbers in a fit).

    Returns
    -------
    MipCurve
        The resolved intrusion curve (saturation of the resolved pore space).
    """
    from microstructure.porosimetry import simulate_mip

    vs = parse_voxel_size(voxel_size_nm)
    p = {**CALIBRATION_PARAMETERS, **dict(parameters or {})}
    unknown = set(p) - set(CALIBRATION_PARAMETERS)
    if unknown:
        raise ValueError(
            f"parameters: unknown {sorted(unknown)}; known {list(CALIBRATION_PARAMETERS)}"
        )
    lab, closed, am = _prepared if _prepared is not None else _prepare_labels(labels)
    open_pore = float(np.count_nonzero(lab == Phase.PORE) - np.count_nonzero(closed)) / lab.size
    env = _check_fits(am, open_pore, cbd_to_am_volume_ratio, p["cbd_porosity"])
    dom = lab.copy()
    dom[closed] = Phase.AM
    out = insert_cbd(
        dom,
        voxel_size_nm=vs,
        volume_fraction=env,
        contact_angle_deg=p["contact_angle_deg"],
        max_void_diameter_nm=p["max_void_diameter_nm"],
        distribution=distribution,  # type: ignore[arg-type]
        seed=seed,
    )
    out[closed] = Phase.PORE
    out = add_nanopores(
        out,
        voxel_size_nm=vs,
        porosity=p["cbd_porosity"],
        mean_diameter_nm=p["nanopore_mean_nm"],
        std_diameter_nm=p["nanopore_std_nm"],
        seed=seed,
        centres="volume",
    )
    if radii_nm is None:
        radii_nm = default_radii_nm(vs)
    res = simulate_mip(
        out,
        voxel_size_nm=vs,
        inlet=inlet,
        thickness_axis=thickness_axis,
        top_at=top_at,
        radii_nm=radii_nm,
    )
    return res.curve


def default_radii_nm(vs: tuple[float, float, float], max_diameter_nm: float = 1500.0):
    """20 radii per decade from half the smallest voxel edge to ``max_diameter_nm / 2``."""
    lo = 0.5 * min(vs)
    hi = 0.5 * max_diameter_nm
    n = int(round(20 * math.log10(hi / lo))) + 1
    return np.geomspace(lo, hi, n)


def _cumulative(curve: Any, d_nm: np.ndarray) -> np.ndarray:
    """Saturation intruded at the Washburn diameters ``d_nm`` (log-linear between steps)."""
    d = np.asarray(curve.diameter_nm, dtype=float)
    order = np.argsort(d)
    x = np.log10(d[order])
    y = np.maximum.accumulate(np.asarray(curve.saturation, dtype=float)[order][::-1])[::-1]
    return np.interp(np.log10(d_nm), x, y, left=float(y[0]), right=0.0)


def resolved_misfit(
    simulated: Any, measured: Any, *, d_low_nm: float, d_high_nm: float
) -> dict[str, Any]:
    """Shape misfit of two intrusion curves inside ``[d_low_nm, d_high_nm]``.

    Each curve is re-normalised to the volume it intrudes between ``d_high_nm`` and
    ``d_low_nm`` (0 at ``d_high_nm``, 1 at ``d_low_nm``).

    Returns
    -------
    dict
        ``rms``, ``max_abs`` (saturation), ``area_decades`` (area between the curves over
        log10 D), ``d50_simulated_nm``, ``d50_measured_nm``, ``d50_difference_nm``, the grid
        ``diameter_nm`` and both re-normalised curves (``simulated``, ``measured``).
    """
    grid = np.geomspace(d_high_nm, d_low_nm, _GRID_POINTS)
    curves = []
    for c in (simulated, measured):
        v = _cumulative(c, np.array([d_high_nm, d_low_nm]))
        span = float(v[1] - v[0])
        if not span > 0:
            raise ValueError(
                f"{c.label or 'curve'}: intrudes no volume between {d_low_nm:.4g} and "
                f"{d_high_nm:.4g} nm (the resolved range)"
            )
        curves.append(np.clip((_cumulative(c, grid) - v[0]) / span, 0.0, 1.0))
    diff = curves[0] - curves[1]
    logd = np.log10(grid)
    area = float(np.sum(0.5 * (np.abs(diff[1:]) + np.abs(diff[:-1])) * np.abs(np.diff(logd))))

    def d50(y: np.ndarray) -> float:
        return float(10 ** np.interp(0.5, y, logd)) if y[-1] >= 0.5 else float("nan")

    d50_s, d50_m = d50(curves[0]), d50(curves[1])
    return {
        "rms": float(np.sqrt(np.mean(diff**2))),
        "max_abs": float(np.max(np.abs(diff))),
        "area_decades": area,
        "d50_simulated_nm": d50_s,
        "d50_measured_nm": d50_m,
        "d50_difference_nm": d50_s - d50_m,
        "diameter_nm": grid,
        "simulated": curves[0],
        "measured": curves[1],
    }


def resolved_range(
    measured: Any, vs: tuple[float, float, float], radii_nm: Sequence[float]
) -> tuple[float, float]:
    """Common diameter range (nm) of the resolved simulation and the measured curve.

    Raises a one-line ``ValueError`` naming both ranges when they overlap by less than a
    quarter of a decade.
    """
    sim_lo, sim_hi = 2.0 * float(np.min(radii_nm)), 2.0 * float(np.max(radii_nm))
    d = np.asarray(measured.diameter_nm, dtype=float)
    if d.size < 2:
        raise ValueError("measured: fewer than two points")
    m_lo, m_hi = float(d.min()), float(d.max())
    lo, hi = max(sim_lo, m_lo), min(sim_hi, m_hi)
    if not hi > lo * 10**0.25:
        raise ValueError(
            f"measured: its diameters {m_lo:.4g}-{m_hi:.4g} nm do not overlap the resolved "
            f"range of the simulation {sim_lo:.4g}-{sim_hi:.4g} nm (voxel {min(vs):.4g} nm) "
            "by a quarter decade; nothing to fit"
        )
    return lo, hi


@dataclass
class CbdCalibration:
    """Result of :func:`calibrate_cbd` (values in the units of their names)."""

    parameters: dict[str, float]
    free: tuple[str, ...]
    bounds: dict[str, tuple[float, float]]
    sensitivity: dict[str, float]
    misfit: dict[str, Any]
    start_misfit: dict[str, Any]
    evaluations: int
    seconds: float
    range_nm: tuple[float, float]
    simulated: Any = field(repr=False)
    measured: Any = field(repr=False)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready numbers (curves left out; see the overlay figure and the CSV)."""

        def clean(m: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in m.items() if not isinstance(v, np.ndarray)}

        return {
            "parameters": self.parameters,
            "free": list(self.free),
            "bounds": {k: list(v) for k, v in self.bounds.items()},
            "sensitivity": self.sensitivity,
            "sensitivity_meaning": "parameter change that moves the simulated curve by the "
            "tolerance (saturation) at some diameter of the resolved range",
            "misfit": clean(self.misfit),
            "start_misfit": clean(self.start_misfit),
            "evaluations": self.evaluations,
            "seconds": self.seconds,
            "resolved_range_nm": list(self.range_nm),
            "settings": self.settings,
        }


def _check_free_bounds(
    free: Sequence[str], bounds: Mapping[str, tuple[float, float]] | None
) -> dict[str, tuple[float, float]]:
    free = tuple(free)
    if not free:
        raise ValueError("free: give at least one parameter to fit")
    for name in free:
        if name not in CALIBRATION_PARAMETERS:
            raise ValueError(
                f"free: unknown parameter {name!r}; known {list(CALIBRATION_PARAMETERS)}"
            )
    b = dict(DEFAULT_BOUNDS)
    for name, pair in dict(bounds or {}).items():
        if name not in CALIBRATION_PARAMETERS:
            raise ValueError(f"bounds: unknown parameter {name!r}")
        lo, hi = (float(v) for v in pair)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"bounds: {name} needs low < high, got {lo}..{hi}")
        b[name] = (lo, hi)
    if not 0.0 <= b["cbd_porosity"][0] and b["cbd_porosity"][1] < 1.0:
        raise ValueError(f"bounds: cbd_porosity must lie in [0, 1), got {b['cbd_porosity']}")
    return b


def _check_band(
    prepared: tuple[np.ndarray, np.ndarray, float],
    ratio: float,
    b: dict[str, tuple[float, float]],
    free: tuple[str, ...],
    start: Mapping[str, float] | None,
) -> None:
    """The CBD envelope at the top of the porosity band must fit into the open pore space."""
    lab, closed, am = prepared
    open_pore = float(np.count_nonzero(lab == Phase.PORE) - np.count_nonzero(closed)) / lab.size
    if "cbd_porosity" in free:
        top = b["cbd_porosity"][1]
    else:
        top = (start or {}).get("cbd_porosity", CALIBRATION_PARAMETERS["cbd_porosity"])
    _check_fits(am, open_pore, ratio, float(top))


def calibrate_cbd(
    labels: np.ndarray,
    measured: Any,
    *,
    voxel_size_nm: Any,
    cbd_to_am_volume_ratio: float,
    free: Sequence[str] = DEFAULT_FREE,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    start: Mapping[str, float] | None = None,
    distribution: str = "contact",
    inlet: str = "all-but-bottom",
    thickness_axis: str = "y",
    top_at: int = 0,
    radii_nm: Sequence[float] | None = None,
    seed: int = 0,
    max_evaluations: int = 80,
    tolerance: float = 0.02,
    progress: Callable[[int, float], None] | None = None,
) -> CbdCalibration:
    """Fit CBD parameters so the simulated MIP matches a measured curve in the resolved range.

    Parameters
    ----------
    labels, measured
        AM/pore labels (z, y, x), e.g. the segmentation (CBD counted as pore); the measured
        :class:`~microstructure.porosimetry.MipCurve` (``porosimetry.measured.load_mip_curve``).
    voxel_size_nm, cbd_to_am_volume_ratio
        Voxel size (z, y, x) in nm; solid CBD / AM volume of the recipe (11.46/88.54 [1]_).
    free, bounds, start
        Parameters to fit (names of :data:`CALIBRATION_PARAMETERS`), ``name -> (low, high)``
        over :data:`DEFAULT_BOUNDS` (set the CBD porosity band), starting values.
    distribution, inlet, thickness_axis, top_at, radii_nm, seed
        Forward model settings (:func:`cbd_mip_curve`).
    max_evaluations, tolerance
        Budget of Powell [2]_ (the void size is scanned besides); sensitivity saturation.
    progress
        Called after every forward simulation with (evaluations, best RMS misfit).

    Returns
    -------
    CbdCalibration

    Raises
    ------
    ValueError
        No overlap with the resolved range (both ranges named); a CBD envelope at the top of
        the porosity band larger than the open pore space; bad names or bounds.
    """
    t0 = time.perf_counter()
    vs = parse_voxel_size(voxel_size_nm)
    b = _check_free_bounds(free, bounds)
    free = tuple(free)
    radii = np.asarray(default_radii_nm(vs) if radii_nm is None else radii_nm, dtype=float)
    lo_nm, hi_nm = resolved_range(measured, vs, radii)
    prepared = _prepare_labels(labels)
    _check_band(prepared, cbd_to_am_volume_ratio, b, free, start)
    base = {**CALIBRATION_PARAMETERS, **dict(start or {})}
    for name in free:
        base[name] = float(np.clip(base[name], *b[name]))
    common = {
        "voxel_size_nm": vs,
        "cbd_to_am_volume_ratio": cbd_to_am_volume_ratio,
        "distribution": distribution,
        "inlet": inlet,
        "thickness_axis": thickness_axis,
        "top_at": top_at,
        "radii_nm": radii,
        "seed": seed,
        "_prepared": prepared,
    }
    cache: dict[tuple[float, ...], tuple[float, dict[str, Any], Any]] = {}
    best = [math.inf]

    def params_of(x: np.ndarray) -> dict[str, float]:
        p = dict(base)
        for name, xi in zip(free, x, strict=True):
            lo, hi = b[name]
            p[name] = lo + float(np.clip(xi, 0.0, 1.0)) * (hi - lo)
        return p

    def evaluate(p: dict[str, float]) -> tuple[float, dict[str, Any], Any]:
        key = tuple(round(p[n], 6) for n in free)
        if key not in cache:
            curve = cbd_mip_curve(labels, parameters=p, **common)
            m = resolved_misfit(curve, measured, d_low_nm=lo_nm, d_high_nm=hi_nm)
            cache[key] = (m["rms"], m, curve)
            best[0] = min(best[0], m["rms"])
            if progress is not None:
                progress(len(cache), best[0])
        return cache[key]

    x0 = np.array([(base[n] - b[n][0]) / (b[n][1] - b[n][0]) for n in free])
    start_misfit = evaluate(params_of(x0))[1]
    lo_v, hi_v = b["max_void_diameter_nm"]
    quantum = 0.25 * min(vs) / (hi_v - lo_v)  # a quarter voxel of void size, box units
    x_opt = _optimise(x0, free, params_of, evaluate, max_evaluations, quantum)
    fitted = params_of(x_opt)
    rms, misfit, curve = evaluate(fitted)
    sens = _sensitivity(fitted, free, b, curve, evaluate, tolerance, lo_nm, hi_nm)
    return CbdCalibration(
        parameters=fitted,
        free=free,
        bounds={n: b[n] for n in free},
        sensitivity=sens,
        misfit=misfit,
        start_misfit=start_misfit,
        evaluations=len(cache),
        seconds=time.perf_counter() - t0,
        range_nm=(lo_nm, hi_nm),
        simulated=curve,
        measured=measured,
        settings={
            **{k: common[k] for k in ("distribution", "inlet", "seed", "cbd_to_am_volume_ratio")},
            "tolerance": tolerance,
            "voxel_size_nm": list(vs),
            "shape": list(np.shape(labels)),
            "optimizer": "Powell (scipy.optimize.minimize, bounded)",
        },
    )


def _optimise(
    x0: np.ndarray,
    free: tuple[str, ...],
    params_of: Callable[[np.ndarray], dict[str, float]],
    evaluate: Callable[[dict[str, float]], tuple[float, dict[str, Any], Any]],
    max_evaluations: int,
    quantum: float = 0.0,
) -> np.ndarray:
    """Fit in the unit box. The void size changes the voxelised gas balls in jumps (a
    piecewise-constant direction): it is scanned on nested grids down to ``quantum`` (a
    quarter voxel, in box units); Powell [2]_ fits the other free parameters with it fixed;
    a last fine scan of the void size follows."""
    from scipy.optimize import minimize

    x = x0.copy()

    def score(xv: np.ndarray) -> float:
        return evaluate(params_of(xv))[0]

    iv = free.index("max_void_diameter_nm") if "max_void_diameter_nm" in free else None

    def scan(values: np.ndarray) -> None:
        best = min((score(np.where(np.arange(x.size) == iv, v, x)), v) for v in values)
        x[iv] = best[1]

    if iv is not None:
        # coarse (1/6 of the band), medium (1/18), then quarter voxels over +- a medium step
        scan(np.linspace(0.0, 1.0, 7))
        scan(np.clip(x[iv] + np.arange(-3, 4) / 18.0, 0.0, 1.0))
        q = max(quantum, 1e-3)
        scan(np.clip(x[iv] + 2 * q * np.arange(-4, 5), 0.0, 1.0))
    others = [i for i in range(x.size) if i != iv]

    def sub(y: np.ndarray) -> float:
        xv = x.copy()
        xv[others] = y
        return score(xv)

    # coordinate descent: the others with the void fixed, then the void on quarter voxels
    for _ in range(2 if iv is not None else 1):
        if others:
            opt = minimize(
                sub,
                x[others],
                method="Powell",
                bounds=[(0.0, 1.0)] * len(others),
                options={"maxfev": int(max_evaluations), "xtol": 1e-3, "ftol": 1e-5},
            )
            x[others] = np.asarray(opt.x)
        if iv is not None:
            scan(np.clip(x[iv] + max(quantum, 1e-3) * np.arange(-5, 6), 0.0, 1.0))
    return x


def _sensitivity(
    fitted: dict[str, float],
    free: tuple[str, ...],
    b: dict[str, tuple[float, float]],
    curve: Any,
    evaluate: Callable[[dict[str, float]], tuple[float, dict[str, Any], Any]],
    tolerance: float,
    lo_nm: float,
    hi_nm: float,
) -> dict[str, float]:
    """Parameter change moving the curve by ``tolerance`` somewhere (finite differences of
    5 % of the band, towards the band's interior)."""
    out: dict[str, float] = {}
    for name in free:
        lo, hi = b[name]
        step = 0.05 * (hi - lo)
        p = dict(fitted)
        p[name] = fitted[name] + step if fitted[name] + step <= hi else fitted[name] - step
        other = evaluate(p)[2]
        moved = resolved_misfit(other, curve, d_low_nm=lo_nm, d_high_nm=hi_nm)["max_abs"]
        out[name] = float(tolerance * step / moved) if moved > 0 else float("inf")
    return out


def calibration_figure(result: CbdCalibration) -> Any:
    """Overlay of the measured and the fitted curve: cumulative (re-normalised to the resolved
    range) and log-differential, with the fitted values in the title."""
    from microstructure.plot import new_figure

    m = result.misfit
    d = m["diameter_nm"]
    fig = new_figure(figsize=(10.0, 4.2))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.semilogx(d, m["measured"], "k-", lw=2, label="measured")
    ax1.semilogx(d, m["simulated"], "C0--", lw=2, label="fitted model")
    ax1.set_xlabel("Washburn throat diameter (nm)")
    ax1.set_ylabel("cumulative intrusion in the resolved range (fraction)")
    ax1.invert_xaxis()
    ax1.legend(fontsize=8)
    logd = np.log10(d)
    for y, style, label in ((m["measured"], "k-", "measured"), (m["simulated"], "C0--", "fitted")):
        dv = np.diff(y) / np.abs(np.diff(logd))
        ax2.semilogx(np.sqrt(d[1:] * d[:-1]), dv, style, lw=2, label=label)
    ax2.set_xlabel("Washburn throat diameter (nm)")
    ax2.set_ylabel("dV/dlogD (fraction of the resolved volume per decade)")
    ax2.invert_xaxis()
    ax2.legend(fontsize=8)
    vals = ", ".join(
        f"{n} {result.parameters[n]:.4g} +- {result.sensitivity.get(n, float('nan')):.2g}"
        for n in result.free
    )
    fig.suptitle(
        f"CBD calibration: {vals}\nRMS {m['rms']:.4f}, max {m['max_abs']:.4f}, area "
        f"{m['area_decades']:.4f} decades, D50 {m['d50_simulated_nm']:.0f} vs "
        f"{m['d50_measured_nm']:.0f} nm",
        fontsize=8,
    )
    return fig
