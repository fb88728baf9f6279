"""Synthetic FIB/SEM stack of a calendered battery cathode with exact ground truth.

The phantom is the reference the whole pipeline is tested against. It builds, in this order:

1. **Geometry** (true, undrifted frame, thickness axis y with the separator side at y = 0):
   polydisperse active-material (AM) secondary particles with log-normal diameters are packed
   by random sequential addition (largest first, a bounded pairwise overlap) in the
   *uncalendered* electrode, which is then compressed along y by ``calender_ratio``.
   Particles flatten less than the electrode (``flatten_exponent``) and bulge sideways to keep
   their volume, so neighbours overlap and flatten against each other as in a calendered
   electrode. Particle surfaces carry a low-order random roughness. A global radius scale is
   solved exactly (a quantile of the particle distance field) when ``target_am_fraction`` is
   given; gap-filling particles are added first if the packing cannot reach it.
   Some particles crack (radial, wavy cracks from the surface inward, mostly parallel to the
   load); closed pores sit well inside particles. The carbon-binder domain (CBD) fills the
   pore voxels with the highest local AM density (necks and crevices between particles,
   cracks and closed pores excluded) up to exactly ``cbd_fraction``.
2. **Ideal SEM rendering** ``clean`` (0..1 float): AM bright with per-particle channelling
   contrast and fine texture, CBD grey and textured, pores dark; edge brightening of AM at
   pore boundaries; **shine-through**: a pore pixel of slice z shows the first solid met along
   +z (material not yet milled), attenuated as ``exp(-depth / shine_depth_nm)``; a Gaussian PSF.
3. **Acquisition** (acquired frame): per-slice **drift** (Gaussian random walk plus an optional
   linear trend), optional **tilt foreshortening** of y by ``sin(tilt_angle_deg)``, additive
   **curtaining** (vertical stripes of random width/strength/sign starting at the top, part of
   them fading out part-way down, varying slowly and appearing/disappearing from slice to
   slice), then Poisson (shot) and Gaussian noise and 8-bit quantisation.

4. **Realistic acquisition** (:mod:`~microstructure.phantom.artefacts`, each on its own switch
   in :class:`PhantomParams`, all off by default so the default phantom is unchanged; all on
   with ``generate_phantom(..., preset="realistic")`` / :meth:`PhantomParams.realistic`):
   bright pore backs seen through pores, SE rim brightening, low-frequency shading and a depth
   gradient along y, band-limited correlated noise (a noise PSF), dense narrow tilted curtains
   starting at pores/edges near the top and fading down, charging streaks trailing bright
   features along x, slice-thickness jitter (true slice positions recorded) and drift jumps on
   top of the random walk. Magnitudes are calibrated on real images
   (``benchmarks/calibrate_phantom.py``; :data:`~microstructure.phantom.params.PRESETS` says
   which statistic came from which file).

Every artefact has its own random stream, so switching one off (strength 0) leaves the
geometry and the other artefacts unchanged. The geometry is computed on a canvas larger than
the field of view (``canvas_margin_px``) so drifted slices show real structure at their edges
and the last slices get shine-through from material behind the stack.

Intensities are floats in 0..1 (``image`` is ``round(255 * value)``).
Coordinates in :attr:`Phantom.particles` are in micrometres in the truth frame: voxel
``(i, j, k)`` has its centre at ``((i + 0.5) vz, (j + 0.5) vy, (k + 0.5) vx)``.

Modules: :mod:`~microstructure.phantom.params` (:class:`PhantomParams` and the defaults),
:mod:`~microstructure.phantom.geometry` (step 1), :mod:`~microstructure.phantom.rendering`
(step 2), :mod:`~microstructure.phantom.acquisition` (step 3),
:mod:`~microstructure.phantom.artefacts` (step 4),
:mod:`~microstructure.phantom.generate` (:func:`generate_phantom`, the truth summary) and
:mod:`~microstructure.phantom.result` (:class:`Phantom`, :func:`save_phantom`).

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into
   the Porosity of Lithium-Ion Battery Electrodes: A Comparative Study on Positive Electrodes
   Based on LiNi0.6Mn0.2Co0.2O2 (NMC622). Batteries 2021, 7, 70.
   https://doi.org/10.3390/batteries7040070 (the FIB/SEM data the phantom imitates)
"""

from microstructure.phantom.generate import generate_phantom
from microstructure.phantom.params import (
    ARTEFACTS_OFF,
    DEFAULT_SHAPE,
    DEFAULT_VOXEL_SIZE_NM,
    PHANTOM_FORMAT_VERSION,
    PRESETS,
    PhantomParams,
)
from microstructure.phantom.result import Phantom, save_phantom

__all__ = [
    "PhantomParams",
    "Phantom",
    "generate_phantom",
    "save_phantom",
    "PHANTOM_FORMAT_VERSION",
    "PRESETS",
    "ARTEFACTS_OFF",
    "DEFAULT_SHAPE",
    "DEFAULT_VOXEL_SIZE_NM",
]
