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
    "PRESETS",
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
        default ``clip(0.08 n, 8, 48)`` per axis, widened in y and x to hold the whole drift
        when drift jumps are on. Drift larger than the margin shows edge values.

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

    Realistic acquisition (each 0 = off by default; all on in ``PRESETS["realistic"]``)
    ----------------------------------------------------------------------------------
    pore_back_brightness
        Extra brightness of the surfaces seen through pores (pore backs are bright in SE/BSE
        images); it shines through with ``shine_through`` and ``shine_depth_nm``.
    rim_brightness, rim_width_px
        SE edge effect: extra brightness of every solid (AM and CBD) pixel on a pore rim in
        the section plane, spread over ``rim_width_px``.
    shading_amplitude, shading_scale, depth_gradient
        Low-frequency multiplicative shading across the field (relative std; correlation
        length as a fraction of the larger image side) and a linear brightness drop along y
        (relative, top to bottom).
    noise_psf_px
        Gaussian noise PSF (pixels): the Poisson and Gaussian noise is filtered in-plane by it
        and rescaled to the same variance (band-limited, correlated noise; 0 = white).
    dense_curtain_strength, dense_curtain_density, dense_curtain_width_px, curtain_tilt_deg
        Dense narrow curtains: amplitude, stripes per 100 px of x, (min, max) width px, tilt
        (deg, x grows with y); they start at pores/edges near the top and fade down.
    charging_strength, charging_length_px
        Bright horizontal streaks trailing bright features along x: peak amplitude and decay
        length (pixels).
    slice_jitter
        Relative standard deviation of the slice thickness; the true slice positions are
        recorded (``Phantom.slice_positions_px``).
    drift_jump_probability, drift_jump_px
        Per-slice probability of a sudden drift jump and its mean length (pixels), on top of
        the random walk.
    curtain_frame
        ``"image"`` (curtains stay put in the acquired frame while the structure drifts) or
        ``"sample"`` (curtains are grooves of the milled face and drift with it, as the column
        pattern of the real Helios slices does: ``docs/scripts/curtain_frame_check.py``).
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
    # realistic acquisition (off by default)
    pore_back_brightness: float = 0.0
    rim_brightness: float = 0.0
    rim_width_px: float = 0.7
    shading_amplitude: float = 0.0
    shading_scale: float = 0.4
    depth_gradient: float = 0.0
    noise_psf_px: float = 0.0
    dense_curtain_strength: float = 0.0
    dense_curtain_density: float = 25.0
    dense_curtain_width_px: tuple[float, float] = (1.0, 3.0)
    curtain_tilt_deg: float = 0.0
    charging_strength: float = 0.0
    charging_length_px: float = 12.0
    slice_jitter: float = 0.0
    drift_jump_probability: float = 0.0
    drift_jump_px: float = 6.0
    curtain_frame: str = "image"

    def __post_init__(self) -> None:
        self._check_geometry()
        self._check_rendering()
        self._check_artefacts()
        self._check_realistic()

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

    def _check_realistic(self) -> None:
        s = object.__setattr__
        inf = math.inf
        ranges = {
            "pore_back_brightness": (0.0, 1.0),
            "rim_brightness": (0.0, 0.5),
            "rim_width_px": (0.0, 5.0),
            "shading_amplitude": (0.0, 0.5),
            "shading_scale": (0.01, 2.0),
            "depth_gradient": (-1.0, 1.0),
            "noise_psf_px": (0.0, 4.0),
            "dense_curtain_strength": (0.0, 1.0),
            "dense_curtain_density": (0.01, 100.0),
            "curtain_tilt_deg": (-20.0, 20.0),
            "charging_strength": (0.0, 1.0),
            "charging_length_px": (0.5, inf),
            "slice_jitter": (0.0, 0.5),
            "drift_jump_probability": (0.0, 1.0),
            "drift_jump_px": (0.0, 1e4),
        }
        for name, (lo, hi) in ranges.items():
            s(self, name, _check_range(name, getattr(self, name), lo, hi))
        if self.curtain_frame not in ("image", "sample"):
            raise ValueError(
                f"curtain_frame: expected 'image' or 'sample', got {self.curtain_frame!r}"
            )
        w = _pair("dense_curtain_width_px", self.dense_curtain_width_px)
        if not (0 < w[0] <= w[1] <= 1000):
            raise ValueError(
                f"dense_curtain_width_px: expected 0 < min <= max <= 1000 pixels, got {w}"
            )
        s(self, "dense_curtain_width_px", w)

    def switches(self) -> dict[str, bool]:
        """Which acquisition effects are on (the ``truth.json`` record of the switches)."""
        return {
            "shine_through": self.shine_through > 0,
            "pore_back_brightness": self.pore_back_brightness > 0,
            "edge_brightness": self.edge_brightness > 0,
            "rim_brightness": self.rim_brightness > 0,
            "shading": self.shading_amplitude > 0 or self.depth_gradient != 0,
            "band_limited_noise": self.noise_psf_px > 0,
            "curtains": self.curtain_strength > 0,
            "dense_curtains": self.dense_curtain_strength > 0,
            "charging": self.charging_strength > 0,
            "slice_jitter": self.slice_jitter > 0,
            "drift_random_walk": max(self.drift_step_px) > 0,
            "drift_trend": any(v != 0 for v in self.drift_trend_px),
            "drift_jumps": self.drift_jump_probability > 0 and self.drift_jump_px > 0,
            "tilt": self.tilt,
        }

    @classmethod
    def preset(cls, name: str = "default", **overrides: Any) -> PhantomParams:
        """Parameters of a named preset (``PRESETS``), with ``overrides`` replacing fields."""
        if name not in PRESETS:
            raise ValueError(
                f"preset: unknown phantom preset {name!r}; known: {', '.join(PRESETS)}"
            )
        return cls(**{**PRESETS[name], **overrides})

    @classmethod
    def realistic(cls, **overrides: Any) -> PhantomParams:
        """The ``realistic`` preset: every acquisition effect on (see ``PRESETS``)."""
        return cls.preset("realistic", **overrides)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary of all parameters."""
        return {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()
        }


#: Named parameter sets. ``default`` is the phantom of the bundled sample; ``realistic`` turns
#: every acquisition effect on, calibrated on the real images in ``../shared/validation/`` by
#: ``python benchmarks/calibrate_phantom.py`` (its output is quoted; pixels at the phantom's
#: 60 nm voxels unless said otherwise):
#:
#: * noise: ``nanomesh_nanopores3d.npy`` flat solid tiles: std 0.035-0.041 (0..1), 0.15-0.18 of
#:   the solid-pore contrast, power spectrum falling ~3 decades from f = 0.05 to 0.47 cycles/px,
#:   fitted Gaussian noise PSF sigma 0.85-0.92 px. The same estimator on the realistic phantom
#:   gives 0.87 px, PSD ratio 0.0022 and noise 0.148 of the contrast with ``noise_psf_px = 1.0``
#:   (the phantom's texture and beam PSF add to the fit), so the default noise level (std about
#:   0.08 at AM grey) is kept. The Helios slices have nearly white noise (PSF 0.21-0.23 px,
#:   std 0.061).
#: * curtains: Helios slice 001 face: stripe width (autocorrelation FWHM) 2 px, column std
#:   0.003; nanomesh faint streaks: width 6-8 px, column std 0.010-0.023, tilt 0 to -2.6 deg
#:   -> ``dense_curtain_width_px = (1, 3)``, ``dense_curtain_strength = 0.05``,
#:   ``curtain_tilt_deg = 2.0`` (the 1-3 deg of the issue; the Helios face gave 0 deg, so the
#:   tilt is the issue's figure, not a measurement). The classic wide curtains are off.
#: * shading: Helios faces smoothed over 100 px vary by 0.24-0.28 of their mean (structure
#:   included) -> ``shading_amplitude = 0.06`` (about 0.24 peak to peak) and
#:   ``depth_gradient = 0.15``.
#: * drift: Helios phase correlation: steps (dy, dx) = (-2.3, 26.45) and (9.05, 38.55) px at
#:   8.99 nm, i.e. a trend of ~290 nm/slice in x (removed downstream; not simulated) and a
#:   change of the step of (11.35, 12.1) px = ~105 nm -> random-walk step 1.0 px (60 nm) and
#:   jumps of mean 6 px with probability 0.04 per slice.
#: * not calibrated (no real data with a known truth for them): shine-through (strength 1.0,
#:   depth 300 nm), pore-back brightness 0.15, rim brightness 0.12, charging (0.12, 12 px),
#:   slice-thickness jitter 0.1 (relative std).
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "realistic": {
        "shine_through": 1.0,
        "shine_depth_nm": 300.0,
        "pore_back_brightness": 0.15,
        "rim_brightness": 0.12,
        "shading_amplitude": 0.06,
        "depth_gradient": 0.15,
        "noise_psf_px": 1.0,
        "curtain_strength": 0.0,
        "dense_curtain_strength": 0.05,
        "dense_curtain_density": 25.0,
        "dense_curtain_width_px": (1.0, 3.0),
        "curtain_tilt_deg": 2.0,
        "charging_strength": 0.12,
        "charging_length_px": 12.0,
        "slice_jitter": 0.1,
        "drift_step_px": 1.0,
        "drift_jump_probability": 0.04,
        "drift_jump_px": 6.0,
    },
}

#: Overrides that switch every acquisition effect and the noise off while the structure,
#: the drift and the slice positions stay: with ``preset="realistic"`` the artefact-free
#: rendering of the same phantom (the reference that tells what the structure alone does to
#: registration or segmentation).
ARTEFACTS_OFF: dict[str, float] = {
    "shine_through": 0.0,
    "pore_back_brightness": 0.0,
    "rim_brightness": 0.0,
    "shading_amplitude": 0.0,
    "depth_gradient": 0.0,
    "dense_curtain_strength": 0.0,
    "charging_strength": 0.0,
    "noise_psf_px": 0.0,
    "noise_sigma": 0.0,
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
