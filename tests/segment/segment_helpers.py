"""Small preprocessed phantoms shared by the segmentation tests (module-scoped, cached)."""

from __future__ import annotations

import functools

import numpy as np

from microstructure.phantom import generate_phantom

SHAPE = (32, 96, 96)


@functools.lru_cache(maxsize=4)
def preprocessed_phantom(seed: int = 1, shine_through: float = 0.5):
    """(phantom, stack) with drift off, through curtaining removal and NLM denoising.

    Drift is off so the truth labels and the stack share one frame without alignment.
    """
    from microstructure.preprocess.curtaining import remove_curtaining
    from microstructure.preprocess.denoise import denoise_nl_means

    ph = generate_phantom(SHAPE, seed=seed, drift_step_px=0.0, shine_through=shine_through)
    stack = denoise_nl_means(remove_curtaining(ph.image))
    stack.setflags(write=False)
    return ph, stack


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def sparse_scribbles(labels: np.ndarray, *, slices=(4, 16, 28), density=0.05, seed=0):
    """Scribbles a user might paint: a random 5 % of the pixels of a few slices, labelled
    from the truth (1 pore/rest incl. CBD, 2 AM)."""
    rng = np.random.default_rng(seed)
    s = np.zeros(labels.shape, np.uint8)
    for z in slices:
        sel = rng.random(labels.shape[1:]) < density
        s[z][sel] = np.where(labels[z][sel] == 1, 2, 1)
    return s
