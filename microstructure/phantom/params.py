"""Parameters of the phantom: :class:`PhantomParams` (validated) and the module constants."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "PhantomParams",
    "PHANTOM_FORMAT_VERSION",
    "DEFAULT_SHAPE",
    "DEFAULT_VOXEL_SIZE_NM",
]

#: Version of the phantom model and of truth.json (bump when the geometry/rendering changes).
PHANTOM_FORMAT_VERSION = 1
#: Shape of the bundled sample (z, y, x).
DEFAULT_SHAPE = (96, 192, 192)
#: Voxel edge of the bundled sample in nm (isotropic): 5.76 x 11.52 x 11.52 um.
DEFAULT_VOXEL_SIZE_NM = 60.0


# --------------------------------------------------------------------------- parameters


def _check_range(name: str, value: Any, lo: float, hi: float, *, lo_open: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    bad_lo = v <= lo if lo_open else v < lo
    if bad_lo or v > hi:
        left = "(" if lo_open else "["
        raise ValueError(f"{name}: must be in {left}{lo}, {hi}], got {v}")
    return v


@dataclass(frozen=True)
class PhantomParams:
    """All parameters of the phantom (validated; out-of-range values raise ``ValueError``).

    Geometry
    --------
    mean_diameter_um, sigma_log
        Arithmetic mean (um) and log-standard deviation of the log-normal AM particle
        diameter distribution (before truncation).
    min_diameter_um, max_diameter_um
        Truncation of the diameter distribution (um).
    packing_fraction
        Summed sphere volume / domain volume of the random sequential packing in the
        uncalendered electrode.
    max_overlap
        Allowed overlap in that packing: centre distance >= (1 - max_overlap)(r_i + r_j).
    calender_ratio
        Final / initial electrode thickness (1 = uncalendered); compresses along y.
    flatten_exponent
        Particles flatten along y by ``calender_ratio ** flatten_exponent`` (0 = rigid,
        1 = as much as the electrode) and bulge in z and x to keep their volume.
    particle_roughness
        Standard deviation of the low-order surface roughness amplitudes (relative radius).
    target_am_fraction
        If not None (default 0.6, a calendered cathode), the AM volume fraction (closed
        pores and cracks excluded) of the labels
        is made exactly this by a global radius scale (and gap-filling particles if needed).
    crack_fraction, crack_width_nm
        Fraction of particles that are cracked; crack opening at the particle surface (nm).
    closed_porosity_am, closed_pore_diameter_um
        Volume fraction of the AM particles carved as closed internal pores; their mean
        diameter (um).
    cbd_fraction
        CBD volume fraction of the whole volume (exact, in the labels).
    cbd_neck_scale_um
        Smoothing length of the AM density that places the CBD (default: 0.08 x mean
        diameter). Larger values spread the CBD into wider necks.
    canvas_margin_px
        Extra voxels generated around the field of view (y and x on both sides, z behind);
        default ``clip(0.08 n, 8, 48)`` per axis. Drift larger than this shows edge values.

    Rendering (intensities 0..1)
    ----------------------------
    intensity_pore, intensity_cbd, intensity_am
        Mean grey values of the phases.
    am_particle_contrast, texture_strength
        Standard deviation of per-particle AM brightness; amplitude of the fine texture (CBD
        texture is twice as strong).
    edge_brightness
        Extra brightness of AM next to pores in the section plane (SEM edge effect).
    shine_through, shine_depth_nm
        Strength (0 = off, 1 = full contrast right behind the plane) and attenuation depth
        of the material behind the section plane seen through pores.
    psf_sigma_px
        Gaussian blur of the beam in the slice plane (pixels).

    Artefacts (acquired frame)
    --------------------------
    curtain_strength
        Typical amplitude of a curtain stripe (intensity units; 0 = off).
    curtain_density
        Mean number of stripes per 100 pixels of x.
    curtain_width_px
        (min, max) stripe width in pixels (log-uniform).
    curtain_fade_fraction
        Fraction of stripes that fade out part-way down the image (the rest run to the bottom).
    curtain_z_correlation
        Correlation length (slices) of the slow slice-to-slice variation of the stripes.
    noise_sigma
        Standard deviation of additive Gaussian noise (intensity units; 0 = off).
    poisson_counts
        Expected detector counts at intensity 1 for the shot noise (0 = no shot noise).
    drift_step_px
        Standard deviation (acquired pixels) of the per-slice random-walk step, one value or
        (dy, dx); 0 = no random drift.
    drift_trend_px
        Linear drift (dy, dx) in acquired pixels per slice (a structure tilt).
    tilt, tilt_angle_deg
        Foreshorten y by ``sin(tilt_angle_deg)`` in the acquired image (52 deg FIB/SEM).
    """

    # geometry
    mean_diameter_um: float = 3.0
    sigma_log: float = 0.3
    min_diameter_um: float = 1.0
    max_diameter_um: float = 6.0
    packing_fraction: float = 0.5
    max_overlap: float = 0.1
    calender_ratio: float = 0.75
    flatten_exponent: float = 0.5
    particle_roughness: float = 0.04
    target_am_fraction: float | None = 0.6
    crack_fraction: float = 0.3
    crack_width_nm: float = 120.0
    closed_porosity_am: float = 0.015
    closed_pore_diameter_um: float = 0.3
    cbd_fraction: float = 0.10
    cbd_neck_scale_um: float | None = None
    canvas_margin_px: int | None = None
    # rendering
    intensity_pore: float = 0.10
    intensity_cbd: float = 0.42
    intensity_am: float = 0.80
    am_particle_contrast: float = 0.03
    texture_strength: float = 0.03
    edge_brightness: float = 0.08
    shine_through: float = 0.5
    shine_depth_nm: float = 300.0
    psf_sigma_px: float = 0.7
    # artefacts
    curtain_strength: float = 0.08
    curtain_density: float = 6.0
    curtain_width_px: tuple[float, float] = (1.0, 8.0)
    curtain_fade_fraction: float = 0.6
    curtain_z_correlation: float = 15.0
    noise_sigma: float = 0.04
    poisson_counts: float = 150.0
    drift_step_px: float | tuple[float, float] = 0.5
    drift_trend_px: tuple[float, float] = (0.0, 0.0)
    tilt: bool = False
    tilt_angle_deg: float = 52.0

    def __post_init__(self) -> None:
        self._check_geometry()
        self._check_rendering()
        self._check_artefacts()

    def _check_geometry(self) -> None:
        s = object.__setattr__
        inf = math.inf
        s(
            self,
            "mean_diameter_um",
            _check_range("mean_diameter_um", self.mean_diameter_um, 0, inf, lo_open=True),
        )
        s(self, "sigma_log", _check_range("sigma_log", self.sigma_log, 0.0, 2.0))
        s(
            self,
            "min_diameter_um",
            _check_range("min_diameter_um", self.min_diameter_um, 0, inf, lo_open=True),
        )
        s(
            self,
            "max_diameter_um",
            _check_range("max_diameter_um", self.max_diameter_um, 0, inf, lo_open=True),
        )
        if self.max_diameter_um <= self.min_diameter_um:
            raise ValueError(
                f"max_diameter_um: must exceed min_diameter_um ({self.min_diameter_um}), "
                f"got {self.max_diameter_um}"
            )
        s(
            self,
            "packing_fraction",
            _check_range("packing_fraction", self.packing_fraction, 0, 0.75, lo_open=True),
        )
        s(self, "max_overlap", _check_range("max_overlap", self.max_overlap, 0.0, 0.5))
        s(self, "calender_ratio", _check_range("calender_ratio", self.calender_ratio, 0.3, 1.0))
        s(
            self,
            "flatten_exponent",
            _check_range("flatten_exponent", self.flatten_exponent, 0.0, 1.0),
        )
        s(
            self,
            "particle_roughness",
            _check_range("particle_roughness", self.particle_roughness, 0.0, 0.1),
        )
        if self.target_am_fraction is not None:
            s(
                self,
                "target_am_fraction",
                _check_range("target_am_fraction", self.target_am_fraction, 0, 0.9, lo_open=True),
            )
        s(self, "crack_fraction", _check_range("crack_fraction", self.crack_fraction, 0.0, 1.0))
        s(
            self,
            "crack_width_nm",
            _check_range("crack_width_nm", self.crack_width_nm, 0, inf, lo_open=True),
        )
        s(
            self,
            "closed_porosity_am",
            _check_range("closed_porosity_am", self.closed_porosity_am, 0.0, 0.2),
        )
        s(
            self,
            "closed_pore_diameter_um",
            _check_range(
                "closed_pore_diameter_um", self.closed_pore_diameter_um, 0, inf, lo_open=True
            ),
        )
        s(self, "cbd_fraction", _check_range("cbd_fraction", self.cbd_fraction, 0.0, 0.6))
        if self.cbd_neck_scale_um is not None:
            s(
                self,
                "cbd_neck_scale_um",
                _check_range("cbd_neck_scale_um", self.cbd_neck_scale_um, 0, inf, lo_open=True),
            )
        if self.canvas_margin_px is not None:
            m = self.canvas_margin_px
            if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 0:
                raise ValueError(f"canvas_margin_px: expected an integer >= 0, got {m!r}")
            s(self, "canvas_margin_px", int(m))

    def _check_rendering(self) -> None:
        s = object.__setattr__
        inf = math.inf
        for name in ("intensity_pore", "intensity_cbd", "intensity_am"):
            s(self, name, _check_range(name, getattr(self, name), 0.0, 1.0))
        s(
            self,
            "am_particle_contrast",
            _check_range("am_particle_contrast", self.am_particle_contrast, 0.0, 0.3),
        )
        s(
            self,
            "texture_strength",
            _check_range("texture_strength", self.texture_strength, 0.0, 0.3),
        )
        s(self, "edge_brightness", _check_range("edge_brightness", self.edge_brightness, 0.0, 0.5))
        s(self, "shine_through", _check_range("shine_through", self.shine_through, 0.0, 2.0))
        s(
            self,
            "shine_depth_nm",
            _check_range("shine_depth_nm", self.shine_depth_nm, 0, inf, lo_open=True),
        )
        s(self, "psf_sigma_px", _check_range("psf_sigma_px", self.psf_sigma_px, 0.0, 10.0))

    def _check_artefacts(self) -> None:
        s = object.__setattr__
        s(
            self,
            "curtain_strength",
            _check_range("curtain_strength", self.curtain_strength, 0.0, 1.0),
        )
        s(
            self,
            "curtain_density",
            _check_range("curtain_density", self.curtain_density, 0, 100, lo_open=True),
        )
        w = _pair("curtain_width_px", self.curtain_width_px)
        if not (0 < w[0] <= w[1] <= 1000):
            raise ValueError(f"curtain_width_px: expected 0 < min <= max <= 1000 pixels, got {w}")
        s(self, "curtain_width_px", w)
        s(
            self,
            "curtain_fade_fraction",
            _check_range("curtain_fade_fraction", self.curtain_fade_fraction, 0.0, 1.0),
        )
        s(
            self,
            "curtain_z_correlation",
            _check_range("curtain_z_correlation", self.curtain_z_correlation, 0, 1e6, lo_open=True),
        )
        s(self, "noise_sigma", _check_range("noise_sigma", self.noise_sigma, 0.0, 1.0))
        s(self, "poisson_counts", _check_range("poisson_counts", self.poisson_counts, 0.0, 1e9))
        step = self.drift_step_px
        step_pair = (step, step) if isinstance(step, int | float | np.number) else step
        step_pair = _pair("drift_step_px", step_pair)
        if min(step_pair) < 0:
            raise ValueError(f"drift_step_px: must be >= 0 pixels, got {step}")
        s(self, "drift_step_px", step_pair)
        s(self, "drift_trend_px", _pair("drift_trend_px", self.drift_trend_px))
        if not isinstance(self.tilt, bool | np.bool_):
            raise ValueError(f"tilt: expected True or False, got {self.tilt!r}")
        s(self, "tilt", bool(self.tilt))
        s(
            self,
            "tilt_angle_deg",
            _check_range("tilt_angle_deg", self.tilt_angle_deg, 0.0, 90.0, lo_open=True),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary of all parameters."""
        return {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()
        }


def _pair(name: str, value: Any) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected two numbers, got {value!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"{name}: expected finite numbers, got {value!r}")
    return (a, b)


# --------------------------------------------------------------------------- result
