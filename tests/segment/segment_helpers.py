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


@functools.lru_cache(maxsize=8)
def shine_through_spheres(
    shape=(48, 96, 96),
    *,
    attenuation_slices: float = 3.0,
    strength: float = 1.0,
    noise: float = 0.03,
    z_blur: float = 0.0,
    seed: int = 0,
):
    """(truth, stack): solid spheres (radius 5-10 voxels, ~45 % solid, grey 0.8 +- 0.03 per
    sphere) in a pore space (0.15), rendered slice by slice with shine-through: a pore pixel of
    slice z shows the solid first met behind it at depth d (slice z + d, milling direction +z)
    with weight ``strength * exp(-d / attenuation_slices)`` (blurred 0.7 px in the plane),
    then an in-plane PSF of 0.7 px (and ``z_blur`` along z) and Gaussian noise."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    zz, yy, xx = np.ogrid[:nz, :ny, :nx]
    solid = np.zeros(shape, bool)
    grey = np.zeros(shape, np.float32)
    while solid.mean() < 0.45:
        r = rng.uniform(5, 10)
        c = rng.uniform(0, 1, 3) * np.array(shape)
        ball = (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= r * r
        grey[ball & ~solid] = 0.8 + rng.normal(0, 0.03)
        solid |= ball
    pore = 0.15
    img = np.where(solid, grey, pore).astype(np.float32)
    if strength > 0:
        behind = np.full((ny, nx), pore, np.float32)  # grey of the solid met behind
        depth = np.full((ny, nx), np.inf, np.float32)  # slices to it
        for z in range(nz - 1, -1, -1):
            depth += 1
            if z < nz - 1:
                w = strength * np.exp(-depth / attenuation_slices)
                add = ndimage.gaussian_filter(w * (behind - pore), 0.7)
                img[z][~solid[z]] += add[~solid[z]]
            depth = np.where(solid[z], 0.0, depth)
            behind = np.where(solid[z], img[z], behind)
    img = ndimage.gaussian_filter(img, (z_blur, 0.7, 0.7))
    img += rng.normal(0, noise, shape).astype(np.float32)
    solid.setflags(write=False)
    img.setflags(write=False)
    return solid, img
