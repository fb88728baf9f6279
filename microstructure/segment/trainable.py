"""Trainable segmentation: a random-forest voxel classifier trained from sparse scribbles.

The user paints a few strokes per phase (the napari widget writes them as a scribble volume
of the same shape as the stack); a random forest learns from multiscale features of the
scribbled voxels and labels every voxel.

Scribble convention: ``0`` = unlabelled, otherwise ``phase code + 1`` (``1`` pore / rest,
``2`` AM, ``3`` CBD, ``4`` CBD pore). Segmenting AM versus the rest needs only values 1 and 2.

Features (per voxel, float32):

* in-slice multiscale features of :func:`skimage.feature.multiscale_basic_features`
  (Gaussian-smoothed intensity, gradient magnitude and Hessian eigenvalues at sigmas from
  ``sigma_min_px`` to ``sigma_max_px``) computed on each slice;
* **3D context**: for every offset ``o`` in ``context_slices`` the difference between the
  smoothed intensity of slice ``z + o`` and slice ``z`` at the two finest sigmas (edge slices
  clamped). Shine-through makes a pore of slice ``z`` look like the material just behind it
  (``z + 1, z + 2 ...``) but dimmer; those differences let the forest learn it.

Each stack is normalised to its own 0.5 / 99.5 percentiles before feature extraction, so a
saved model can be applied to other stacks of the same kind of sample.

A trained model is saved as numbers only: the forest's node arrays in an ``.npz`` archive with
a JSON header (:mod:`microstructure.segment._model_format`). Loading refuses pickle/joblib
files (the format before version 2) and anything else unread, so a model path in a recipe
someone sent cannot run code.

In memory only: the features and the forest need the whole stack (the
:func:`~microstructure.segment.segment_am` declaration refuses ``method="trainable"`` on a
chunked input).

References
----------
.. [1] Breiman, L. (2001). Random forests. *Mach. Learn.* 45, 5-32.
   doi:10.1023/A:1010933404324
.. [2] Arganda-Carreras, I. et al. (2017). Trainable Weka Segmentation: a machine learning
   tool for microscopy pixel classification. *Bioinformatics* 33, 2424-2426.
   doi:10.1093/bioinformatics/btx180
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from microstructure.io.tables import to_jsonable
from microstructure.segment._model_format import MODEL_SUFFIX, load_forest, save_forest
from microstructure.volume import Phase, check_volume

__all__ = [
    "SCRIBBLE_UNLABELLED",
    "DEFAULT_N_ESTIMATORS",
    "FeatureParams",
    "TrainedSegmenter",
    "compute_features",
    "train_segmenter",
    "load_segmenter",
    "segment_trainable",
    "MODEL_SUFFIX",
]

#: Scribble value of unpainted voxels; painted voxels hold ``phase code + 1``.
SCRIBBLE_UNLABELLED = 0
#: trees of the random forest (``train_segmenter``, the ``segment`` stage's ``n_estimators``)
DEFAULT_N_ESTIMATORS = 60
_MODEL_KIND = "microstructure.segment.TrainedSegmenter"
_PHASE_NAMES = {p.value: p.name.lower() for p in Phase}


@dataclass(frozen=True)
class FeatureParams:
    """Feature extraction settings (stored with a trained model).

    Attributes
    ----------
    sigma_min_px, sigma_max_px
        Smallest and largest Gaussian sigma of the in-slice features (pixels).
    num_sigma
        Number of sigmas (log-spaced); None = powers of two from ``sigma_min_px``.
    intensity, edges, texture
        Which in-slice feature families to compute.
    context_slices
        Slice offsets whose intensity differences are added (3D context); () = 2D only.
    """

    sigma_min_px: float = 1.0
    sigma_max_px: float = 8.0
    num_sigma: int | None = None
    intensity: bool = True
    edges: bool = True
    texture: bool = True
    context_slices: tuple[int, ...] = (-1, 1, 2, 3)

    def __post_init__(self) -> None:
        lo, hi = float(self.sigma_min_px), float(self.sigma_max_px)
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi <= 64):
            raise ValueError(
                f"sigma_min_px/sigma_max_px: need 0 < min <= max <= 64 px, got {lo}, {hi}"
            )
        if self.num_sigma is not None and (int(self.num_sigma) < 1 or int(self.num_sigma) > 16):
            raise ValueError(f"num_sigma: expected 1..16 or None, got {self.num_sigma!r}")
        if not (self.intensity or self.edges or self.texture):
            raise ValueError("intensity/edges/texture: at least one feature family is needed")
        ctx = tuple(int(o) for o in self.context_slices)
        if any(o == 0 or abs(o) > 16 for o in ctx) or len(set(ctx)) != len(ctx):
            raise ValueError(
                f"context_slices: expected distinct non-zero offsets within +-16, got {ctx}"
            )
        object.__setattr__(self, "context_slices", ctx)

    def sigmas(self) -> np.ndarray:
        n = self.num_sigma
        if n is None:
            n = int(math.log2(self.sigma_max_px) - math.log2(self.sigma_min_px) + 1)
        return np.logspace(
            math.log2(self.sigma_min_px), math.log2(self.sigma_max_px), num=n, base=2
        )

    @property
    def halo(self) -> int:
        return max((abs(o) for o in self.context_slices), default=0)


def _normalisation(arr: np.ndarray) -> tuple[float, float]:
    flat = arr.reshape(-1)
    step = max(1, flat.size // 2_000_000)
    lo, hi = np.percentile(flat[::step].astype(np.float32), [0.5, 99.5])
    lo, hi = float(lo), float(hi)
    if not hi > lo:
        lo, hi = float(flat.min()), float(flat.max())
    if not hi > lo:
        raise ValueError("stack: all voxels have the same value; nothing to segment")
    return lo, hi


def _base_slice(img: np.ndarray, fp: FeatureParams) -> np.ndarray:
    from skimage.feature import multiscale_basic_features

    return multiscale_basic_features(
        img,
        intensity=fp.intensity,
        edges=fp.edges,
        texture=fp.texture,
        sigma_min=fp.sigma_min_px,
        sigma_max=fp.sigma_max_px,
        num_sigma=fp.sigmas().size,
        workers=1,
    ).astype(np.float32, copy=False)


def _features_for(norm: np.ndarray, zs: np.ndarray, fp: FeatureParams, workers: int) -> np.ndarray:
    """Features of slices ``zs`` of the normalised stack: (len(zs), y, x, F) float32."""
    nz = norm.shape[0]
    ctx_sigmas = fp.sigmas()[:2]
    need = sorted({int(np.clip(z + o, 0, nz - 1)) for z in zs for o in (0, *fp.context_slices)})
    smooth: dict[int, list[np.ndarray]] = {}

    def sm(z: int) -> None:
        smooth[z] = [ndimage.gaussian_filter(norm[z], float(s)) for s in ctx_sigmas]

    base: dict[int, np.ndarray] = {}

    def bs(z: int) -> None:
        base[z] = _base_slice(norm[z], fp)

    with ThreadPoolExecutor(workers) as ex:
        if fp.context_slices:
            list(ex.map(sm, need))
        list(ex.map(bs, [int(z) for z in zs]))
    out = []
    for z in zs:
        z = int(z)
        parts = [base[z]]
        for o in fp.context_slices:
            zo = int(np.clip(z + o, 0, nz - 1))
            for a, b in zip(smooth[zo], smooth[z], strict=True):
                parts.append((a - b)[..., None])
        out.append(np.concatenate(parts, axis=-1))
    return np.stack(out)


def compute_features(
    stack: Any, *, params: FeatureParams | None = None, workers: int | None = None
) -> np.ndarray:
    """Feature volume (z, y, x, F) float32 of a grayscale stack (see the module docstring)."""
    arr = check_volume(stack, name="stack")
    fp = params or FeatureParams()
    lo, hi = _normalisation(arr)
    norm = ((arr.astype(np.float32) - lo) / (hi - lo)).astype(np.float32)
    return _features_for(norm, np.arange(arr.shape[0]), fp, _workers(workers))


def _workers(workers: int | None) -> int:
    if workers is None:
        return max(1, os.cpu_count() or 1)
    if int(workers) < 1:
        raise ValueError(f"workers: expected >= 1, got {workers!r}")
    return int(workers)


def _check_scribbles(scribbles: Any, shape: tuple[int, ...]) -> np.ndarray:
    s = np.asarray(scribbles)
    if s.shape != tuple(shape):
        raise ValueError(
            f"scribbles: shape {s.shape} does not match the stack shape {tuple(shape)}"
        )
    if s.dtype == np.bool_ or not np.issubdtype(s.dtype, np.integer):
        if (
            np.issubdtype(s.dtype, np.floating)
            and np.all(np.isfinite(s))
            and np.array_equal(s, np.round(s))
        ):
            s = s.astype(np.int64)
        else:
            raise ValueError(
                f"scribbles: expected integer values (0 unlabelled, phase + 1), got {s.dtype}"
            )
    if s.min() < 0 or s.max() > len(Phase):
        raise ValueError(
            f"scribbles: values must be 0 (unlabelled) or phase + 1 in 1..{len(Phase)}, "
            f"got {int(s.min())}..{int(s.max())}"
        )
    painted = np.unique(s[s != SCRIBBLE_UNLABELLED])
    if painted.size == 0:
        raise ValueError(
            "scribbles: no labelled voxels (all 0); paint at least two classes "
            "(1 = pore/rest, 2 = AM)"
        )
    if painted.size == 1:
        name = _PHASE_NAMES.get(int(painted[0]) - 1, str(int(painted[0])))
        raise ValueError(
            f"scribbles: only one class is labelled ({int(painted[0])} = {name}); "
            "paint at least two classes (1 = pore/rest, 2 = AM)"
        )
    return s


@dataclass
class TrainedSegmenter:
    """A trained voxel classifier with the settings needed to apply it to any stack.

    Attributes
    ----------
    classifier
        The fitted :class:`sklearn.ensemble.RandomForestClassifier`.
    features
        The :class:`FeatureParams` used in training (applied unchanged at prediction).
    phases
        Phase codes the classifier predicts (scribble value - 1).
    info
        JSON-ready training summary (samples per class, out-of-bag accuracy, ...).
    """

    classifier: Any
    features: FeatureParams
    phases: tuple[int, ...]
    info: dict[str, Any] = field(default_factory=dict)

    def predict_proba(
        self, stack: Any, *, chunk_slices: int = 16, workers: int | None = None
    ) -> np.ndarray:
        """Class probabilities (z, y, x, n_phases) float32, in the order of :attr:`phases`."""
        arr = check_volume(stack, name="stack")
        w = _workers(workers)
        lo, hi = _normalisation(arr)
        norm = ((arr.astype(np.float32) - lo) / (hi - lo)).astype(np.float32)
        out = np.empty(arr.shape + (len(self.phases),), np.float32)
        self.classifier.n_jobs = w
        for z0 in range(0, arr.shape[0], max(1, int(chunk_slices))):
            zs = np.arange(z0, min(arr.shape[0], z0 + max(1, int(chunk_slices))))
            f = _features_for(norm, zs, self.features, w)
            nfeat = f.shape[-1]
            expected = self.info.get("n_features")
            if expected is not None and nfeat != expected:
                raise ValueError(f"model: built for {expected} features, this stack gives {nfeat}")
            p = self.classifier.predict_proba(f.reshape(-1, nfeat))
            out[z0 : z0 + zs.size] = p.reshape(zs.size, *arr.shape[1:], -1)
        return out

    def predict(
        self, stack: Any, *, chunk_slices: int = 16, workers: int | None = None
    ) -> np.ndarray:
        """Phase labels (uint8 phase codes) of every voxel of ``stack``."""
        proba = self.predict_proba(stack, chunk_slices=chunk_slices, workers=workers)
        idx = np.argmax(proba, axis=-1)
        return np.asarray(self.phases, dtype=np.uint8)[idx]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model as arrays + JSON (``.npz``, no pickle) and return the path.

        The file holds numbers only (see :mod:`microstructure.segment._model_format`), so
        reading one received from someone else cannot run code.
        """
        if self.classifier is None or not hasattr(self.classifier, "estimators_"):
            raise ValueError("model: only a fitted random forest can be saved")
        header = {
            "kind": _MODEL_KIND,
            "features": {
                **self.features.__dict__,
                "context_slices": list(self.features.context_slices),
            },
            "phases": [int(v) for v in self.phases],
            "info": to_jsonable(self.info),
        }
        return save_forest(path, self.classifier, header)


def load_segmenter(path: str | os.PathLike[str]) -> TrainedSegmenter:
    """Read a model written by :meth:`TrainedSegmenter.save` (``.npz`` arrays + JSON header).

    Pickle/joblib files (the format before version 2) and any file that is not such an
    archive are refused before anything in them is deserialised: a model path may come from
    a recipe someone else wrote, and reading it must not run code.
    """
    p = Path(path)
    forest, head = load_forest(p)
    if head.get("kind") != _MODEL_KIND:
        raise ValueError(
            f"model: {p} is not a saved segmentation model (kind {head.get('kind')!r})"
        )
    feats = head.get("features")
    phases = head.get("phases")
    info = head.get("info", {})
    names = set(FeatureParams.__dataclass_fields__)
    if not isinstance(feats, dict) or not set(feats) <= names:
        raise ValueError(
            f"model: {p}: header 'features' must be an object with keys {sorted(names)}"
        )
    if not isinstance(info, dict):
        raise ValueError(f"model: {p}: header 'info' must be an object")
    classes = [int(c) for c in forest.classes_]
    if not isinstance(phases, list) or phases != classes or not set(classes) <= set(_PHASE_NAMES):
        raise ValueError(f"model: {p}: header phases {phases!r} do not match classes {classes}")
    try:
        feats = dict(feats)
        feats["context_slices"] = tuple(feats.get("context_slices", ()))
        fp = FeatureParams(**feats)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model: {p}: header features invalid ({exc})") from None
    if info.get("n_features", head["n_features"]) != head["n_features"]:
        raise ValueError(f"model: {p}: info n_features differs from the forest's")
    return TrainedSegmenter(classifier=forest, features=fp, phases=tuple(classes), info=dict(info))


def train_segmenter(
    stack: Any,
    scribbles: Any,
    *,
    features: FeatureParams | None = None,
    n_estimators: int = DEFAULT_N_ESTIMATORS,
    max_depth: int | None = 20,
    min_samples_leaf: int = 2,
    max_samples: int = 200_000,
    class_weight: str | None = None,
    seed: int = 0,
    workers: int | None = None,
) -> TrainedSegmenter:
    """Train a random-forest voxel classifier from sparse scribbles.

    Parameters
    ----------
    stack
        (z, y, x) grayscale stack.
    scribbles
        Integer volume of the same shape: 0 unlabelled, ``phase + 1`` where painted
        (1 pore/rest, 2 AM, 3 CBD, 4 CBD pore). At least two classes must be painted.
    features
        Feature settings (default :class:`FeatureParams`).
    n_estimators, max_depth, min_samples_leaf, class_weight
        Random-forest settings (scikit-learn).
    max_samples
        At most this many painted voxels are used (a random subset, same seed same subset).
    seed
        Seed of the subsampling and of the forest.
    workers
        Threads for features and training (default: all cores).

    Returns
    -------
    TrainedSegmenter
    """
    from sklearn.ensemble import RandomForestClassifier

    arr = check_volume(stack, name="stack")
    s = _check_scribbles(scribbles, arr.shape)
    fp = features or FeatureParams()
    if int(n_estimators) < 1:
        raise ValueError(f"n_estimators: expected >= 1, got {n_estimators!r}")
    if int(max_samples) < 2:
        raise ValueError(f"max_samples: expected >= 2, got {max_samples!r}")
    w = _workers(workers)
    rng = np.random.default_rng(seed)
    idx = np.flatnonzero(s.reshape(-1) != SCRIBBLE_UNLABELLED)
    if idx.size > max_samples:
        idx = np.sort(rng.choice(idx, int(max_samples), replace=False))
    zz, yy, xx = np.unravel_index(idx, arr.shape)
    y_lab = s.reshape(-1)[idx].astype(np.int64) - 1
    lo, hi = _normalisation(arr)
    norm = ((arr.astype(np.float32) - lo) / (hi - lo)).astype(np.float32)
    zs = np.unique(zz)
    rows = []
    for k0 in range(0, zs.size, 16):
        part = zs[k0 : k0 + 16]
        f = _features_for(norm, part, fp, w)
        for j, z in enumerate(part):
            sel = zz == z
            rows.append((np.flatnonzero(sel), f[j][yy[sel], xx[sel]]))
    nfeat = rows[0][1].shape[1]
    x = np.empty((idx.size, nfeat), np.float32)
    for where, vals in rows:
        x[where] = vals
    clf = RandomForestClassifier(
        n_estimators=int(n_estimators),
        max_depth=max_depth,
        min_samples_leaf=int(min_samples_leaf),
        class_weight=class_weight,
        n_jobs=w,
        random_state=int(seed),
        oob_score=True,
    )
    clf.fit(x, y_lab)
    phases = tuple(int(c) for c in clf.classes_)
    counts = {_PHASE_NAMES.get(p, str(p)): int(np.count_nonzero(y_lab == p)) for p in phases}
    info = {
        "n_samples": int(idx.size),
        "samples_per_phase": counts,
        "n_features": int(nfeat),
        "oob_accuracy": float(clf.oob_score_),
        "scribbled_slices": int(zs.size),
        "normalisation": [lo, hi],
    }
    return TrainedSegmenter(classifier=clf, features=fp, phases=phases, info=info)


def segment_trainable(
    stack: Any,
    *,
    model: TrainedSegmenter | str | os.PathLike[str] | None = None,
    scribbles: Any = None,
    workers: int | None = None,
    **train_options: Any,
) -> np.ndarray:
    """Phase labels (uint8) of ``stack`` from a trained model or from scribbles on it.

    Give either ``model`` (a :class:`TrainedSegmenter` or the path of one saved as ``.npz``) or
    ``scribbles`` (train on this stack first; ``train_options`` go to
    :func:`train_segmenter`).
    """
    arr = check_volume(stack, name="stack")
    if (model is None) == (scribbles is None):
        raise ValueError("model/scribbles: give exactly one (a trained model or scribbles)")
    if model is None:
        m = train_segmenter(arr, scribbles, workers=workers, **train_options)
    elif isinstance(model, TrainedSegmenter):
        m = model
    else:
        m = load_segmenter(model)
    return m.predict(arr, workers=workers)
