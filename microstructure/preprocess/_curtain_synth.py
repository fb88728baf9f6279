"""Synthetic curtains of known field over a structured stack (tests and the curtaining
benchmark): dense, narrow (1-3 px), tilted, starting at the top and fading out over random
lengths, with statistics unlike the phantom's (which draws its curtains from pore rims).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["SyntheticCurtains", "synthetic_curtains", "structured_stack"]


@dataclass
class SyntheticCurtains:
    """``image = clean + curtain + noise`` (z, y, x) float32."""

    image: np.ndarray
    clean: np.ndarray
    curtain: np.ndarray
    angle_deg: float


def structured_stack(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """Two phases with sharp edges (blobs ~12 px, z-coherent) plus soft texture, in 0.2..0.8."""
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.normal(size=shape), (2.0, 5.0, 5.0), mode="wrap")
    phase = field > np.quantile(field, 0.55)
    tex = ndimage.gaussian_filter(rng.normal(size=shape), (1.0, 2.0, 2.0), mode="wrap")
    tex *= 0.04 / max(float(tex.std()), 1e-12)
    return (np.where(phase, 0.7, 0.3) + tex).astype(np.float32)


def synthetic_curtains(
    shape: tuple[int, int, int] = (24, 160, 160),
    *,
    angle_deg: float = 2.0,
    density: float = 0.35,
    amplitude: float = 0.1,
    noise: float = 0.03,
    seed: int = 0,
    clean: np.ndarray | None = None,
) -> SyntheticCurtains:
    """Dense narrow curtains tilted by ``angle_deg`` (positive: x grows downwards).

    About ``density`` of the columns start a curtain (width 1-3 px, amplitude of random
    sign, ``amplitude`` * U(0.3, 1)) at the top; each fades out linearly over a random
    length of 0.3-1.5 slice heights and drifts slowly in strength from slice to slice.
    Rendered by area sampling along x (no aliasing of the tilted edges).
    """
    nz, ny, nx = shape
    rng = np.random.default_rng(seed + 1000)
    base = structured_stack(shape, seed) if clean is None else np.asarray(clean, np.float32)
    n = max(1, int(round(density * nx / 2.0)))
    x0 = rng.uniform(-0.1 * nx, 1.05 * nx, n)
    width = rng.integers(1, 4, n).astype(float)
    amp = rng.choice([-1.0, 1.0], n) * amplitude * rng.uniform(0.3, 1.0, n)
    length = rng.uniform(0.3, 1.5, n) * ny
    t = math.tan(math.radians(angle_deg))
    yy = np.arange(ny, dtype=float)[:, None]
    xx = np.arange(nx, dtype=float)[None, :]
    curtain = np.zeros(shape, np.float32)
    drift = 1.0 + 0.2 * np.cumsum(rng.normal(0, 0.1, (nz, n)), axis=0)
    for i in range(n):
        left = x0[i] + t * yy
        # area of [x, x+1) covered by [left, left + width)
        cover = np.clip(np.minimum(xx + 1, left + width[i]) - np.maximum(xx, left), 0, 1)
        fade = np.clip(1.0 - yy / length[i], 0.0, 1.0)
        prof = (amp[i] * cover * fade).astype(np.float32)
        curtain += drift[:, i, None, None].astype(np.float32) * prof[None]
    rn = np.random.default_rng(seed + 2000)
    image = base + curtain + rn.normal(0, noise, shape).astype(np.float32)
    return SyntheticCurtains(image.astype(np.float32), base, curtain, float(angle_deg))
