"""Result of the CBD calibration (:class:`CbdCalibration`, built by
:func:`microstructure.cbd.calibrate_cbd`).

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. https://doi.org/10.3390/batteries7040070
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CbdCalibration", "DETERMINED_FRACTION"]

#: A fitted parameter counts as determined by the curve when its sensitivity is below this
#: fraction of its band (the +- interval covers at most half the band).
DETERMINED_FRACTION = 0.25


@dataclass
class CbdCalibration:
    """Result of :func:`calibrate_cbd` (values in the units of their names).

    ``misfit`` compares the returned ``simulated`` curve (the fitted parameters on the whole
    volume) with the measured one; ``fit_misfit`` is the same on the volume the search ran on
    (a representative crop when ``max_voxels`` cut the volume, else equal to ``misfit``).
    ``realisation_misfit`` compares the fitted curve with another realisation (seed + 1) of
    the same parameters on that volume: the floor no parameter change can go below.
    """

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
    fit_misfit: dict[str, Any] = field(default_factory=dict)
    realisation_misfit: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, dict[str, Any]] = field(default_factory=dict)
    stages: dict[str, Any] = field(default_factory=dict)

    def quality(self) -> dict[str, Any]:
        """Quality block: the fitted curve within the tolerance (and within the realisation
        spread) at every diameter; every free parameter determined by the curve (sensitivity
        below a quarter of its band, :data:`DETERMINED_FRACTION`)."""
        from microstructure.quality import check, quality_block

        tol = float(self.settings.get("tolerance", 0.02))
        checks = {
            "fit_max_difference": check(
                self.misfit.get("max_abs"),
                tol,
                meaning="largest difference of the fitted and measured cumulative curves "
                "(saturation of the resolved range)",
            ),
            "fit_vs_realisations": check(
                self.fit_misfit.get("max_abs"),
                max(tol, float(self.realisation_misfit.get("max_abs", 0.0))),
                meaning="largest fitted-vs-measured difference against the spread of two "
                "realisations of the fitted model (or the tolerance)",
            ),
        }
        for name in self.free:
            lo, hi = self.bounds[name]
            checks[f"determined_{name}"] = check(
                self.sensitivity[name],
                DETERMINED_FRACTION * (hi - lo),
                meaning=f"sensitivity of {name} against a quarter of its band (the curve "
                "narrows the band to at most half its width)",
            )
        return quality_block(checks)

    def covers(self, values: dict[str, float]) -> dict[str, bool]:
        """For each free parameter in ``values``: whether the value lies within the stated
        sensitivity of the fitted one (always true for a parameter not determined)."""
        return {
            name: bool(abs(float(v) - self.parameters[name]) <= self.sensitivity[name])
            for name, v in values.items()
            if name in self.free
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready numbers (curves left out; see the overlay figure and the CSV)."""

        def clean(m: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in m.items() if not isinstance(v, np.ndarray)}

        return {
            "parameters": self.parameters,
            "free": list(self.free),
            "bounds": {k: list(v) for k, v in self.bounds.items()},
            "sensitivity": {
                k: (v if math.isfinite(v) else None) for k, v in self.sensitivity.items()
            },
            "sensitivity_meaning": "half-width around the fitted value that covers (a) the "
            "range of the parameter over the tolerance set: every simulated parameter set whose "
            "curve is within the tolerance (saturation) of the measured or of the fitted curve "
            "at every diameter of the resolved range, pushed outwards along its trade-offs "
            "(profile.*.tolerance_set: low, high, members) and (b) the change whose systematic "
            "effect moves the curve by the tolerance with the other free parameters re-fitted "
            "(linearised profile with jump allowance, profile.*.linearised); null: the curve "
            "does not determine the parameter (no systematic effect, or the tolerance set "
            "spans its band). The tolerance set is an inner estimate (only simulated sets "
            "count). profile.*.realisation_limited: the change whose effect equals the spread "
            "of two realisations (the limit against a real measurement)",
            "profile": self.profile,
            "misfit": clean(self.misfit),
            "fit_misfit": clean(self.fit_misfit),
            "start_misfit": clean(self.start_misfit),
            "realisation_misfit": clean(self.realisation_misfit),
            "stages": self.stages,
            "evaluations": self.evaluations,
            "seconds": self.seconds,
            "resolved_range_nm": list(self.range_nm),
            "settings": self.settings,
            "quality": self.quality(),
        }
