"""The D50 step of the CBD calibration on the whole volume (:mod:`microstructure.cbd.calibrate`).

The search runs on a crop that keeps the whole thickness and the volume's pore fraction, but
a crop's D50 need not be the whole volume's: on the seed-000 twin (650 x 358 x 380 voxels,
crop 131 x 359 x 84) the fitted parameters gave D50 253 nm on the crop and 285 nm on the
whole volume (measured curve 248 nm). So, when the objective weights the D50
(``d50_weight > 0``), one parameter (the CBD porosity by default: it moves volume between
the gas-gap and the nanopore mode) is re-fitted on the whole volume, the other fitted values
held.

What the step root-finds is not the D50 itself. The D50 of a bimodal curve whose 50 % level
falls in the valley between its modes jumps with the parameter, and a secant on ``log D50``
oscillates across the jump (seed-000 twin, nanopores 100 +- 30 nm, void 514 nm: CBD
porosity 0.484 / 0.492 / 0.500 / 0.506 gave D50 313 / 219 / 175 / 168 nm). The step
root-finds the smooth ``g(p) = S_sim(D50_meas) - 0.5`` instead: the simulated saturation
(re-normalised to the resolved range,
:func:`~microstructure.cbd._calibrate_model.resolved_misfit`) at the measured curve's D50,
where the measured curve's is 0.5 by definition. ``g`` is the share of the volume intruded
above that diameter; it moves continuously with the parameter (volume moves between the
modes voxel by voxel; same porosities: g = +0.0096 / -0.0064 / -0.0243 / -0.0371), has the
sign of ``log(D50_sim / D50_meas)`` and is zero where the simulated curve crosses 50 % at
the measured D50. :func:`bracketed_root`: a probe, secant steps until ``g`` changes sign,
then false position inside the bracket with a bisection whenever the bracket did not halve
(the safeguard of Brent's method [1]_). It stops when the D50 is within
:data:`D50_STEP_TOLERANCE_DECADES` of the measured one or ``|g|`` within
:data:`SATURATION_TOLERANCE`: converged. Otherwise (budget spent, root outside the band,
``g`` jumping across a bracket narrower than :data:`MIN_BRACKET`) the set with the smallest
``|g|`` is kept and the report says ``converged: false`` with the reason.

References
----------
.. [1] Brent, R. P. An algorithm with guaranteed convergence for finding a zero of a
   function. The Computer Journal 1971, 14, 422-425. https://doi.org/10.1093/comjnl/14.4.422
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "D50_STEP_TOLERANCE_DECADES",
    "MIN_BRACKET",
    "PROBE_STEP",
    "SATURATION_TOLERANCE",
    "WHOLE_STEP_ORDER",
    "bracketed_root",
    "on_whole",
    "refine_on_whole",
    "saturation_gap",
]

#: The D50 step stops when the whole-volume D50 is this close to the measured one
#: (decades; 0.01 = 2.3 %).
D50_STEP_TOLERANCE_DECADES = 0.01
#: ... or when the simulated saturation at the measured D50 is this close to 0.5. Not the
#: calibration's ``tolerance`` (0.02): on the seed-000 twin the curve is flat in the valley
#: between its modes (0.1 saturation per decade around 250 nm), so CBD porosity 0.484 and
#: 0.492 were both within 0.01 of 0.5 at 248 nm with D50 313 and 219 nm; 0.002 bounds the
#: D50 there to about 0.02 decades (5 %).
SATURATION_TOLERANCE = 0.002
#: First step of each parameter that the D50 step can re-fit (in its coordinate: log10 for
#: the diameters, linear for the porosity).
PROBE_STEP = {
    "max_void_diameter_nm": -0.05,
    "cbd_porosity": 0.01,
    "nanopore_mean_nm": -0.05,
    "nanopore_std_nm": -0.05,
}
#: A sign change of ``g`` across a bracket narrower than this (in the parameter's
#: coordinate) is a jump of ``g`` itself, not a root: the step stops there.
MIN_BRACKET = {
    "max_void_diameter_nm": 1e-3,
    "cbd_porosity": 2e-4,
    "nanopore_mean_nm": 1e-3,
    "nanopore_std_nm": 1e-3,
}
#: The parameter the whole-volume D50 step re-fits: the first of these that is free.
WHOLE_STEP_ORDER = ("cbd_porosity", "nanopore_mean_nm", "max_void_diameter_nm")
#: Largest secant extrapolation before a bracket is found, in multiples of the last step.
_MAX_EXTRAPOLATION = 4.0

Point = tuple[float, float, Any]


def _coordinate(name: str, value: float) -> float:
    return value if name == "cbd_porosity" else math.log10(value)


def _value(name: str, x: float) -> float:
    return x if name == "cbd_porosity" else 10.0**x


def saturation_gap(m: Mapping[str, Any]) -> float:
    """``g = S_sim(D50_meas) - 0.5`` of a ``resolved_misfit`` dict (nan when absent)."""
    s = m.get("saturation_at_d50_measured")
    return float(s) - 0.5 if s is not None and math.isfinite(float(s)) else math.nan


def _next_x(
    pts: list[Point], probe: float, lo: float, hi: float, min_width: float, prev: list[float]
) -> tuple[float | None, str]:
    """The next abscissa of :func:`bracketed_root`, or (None, reason) to stop."""
    x, g, _ = pts[-1]
    fin = sorted((p[0], p[1]) for p in pts if math.isfinite(p[1]))
    brackets = [(a, b) for a, b in zip(fin, fin[1:], strict=False) if a[1] * b[1] < 0]
    if brackets:
        (xa, ga), (xb, gb) = min(brackets, key=lambda ab: ab[1][0] - ab[0][0])
        width = xb - xa
        if width <= min_width:
            return None, f"g jumps across a bracket of {width:.3g} (no root between)"
        x_new = xa - ga * width / (gb - ga)  # false position
        if prev and width > 0.5 * prev[-1]:
            x_new = 0.5 * (xa + xb)  # the bracket did not halve: bisect
        prev.append(width)
    elif len(pts) == 1:
        x_new = x + probe if lo <= x + probe <= hi else x - probe
    else:
        x1, g1, _ = pts[-2]
        if g1 == g:
            x_new = x + 2.0 * (x - x1)  # flat: no slope to follow, widen the search
        else:
            x_new = x - g * (x - x1) / (g - g1)  # secant, extrapolating to the sign change
            reach = _MAX_EXTRAPOLATION * abs(x - x1)
            x_new = min(max(x_new, x - reach), x + reach)
    x_new = min(max(x_new, lo), hi)
    if any(abs(x_new - p[0]) < 1e-9 for p in pts):
        return None, "at the band's edge (the root lies outside the band)"
    return x_new, ""


def bracketed_root(
    f: Callable[[float], tuple[float, Any]],
    x0: float,
    probe: float,
    band: tuple[float, float],
    steps: int,
    done: Callable[[float, Any], bool],
    min_width: float,
) -> tuple[list[Point], str]:
    """Root of a continuous ``g`` on a band from ``x0`` within ``steps`` calls after the first.

    A probe step, secant steps (at most :data:`_MAX_EXTRAPOLATION` times the last step;
    twice the last step on where ``g`` did not change) until ``g`` changes sign, then false
    position inside the narrowest bracket, bisecting when the bracket did not halve in the
    previous step (Brent's safeguard [1]_).

    Parameters
    ----------
    f
        ``x -> (g, payload)``; ``g`` nan stops the search.
    x0, probe, band
        Start, first step and (low, high) of ``x``.
    steps
        Calls of ``f`` after the one at ``x0``.
    done
        ``(g, payload) -> bool``: the stop criterion (converged).
    min_width
        A sign change across a narrower bracket is a jump of ``g``: stop.

    Returns
    -------
    (list, str)
        Every call as ``(x, g, payload)`` in order, and why it stopped: ``"converged"``,
        ``"budget"`` or the reason it could not go on.
    """
    lo, hi = min(band), max(band)
    g0, pl0 = f(x0)
    pts: list[Point] = [(x0, g0, pl0)]
    prev: list[float] = []
    for _ in range(int(steps)):
        if done(pts[-1][1], pts[-1][2]):
            return pts, "converged"
        if not math.isfinite(pts[-1][1]):
            return pts, "no saturation at the measured D50"
        x_new, why = _next_x(pts, probe, lo, hi, min_width, prev)
        if x_new is None:
            return pts, why
        g, pl = f(x_new)
        pts.append((x_new, g, pl))
    return pts, ("converged" if done(pts[-1][1], pts[-1][2]) else "budget")


def refine_on_whole(
    evaluate: Callable[[Mapping[str, float]], tuple[dict[str, Any], Any]],
    fitted: Mapping[str, float],
    band: tuple[float, float],
    steps: int,
    parameter: str = "max_void_diameter_nm",
    saturation_tolerance: float = SATURATION_TOLERANCE,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Re-fit one parameter so the whole volume's curve crosses 50 % at the measured D50.

    :func:`bracketed_root` on ``g = S_sim(D50_meas) - 0.5`` (:func:`saturation_gap`) over
    the parameter's coordinate (log10 of a diameter, the porosity itself).

    Parameters
    ----------
    evaluate
        Whole-volume objective: parameters -> (misfit dict of ``resolved_misfit``, curve).
    fitted
        The parameters fitted on the crop (the start).
    band
        Band (low, high) of the parameter.
    steps
        Whole-volume simulations after the start (0: none).
    parameter
        The parameter re-fitted (a key of :data:`PROBE_STEP`).
    saturation_tolerance
        Converged when ``|g|`` is at most this (saturation), or the D50 within
        :data:`D50_STEP_TOLERANCE_DECADES` of the measured one.

    Returns
    -------
    (dict, dict)
        The kept parameters: the converged set, else the simulated set with the smallest
        ``|g|``; and a report: every step's value, D50 (nm), ``g``, objective and largest
        difference, ``converged``, the stop reason and the tolerances.
    """
    p0 = dict(fitted)

    def params(x: float) -> dict[str, float]:
        return p0 if x == x_start else {**p0, parameter: _value(parameter, x)}

    def f(x: float) -> tuple[float, Any]:
        p = params(x)
        m = evaluate(p)[0]
        return saturation_gap(m), (p, m)

    def met(g: float, payload: Any) -> bool:
        m = payload[1]
        d_s, d_m = float(m["d50_simulated_nm"]), float(m["d50_measured_nm"])
        near = d_s > 0 and d_m > 0 and abs(math.log10(d_s / d_m)) <= D50_STEP_TOLERANCE_DECADES
        return bool(near or abs(g) <= saturation_tolerance)

    x_start = _coordinate(parameter, p0[parameter])
    band_x = (_coordinate(parameter, band[0]), _coordinate(parameter, band[1]))
    pts, reason = bracketed_root(
        f, x_start, PROBE_STEP[parameter], band_x, steps, met, MIN_BRACKET[parameter]
    )
    converged = [pt for pt in pts if met(pt[1], pt[2])]
    finite = [pt for pt in pts if math.isfinite(pt[1])] or pts
    best = converged[-1] if converged else min(finite, key=lambda pt: abs(pt[1]))
    report = {
        "parameter": parameter,
        "meaning": f"{parameter} re-fitted on the whole volume so the simulated curve "
        "crosses 50 % at the measured D50: root of g = S_sim(D50 measured) - 0.5 (smooth in "
        "the parameter, unlike the D50 of a bimodal curve) by a probe, secant steps and "
        "false position / bisection in a bracket, the other fitted values held; kept: the "
        "converged set, else the one with the smallest |g|",
        "steps": [
            {
                parameter: pt[2][0][parameter],
                "d50_simulated_nm": float(pt[2][1]["d50_simulated_nm"]),
                "saturation_gap": pt[1],
                "objective": float(pt[2][1]["objective"]),
                "max_abs": float(pt[2][1]["max_abs"]),
            }
            for pt in pts
        ],
        "converged": bool(converged),
        "stop": reason,
        "d50_tolerance_decades": D50_STEP_TOLERANCE_DECADES,
        "saturation_tolerance": float(saturation_tolerance),
        "crop_value": p0[parameter],
        "selected": best[2][0][parameter],
    }
    return dict(best[2][0]), report


def on_whole(
    prob: Any,
    labels: np.ndarray,
    fitted: dict[str, float],
    free: tuple[str, ...],
    b: dict[str, tuple[float, float]],
    steps: int,
    stages: dict[str, Any],
) -> tuple[dict[str, float], dict[str, Any], Any]:
    """The fitted values on the whole volume ``labels`` (from ``prob``'s cache when the search
    ran on it), after the D50 step there when it applies: the search ran on a crop, ``steps``
    > 0, the D50 weighted and one of :data:`WHOLE_STEP_ORDER` free (the first is re-fitted).
    ``prob``: the calibration's problem (``labels``, ``weights``, ``on(labels)``,
    ``evaluate(p)``)."""
    cropped = prob.labels.shape != np.shape(labels)
    whole = prob.on(labels) if cropped else prob
    name = next((n for n in WHOLE_STEP_ORDER if n in free), None)
    if cropped and steps > 0 and prob.weights["d50_weight"] > 0 and name is not None:
        fitted, stages["whole_volume_d50"] = refine_on_whole(
            whole.evaluate, fitted, b[name], steps, name
        )
    misfit, curve = whole.evaluate(fitted)
    return fitted, misfit, curve
