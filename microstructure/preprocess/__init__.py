"""FIB/SEM preprocessing: tilt correction, curtaining removal, NLM denoising, slice alignment.

Public entry points (see ARCHITECTURE.md): :func:`correct_tilt`, :func:`remove_curtaining`,
:func:`denoise_nl_means`, :func:`align_slices`; the ``*_report`` variants also return a
JSON-ready dict of what was done (used by the pipeline stages).
"""

from microstructure.preprocess.align import align_slices, align_slices_report, apply_shifts
from microstructure.preprocess.curtaining import (
    remove_curtaining,
    remove_curtaining_report,
    stripe_metrics,
)
from microstructure.preprocess.denoise import (
    denoise_nl_means,
    denoise_nl_means_report,
    estimate_noise_sigma,
)
from microstructure.preprocess.geometry import (
    correct_tilt,
    correct_tilt_report,
    crop_stack,
    normalize_intensity,
)

__all__ = [
    "correct_tilt",
    "correct_tilt_report",
    "crop_stack",
    "normalize_intensity",
    "remove_curtaining",
    "remove_curtaining_report",
    "stripe_metrics",
    "denoise_nl_means",
    "denoise_nl_means_report",
    "estimate_noise_sigma",
    "align_slices",
    "align_slices_report",
    "apply_shifts",
]
