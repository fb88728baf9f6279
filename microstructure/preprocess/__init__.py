"""FIB/SEM preprocessing: tilt correction, curtaining removal, NLM denoising, slice alignment.

Public entry points (see ARCHITECTURE.md): :func:`correct_tilt` (and :func:`correct_geometry`,
the crop -> tilt -> normalisation chain of the ``geometry`` stage), :func:`remove_curtaining`,
:func:`denoise_nl_means`, :func:`align_slices`. Each takes a numpy array (numpy result) or a
Dask or Zarr array (lazy result with the same numbers, computed slab by slab with the engine of
:mod:`microstructure.parallel`), plus ``chunks=None, resume_dir=None``; the options that cannot
run chunked are declared on the function (:func:`microstructure.parallel.support.
chunked_support`). The ``*_report`` variants also return a JSON-ready dict of what was done
(used by the pipeline stages).

References
----------
Beuse, T. et al. (2021). Batteries 7, 70 (porosity methods and the FIB/SEM model this package
follows). doi:10.3390/batteries7040070
"""

from microstructure.preprocess._align_quality import face_recession_nm_per_slice
from microstructure.preprocess.align import align_slices, align_slices_report, apply_shifts
from microstructure.preprocess.curtaining import (
    curtaining_z_halo,
    remove_curtaining,
    remove_curtaining_report,
    stripe_metrics,
)
from microstructure.preprocess.denoise import (
    denoise_nl_means,
    denoise_nl_means_report,
    estimate_noise,
    estimate_noise_sigma,
)
from microstructure.preprocess.geometry import (
    correct_geometry,
    correct_tilt,
    correct_tilt_report,
    crop_stack,
    normalize_intensity,
)

__all__ = [
    "correct_tilt",
    "correct_tilt_report",
    "correct_geometry",
    "crop_stack",
    "normalize_intensity",
    "remove_curtaining",
    "remove_curtaining_report",
    "curtaining_z_halo",
    "stripe_metrics",
    "denoise_nl_means",
    "denoise_nl_means_report",
    "estimate_noise_sigma",
    "estimate_noise",
    "face_recession_nm_per_slice",
    "align_slices",
    "align_slices_report",
    "apply_shifts",
]
