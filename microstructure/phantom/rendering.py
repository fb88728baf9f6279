"""Ideal SEM rendering of the phantom labels: phase grey values, channelling contrast, texture,
edge brightening, shine-through of the material behind the section plane and the beam PSF."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from microstructure.phantom.params import PhantomParams
from microstructure.volume import Phase

#: bump when the rendering changes the image of the same parameters (cached phantoms of a
#: recipe's ``[phantom]`` section are then made again); 2: shine-through only from pore
#: pixels (2026-12-08)
RENDERING_VERSION = "2"


def _render(
    labels: np.ndarray,
    owner: np.ndarray,
    p: PhantomParams,
    vox_nm: tuple[float, float, float],
    rng: np.random.Generator,
    *,
    chunk: int = 32,
) -> np.ndarray:
    """Ideal SEM grey values (0..1 float32) of every canvas slice (z-chunked, bounded memory)."""
    nz = labels.shape[0]
    lut = np.array(
        [p.intensity_pore, p.intensity_am, p.intensity_cbd, p.intensity_pore], np.float32
    )
    offs = rng.normal(0.0, p.am_particle_contrast, int(owner.max()) + 1).astype(np.float32)
    offs[0] = 0.0
    # white noise of the texture drawn slice by slice from per-slice streams, so z-chunks
    # with halos see exactly the same field
    tex_seeds = rng.integers(0, 2**63, nz)
    halo = 4
    sig_tex = 1.2
    tex_norm = p.texture_strength * math.sqrt(8.0 * math.pi**1.5 * sig_tex**3)
    base = np.empty(labels.shape, np.float32)
    for z0 in range(0, nz, chunk):
        z1 = min(nz, z0 + chunk)
        lab = labels[z0:z1]
        b = lut[lab]
        is_am = lab == Phase.AM.value
        b += offs[owner[z0:z1]]
        if p.texture_strength > 0:
            h0, h1 = max(0, z0 - halo), min(nz, z1 + halo)
            white = np.stack(
                [
                    np.random.default_rng(int(s)).standard_normal(lab.shape[1:], np.float32)
                    for s in tex_seeds[h0:h1]
                ]
            )
            tex = ndimage.gaussian_filter(white, sig_tex)[z0 - h0 : z0 - h0 + (z1 - z0)]
            tex *= tex_norm  # unit variance of the smoothed white noise, times the strength
            tex[lab == Phase.CBD.value] *= 2.0
            tex[~is_am & (lab != Phase.CBD.value)] = 0.0
            b += tex
        if p.edge_brightness > 0:
            edge = ndimage.gaussian_filter((lab == Phase.PORE.value).astype(np.float32), (0, 1, 1))
            np.minimum(edge, 0.5, out=edge)
            edge *= 2.0 * p.edge_brightness
            b[is_am] += edge[is_am]
        if p.rim_brightness > 0:
            b += _rim(lab, p)
        base[z0:z1] = b
    # shine-through: first solid along +z behind each pore pixel, attenuated with depth
    if p.shine_through > 0:
        att = np.float32(math.exp(-vox_nm[0] / p.shine_depth_nm))
        behind = np.full(labels.shape[1:], p.intensity_pore, np.float32)
        weight = np.zeros(labels.shape[1:], np.float32)
        for z in range(nz - 1, -1, -1):
            solid = (labels[z] == Phase.AM.value) | (labels[z] == Phase.CBD.value)
            if z < nz - 1:  # pores of slice z show the surface met behind them
                pore = ~solid
                contrib = p.shine_through * weight * (behind - p.intensity_pore)
                # only pore pixels see through; their light spreads (sigma 1 px) but the
                # material behind a solid pixel of this slice lends nothing to its neighbours
                contrib[solid] = 0.0
                contrib = ndimage.gaussian_filter(contrib, 1.0)
                base[z][pore] += contrib[pore]
            # slice z becomes the nearest layer behind slice z - 1
            weight = np.where(solid, att, weight * att)
            surface = base[z] + p.pore_back_brightness if p.pore_back_brightness > 0 else base[z]
            behind = np.where(solid, surface, behind)
    for z in range(nz):
        if p.psf_sigma_px > 0:
            base[z] = ndimage.gaussian_filter(base[z], p.psf_sigma_px)
        np.clip(base[z], 0.0, 1.0, out=base[z])
    return base


def _rim(lab: np.ndarray, p: PhantomParams) -> np.ndarray:
    """SE edge effect: ``rim_brightness`` on solid pixels next to a pore in the section plane,
    spread over ``rim_width_px`` (a Gaussian normalised to 1 on a straight rim), solid only."""
    pore = lab == Phase.PORE.value
    solid = (lab == Phase.AM.value) | (lab == Phase.CBD.value)
    plane = np.zeros((3, 3, 3), bool)
    plane[1] = ndimage.generate_binary_structure(2, 1)
    rim = (solid & ndimage.binary_dilation(pore, plane)).astype(np.float32)
    w = p.rim_width_px
    if w > 0:
        rim = ndimage.gaussian_filter(rim, (0, w, w)) * np.float32(math.sqrt(2 * math.pi) * w)
        np.minimum(rim, 1.0, out=rim)
    rim *= np.float32(p.rim_brightness)
    rim[~solid] = 0.0
    return rim
