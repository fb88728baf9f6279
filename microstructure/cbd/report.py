"""Report on a CBD-bearing labels volume: amounts, contacts, clusters and contact angle."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

from microstructure.cbd._voxels import _edt
from microstructure.volume import Phase, check_labels, parse_voxel_size

__all__ = ["cbd_report", "measure_contact_angle"]


def measure_contact_angle(
    labels: np.ndarray,
    *,
    voxel_size_nm: Any,
    am_label: int = Phase.AM,
    fit_radius_voxels: float = 3.0,
    max_samples: int = 5000,
    seed: int = 0,
) -> dict[str, Any]:
    """Contact angle of the CBD at the active material, measured on the voxels.

    Samples are the CBD/pore faces whose CBD voxel touches the active material (the
    three-phase line). At each, the solid normal ``n_s`` is the gradient of the signed
    distance to the AM (central differences) and the CBD/pore interface normal ``n_lg`` is
    the least-variance axis of the CBD/pore face centres within ``fit_radius_voxels``
    (oriented from CBD into pore). The angle through the CBD is ``arccos(n_s . n_lg)``.

    Voxel staircases bias small angles up (a one-voxel step cannot represent a wedge
    flatter than about 15-25 deg at 3-voxel fits); see ``docs/validation_cbd.md``.

    Parameters
    ----------
    labels
        Labels volume: CBD is labels 2 and 3, pore label 0, AM ``am_label``.
    voxel_size_nm
        Voxel size (z, y, x) in nm.
    am_label
        Label of the active material.
    fit_radius_voxels
        Radius of the interface patch fitted at each sample, in voxels (geometric mean edge).
    max_samples
        Random subsample of contact-line faces (seeded) to bound the cost.
    seed
        Seed of the subsampling.

    Returns
    -------
    dict
        ``mean_deg``, ``median_deg``, ``std_deg``, ``samples`` (count) and ``angles_deg``
        (array); ``None`` statistics when there is no contact line.
    """
    lab = check_labels(labels, name="labels")
    vs = parse_voxel_size(voxel_size_nm)
    if fit_radius_voxels < 1.0:
        raise ValueError(f"fit_radius_voxels: must be >= 1, got {fit_radius_voxels}")
    am = lab == am_label
    cbd = (lab == Phase.CBD) | (lab == Phase.CBD_PORE)
    gas = lab == Phase.PORE
    pts, normals, cvox = [], [], []
    for axis in range(3):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis] = slice(None, -1)
        hi[axis] = slice(1, None)
        e = np.zeros(3, dtype=np.int64)
        e[axis] = 1
        for cbd_side, gas_side, sign, shift in (
            (cbd[tuple(lo)], gas[tuple(hi)], 1.0, 0),
            (gas[tuple(lo)], cbd[tuple(hi)], -1.0, 1),
        ):
            i = np.argwhere(cbd_side & gas_side)
            pts.append(i + 0.5 * e)
            n = np.zeros((len(i), 3))
            n[:, axis] = sign
            normals.append(n)
            cvox.append(i + shift * e)
    p_all = np.concatenate(pts) * np.asarray(vs)
    n_all = np.concatenate(normals)
    c_all = np.concatenate(cvox)
    empty = {"mean_deg": None, "median_deg": None, "std_deg": None, "samples": 0}
    if c_all.size == 0:
        return {**empty, "angles_deg": np.zeros(0)}
    near_am = ndi.binary_dilation(am, ndi.generate_binary_structure(3, 1))
    samples = np.flatnonzero(near_am[tuple(c_all.T)])
    if samples.size == 0:
        return {**empty, "angles_deg": np.zeros(0)}
    rng = np.random.default_rng(seed)
    if samples.size > max_samples:
        samples = rng.choice(samples, size=max_samples, replace=False)
    sd = _edt(~am, vs) - _edt(am, vs)
    shape = np.asarray(lab.shape)
    tree = cKDTree(p_all)
    h = float(np.prod(vs) ** (1.0 / 3.0))
    neighbours = tree.query_ball_point(p_all[samples], fit_radius_voxels * h)
    angles = []
    for k, nb in zip(samples, neighbours, strict=True):
        if len(nb) < 6:
            continue
        v = c_all[k]
        g = np.empty(3)
        for axis in range(3):
            e = np.zeros(3, dtype=np.int64)
            e[axis] = 1
            up = np.minimum(v + e, shape - 1)
            dn = np.maximum(v - e, 0)
            g[axis] = (sd[tuple(up)] - sd[tuple(dn)]) / (max(up[axis] - dn[axis], 1) * vs[axis])
        norm = np.linalg.norm(g)
        if norm == 0:
            continue
        q = p_all[nb] - p_all[nb].mean(axis=0)
        _, vecs = np.linalg.eigh(q.T @ q)
        n_lg = vecs[:, 0]
        if n_lg @ n_all[nb].mean(axis=0) < 0:
            n_lg = -n_lg
        angles.append(math.degrees(math.acos(max(-1.0, min(1.0, float(g @ n_lg) / norm)))))
    a = np.asarray(angles)
    if a.size == 0:
        return {**empty, "angles_deg": a}
    return {
        "mean_deg": float(a.mean()),
        "median_deg": float(np.median(a)),
        "std_deg": float(a.std()),
        "samples": int(a.size),
        "angles_deg": a,
    }


def _particle_pairs(particles: np.ndarray, where: np.ndarray, reach: int) -> set[tuple[int, int]]:
    """Pairs (i, j) of particle ids both within ``reach`` voxels (cube) of a ``where`` voxel."""
    size = 2 * reach + 1
    p = particles.astype(np.int64)
    big = int(p.max()) + 1  # (np.iinfo max overflows through the filter's float cval)
    hi = ndi.maximum_filter(p, size=size, mode="constant", cval=0)
    lo = ndi.minimum_filter(np.where(p > 0, p, big), size=size, mode="constant", cval=big)
    found: set[tuple[int, int]] = set()
    # a voxel of particle k pairs k with its neighbours; a non-particle voxel pairs the
    # smallest and largest particle id around it
    own = np.where(where, p, 0)
    for a, b in (
        (np.where(own > 0, own, lo), hi),
        (lo, np.where(own > 0, own, hi)),
    ):
        sel = where & (hi > 0) & (lo < big) & (a != b)
        if sel.any():
            pairs = np.unique(np.stack([a[sel], b[sel]], axis=1), axis=0)
            found.update((int(min(x, y)), int(max(x, y))) for x, y in pairs)
    return found


def cbd_report(
    labels: np.ndarray,
    *,
    voxel_size_nm: Any,
    am_label: int = Phase.AM,
    am_particles: np.ndarray | None = None,
    contact_angle: bool = True,
    contacts: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """JSON-ready report of the CBD in a labels volume.

    Parameters
    ----------
    labels
        Labels volume (0 pore, 1 AM, 2 CBD, 3 CBD pore).
    voxel_size_nm
        Voxel size (z, y, x) in nm.
    am_label
        Label of the active material.
    am_particles
        Optional integer array of AM particle ids (0 = not AM), e.g. from the generator of a
        packing or a watershed; default: the particle watershed of
        :func:`microstructure.segment.cleanup.separate_particles`.
    contact_angle
        Also measure the contact angle (:func:`measure_contact_angle`).
    contacts
        Also count the AM particle contacts and those bridged by CBD. Without ``am_particles``
        this partitions the AM by the particle watershed
        (:func:`~microstructure.segment.cleanup.separate_particles`), the costly part of the
        report on large volumes; ``False`` leaves the ``am_*`` contact entries out.
    seed
        Seed of the contact-angle subsampling.

    Returns
    -------
    dict
        ``cbd_envelope_fraction`` (labels 2 + 3 of the volume), ``cbd_solid_fraction``,
        ``cbd_porosity`` (3 / (2 + 3)), ``pore_fraction``, ``am_fraction``,
        ``cbd_fraction_touching_am`` (CBD voxels with an AM face neighbour / CBD voxels),
        ``am_contacts`` / ``am_contacts_bridged`` (touching particle pairs, and those with CBD
        touching both), ``cbd_clusters`` (count, volumes in um^3: largest, mean, volume-weighted
        median, largest fraction), ``contact_angle`` (mean/median/std deg, samples).
    """
    lab = check_labels(labels, name="labels")
    vs = parse_voxel_size(voxel_size_nm)
    n = lab.size
    am = lab == am_label
    cbd = (lab == Phase.CBD) | (lab == Phase.CBD_PORE)
    n_cbd = int(cbd.sum())
    n_solid = int((lab == Phase.CBD).sum())
    voxel_um3 = float(np.prod(vs)) * 1e-9
    touching = cbd & ndi.binary_dilation(am, ndi.generate_binary_structure(3, 1))
    rep: dict[str, Any] = {
        "voxel_size_nm": list(vs),
        "am_fraction": float(am.sum() / n),
        "pore_fraction": float((lab == Phase.PORE).sum() / n),
        "cbd_envelope_fraction": n_cbd / n,
        "cbd_solid_fraction": n_solid / n,
        "cbd_porosity": float((n_cbd - n_solid) / n_cbd) if n_cbd else None,
        "cbd_fraction_touching_am": float(touching.sum() / n_cbd) if n_cbd else None,
    }
    # clusters of CBD (26-connected)
    cl, n_cl = ndi.label(cbd, structure=np.ones((3, 3, 3), dtype=bool))
    if n_cl:
        sizes = np.bincount(cl.ravel())[1:].astype(np.float64)
        order = np.sort(sizes)
        cum = np.cumsum(order) / order.sum()
        v_median = float(order[np.searchsorted(cum, 0.5)])
        rep["cbd_clusters"] = {
            "count": int(n_cl),
            "largest_um3": float(order[-1] * voxel_um3),
            "mean_um3": float(order.mean() * voxel_um3),
            "volume_weighted_median_um3": v_median * voxel_um3,
            "largest_fraction": float(order[-1] / order.sum()),
        }
    else:
        rep["cbd_clusters"] = {"count": 0}
    if contacts:
        rep.update(_contacts(lab, am, cbd, vs, am_particles))
    if contact_angle and n_cbd:
        ca = measure_contact_angle(lab, voxel_size_nm=vs, am_label=am_label, seed=seed)
        rep["contact_angle"] = {k: v for k, v in ca.items() if k != "angles_deg"}
    return rep


def _contacts(
    lab: np.ndarray,
    am: np.ndarray,
    cbd: np.ndarray,
    vs: tuple[float, float, float],
    am_particles: np.ndarray | None,
) -> dict[str, Any]:
    """Touching AM particle pairs and those with CBD touching both."""
    if am_particles is None:
        particles = _partition_am(am, vs)
    else:
        particles = np.asarray(am_particles)
        if particles.shape != lab.shape:
            raise ValueError(
                f"am_particles: shape {particles.shape} differs from labels {lab.shape}"
            )
        particles = np.where(am, particles, 0)
    contacts = _particle_pairs(particles, am, 1)
    bridged = _particle_pairs(particles, cbd, 1) & contacts if cbd.any() else set()
    return {
        "am_particles": int(len(np.unique(particles)) - (1 if (particles == 0).any() else 0)),
        "am_contacts": len(contacts),
        "am_contacts_bridged": len(bridged),
        "am_contacts_bridged_fraction": len(bridged) / len(contacts) if contacts else None,
    }


def _partition_am(am: np.ndarray, vs: tuple[float, float, float]) -> np.ndarray:
    """AM particle ids by the project's particle watershed (anisotropic voxels,
    :func:`microstructure.segment.cleanup.separate_particles` with its defaults)."""
    from microstructure.segment.cleanup import separate_particles

    if not am.any():
        return np.zeros(am.shape, dtype=np.int64)
    return np.asarray(separate_particles(am, voxel_size_nm=vs), dtype=np.int64)
