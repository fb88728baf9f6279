"""A random forest saved as plain arrays: an ``.npz`` file that cannot run code when read.

A pickle (``joblib``) file runs code while it is read, so a model file passed in a recipe
would be a way to run anything on the machine of whoever runs that recipe. This module writes
a fitted :class:`sklearn.ensemble.RandomForestClassifier` as numbers only and rebuilds it from
them:

* ``header.npy``: uint8 bytes of a UTF-8 JSON object (format name, version, scikit-learn
  version, forest shape, plus whatever the caller adds: feature settings, phases, ...);
* ``classes.npy``, ``node_count.npy``, ``max_depth.npy``: per forest / per tree;
* ``nodes_<field>.npy`` for every field of scikit-learn's tree node record (``left_child``,
  ``right_child``, ``feature``, ``threshold``, ``impurity``, ``n_node_samples``,
  ``weighted_n_node_samples``, ``missing_go_to_left``), the nodes of all trees concatenated;
* ``values.npy``: (nodes, 1, classes) float64 class fractions of every node.

Reading refuses, before any array data is read:

* a file that is not a zip archive (a pickle / joblib file is named as such in the message);
* a member that is not one of the names above, or whose ``.npy`` header declares an object,
  structured or otherwise unexpected dtype or shape (``numpy`` reads arrays with
  ``allow_pickle=False`` in any case);
* a header whose format name or version is not this one, or archives beyond a size limit.

The node arrays are then checked (children after their parent and inside the tree, split
features within range, finite thresholds and values) before scikit-learn's ``Tree`` is
rebuilt with ``Tree.__setstate__``; the rebuilt forest predicts exactly as the saved one.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.io.tables import atomic_open

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "MODEL_SUFFIX", "save_forest", "load_forest"]

#: ``format`` of the JSON header
FORMAT_NAME = "microstructure-random-forest"
#: version of the layout (1 was a joblib pickle, no longer read)
FORMAT_VERSION = 2
#: file name ending of a saved model
MODEL_SUFFIX = ".npz"
#: largest accepted header (bytes) and uncompressed archive (bytes)
_MAX_HEADER_BYTES = 1 << 20
_MAX_ARCHIVE_BYTES = 8 << 30
_ZIP_MAGIC = b"PK\x03\x04"
_FLOAT_FIELDS = ("threshold", "impurity", "weighted_n_node_samples")
_OPTIONAL_FIELDS = {"missing_go_to_left": 0}  # absent in files of older scikit-learn


class ModelFileError(ValueError):
    """A model file refused (the message names the file, one line)."""


def save_forest(path: str | os.PathLike[str], forest: Any, header: dict[str, Any]) -> Path:
    """Write a fitted single-output random forest and a JSON header to ``path`` (atomically).

    ``header`` must be JSON-serialisable; the keys ``format``, ``version``, ``sklearn_version``,
    ``n_features``, ``n_classes`` and ``n_trees`` are set here.
    """
    import sklearn

    p = Path(path)
    if p.suffix.lower() != MODEL_SUFFIX:
        raise ValueError(f"model path: {p} must end in {MODEL_SUFFIX} (arrays, not a pickle)")
    if not p.parent.is_dir():
        raise FileNotFoundError(f"model path: folder {p.parent} does not exist")
    if int(getattr(forest, "n_outputs_", 1)) != 1:
        raise ValueError("model: only single-output forests can be saved")
    states = [est.tree_.__getstate__() for est in forest.estimators_]
    nodes = np.concatenate([s["nodes"] for s in states])
    classes = np.asarray(forest.classes_)
    if classes.dtype.kind not in "iu":
        raise ValueError(f"model: class labels must be integers, got {classes.dtype}")
    head = dict(header)
    head.update(
        format=FORMAT_NAME,
        version=FORMAT_VERSION,
        sklearn_version=sklearn.__version__,
        n_features=int(forest.n_features_in_),
        n_classes=int(classes.size),
        n_trees=len(states),
    )
    arrays: dict[str, np.ndarray] = {
        "header": np.frombuffer(json.dumps(head).encode("utf-8"), dtype=np.uint8),
        "classes": classes.astype(np.int64),
        "node_count": np.array([s["node_count"] for s in states], np.int64),
        "max_depth": np.array([s["max_depth"] for s in states], np.int64),
        "values": np.concatenate([s["values"] for s in states]).astype(np.float64),
    }
    for name in nodes.dtype.names:
        arrays[f"nodes_{name}"] = np.ascontiguousarray(nodes[name])
    with atomic_open(p, "wb") as fh:  # temporary file + fsync + rename; errors name p
        np.savez_compressed(fh, allow_pickle=False, **arrays)
    return p


def _refuse(p: Path, why: str) -> ModelFileError:
    return ModelFileError(f"model: {p} {why}")


def _sniff(p: Path) -> None:
    """Refuse anything that is not a zip archive, from its first bytes only."""
    with open(p, "rb") as fh:
        head = fh.read(4)
    if head == _ZIP_MAGIC:
        return
    kind = "is a pickle/joblib file" if _looks_pickled(head) else "is not a saved model archive"
    raise _refuse(
        p,
        f"{kind}: refused unread (models are {MODEL_SUFFIX} arrays written by save; pickle or "
        "joblib models are never loaded because loading them can run code)",
    )


def _looks_pickled(head: bytes) -> bool:
    """A pickle (protocol >= 2) or a zlib/gzip-compressed joblib stream, from its first bytes."""
    return (
        head[:1] == b"\x80"
        or (len(head) >= 2 and head[0] == 0x78 and int.from_bytes(head[:2], "big") % 31 == 0)
        or head[:2] == b"\x1f\x8b"
    )


def _member_header(zf: zipfile.ZipFile, name: str, p: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype declared by an ``.npy`` member, read without reading its data."""
    with zf.open(name) as fh:
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"npy version {version}")
        except ValueError as exc:
            raise _refuse(p, f"member {name}: not a plain numpy array ({exc})") from None
    if dtype.hasobject or dtype.names is not None or dtype.kind not in "biuf":
        raise _refuse(p, f"member {name}: dtype {dtype} refused (object or non-numeric array)")
    return tuple(int(n) for n in shape), dtype


def _read_member(zf: zipfile.ZipFile, name: str, p: Path) -> np.ndarray:
    with zf.open(name) as fh:
        try:
            return np.lib.format.read_array(fh, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise _refuse(p, f"member {name}: unreadable ({exc})") from None


def _check_archive(zf: zipfile.ZipFile, p: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    infos = zf.infolist()
    total = sum(i.file_size for i in infos)
    if total > _MAX_ARCHIVE_BYTES:
        raise _refuse(p, f"unpacks to {total} bytes, above the limit {_MAX_ARCHIVE_BYTES}")
    names = {i.filename for i in infos}
    allowed = {"header.npy", "classes.npy", "node_count.npy", "max_depth.npy", "values.npy"}
    fixed = set(allowed)
    allowed |= {n for n in names if n.startswith("nodes_") and n[6:-4].isidentifier()}
    unknown = sorted(n for n in names if n not in allowed or not n.endswith(".npy"))
    if unknown:
        raise _refuse(p, f"has unexpected members {unknown[:5]}: not a saved segmentation model")
    missing = sorted(fixed - names)
    if missing:
        raise _refuse(p, f"lacks {missing}: not a saved segmentation model")
    return {n: _member_header(zf, n, p) for n in sorted(names)}


def _read_header(zf: zipfile.ZipFile, p: Path, shape: tuple[int, ...], dtype: np.dtype) -> dict:
    if dtype != np.uint8 or len(shape) != 1 or shape[0] > _MAX_HEADER_BYTES:
        raise _refuse(p, f"header: expected up to {_MAX_HEADER_BYTES} uint8 bytes of JSON")
    raw = _read_member(zf, "header.npy", p)
    try:
        head = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _refuse(p, f"header: not JSON ({type(exc).__name__})") from None
    if not isinstance(head, dict) or head.get("format") != FORMAT_NAME:
        raise _refuse(p, "header: not a saved segmentation model (format name missing)")
    if head.get("version") != FORMAT_VERSION:
        raise _refuse(
            p,
            f"header: format version {head.get('version')!r}, this version reads {FORMAT_VERSION}",
        )
    for key in ("n_features", "n_classes", "n_trees"):
        v = head.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 1_000_000:
            raise _refuse(p, f"header: {key} = {v!r}, expected a positive integer")
    return head


def _check_shapes(members: dict, head: dict, p: Path) -> int:
    """Validate declared shapes/dtypes against the header; return the total node count."""
    n_trees, n_classes = head["n_trees"], head["n_classes"]

    def need(name: str, shape: tuple[int, ...], kinds: str) -> None:
        got_shape, dtype = members[name]
        if got_shape != shape or dtype.kind not in kinds:
            raise _refuse(
                p, f"member {name}: {dtype} {got_shape}, expected kind {kinds!r} shape {shape}"
            )

    need("classes.npy", (n_classes,), "iu")
    need("node_count.npy", (n_trees,), "iu")
    need("max_depth.npy", (n_trees,), "iu")
    total = members["values.npy"][0][0] if members["values.npy"][0] else -1
    need("values.npy", (total, 1, n_classes), "f")
    for name in members:
        if name.startswith("nodes_"):
            field = name[6:-4]
            need(name, (total,), "f" if field in _FLOAT_FIELDS else "iub")
    return total


def _check_tree(nodes: dict[str, np.ndarray], values: np.ndarray, n_features: int) -> str | None:
    """Why one tree's node arrays are unsafe or inconsistent (None when they are fine)."""
    n = values.shape[0]
    left, right = nodes["left_child"], nodes["right_child"]
    leaf = left == -1
    if not np.array_equal(leaf, right == -1):
        return "a node has exactly one child"
    idx = np.arange(n)
    inner = ~leaf
    for child in (left, right):
        c = child[inner]
        if np.any(c <= idx[inner]) or np.any(c >= n):
            return "a child index is outside its tree or not after its parent"
    feat = nodes["feature"][inner]
    if np.any(feat < 0) or np.any(feat >= n_features):
        return f"a split feature is outside 0..{n_features - 1}"
    if not np.all(np.isfinite(nodes["threshold"][inner])):
        return "a split threshold is not finite"
    if not (np.all(np.isfinite(values)) and np.all(values >= 0)):
        return "class fractions are negative or not finite"
    return None


def _build_forest(arrays: dict[str, np.ndarray], head: dict, p: Path) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier
    from sklearn.tree._tree import NODE_DTYPE, Tree

    n_features, n_classes = head["n_features"], head["n_classes"]
    counts, depths = arrays["node_count"], arrays["max_depth"]
    if np.any(counts < 1) or int(counts.sum()) != arrays["values"].shape[0]:
        raise _refuse(p, "node counts do not match the node arrays")
    fields = {}
    for name in NODE_DTYPE.names:
        if f"nodes_{name}" in arrays:
            fields[name] = arrays[f"nodes_{name}"]
        elif name in _OPTIONAL_FIELDS:
            fields[name] = np.full(counts.sum(), _OPTIONAL_FIELDS[name])
        else:
            raise _refuse(
                p,
                f"lacks node field {name!r} needed by this scikit-learn (saved with "
                f"{head.get('sklearn_version')!r}); retrain the model",
            )
    n_classes_arr = np.array([n_classes], dtype=np.intp)
    trees = []
    start = 0
    for k, (count, depth) in enumerate(zip(counts.tolist(), depths.tolist(), strict=True)):
        part = {name: a[start : start + count] for name, a in fields.items()}
        values = np.ascontiguousarray(arrays["values"][start : start + count], np.float64)
        why = _check_tree(part, values, n_features)
        if why is None and not 0 <= depth < count:
            why = f"max_depth {depth} outside 0..{count - 1}"
        if why:
            raise _refuse(p, f"tree {k}: {why}")
        nodes = np.empty(count, dtype=NODE_DTYPE)
        for name, a in part.items():
            nodes[name] = a
        tree = Tree(n_features, n_classes_arr, 1)
        tree.__setstate__(
            {"max_depth": int(depth), "node_count": int(count), "nodes": nodes, "values": values}
        )
        est = DecisionTreeClassifier()
        est.tree_ = tree
        est.n_features_in_ = n_features
        est.n_outputs_ = 1
        est.n_classes_ = n_classes
        est.classes_ = np.arange(n_classes, dtype=np.float64)
        est.max_features_ = n_features
        trees.append(est)
        start += count
    forest = RandomForestClassifier(n_estimators=len(trees))
    forest.estimator_ = DecisionTreeClassifier()
    forest.estimators_ = trees
    forest.classes_ = arrays["classes"].astype(np.int64)
    forest.n_classes_ = n_classes
    forest.n_outputs_ = 1
    forest.n_features_in_ = n_features
    return forest


def load_forest(path: str | os.PathLike[str]) -> tuple[Any, dict[str, Any]]:
    """Read a forest written by :func:`save_forest`: ``(forest, header)``.

    Anything else (a pickle or joblib file, an archive with object arrays or unknown members,
    a wrong header) raises :class:`ModelFileError` (a ``ValueError``) naming the file before
    any of its data is deserialised; nothing in the file is executed.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"model: file {p} not found")
    _sniff(p)
    try:
        with zipfile.ZipFile(p) as zf:
            members = _check_archive(zf, p)
            head = _read_header(zf, p, *members["header.npy"])
            _check_shapes(members, head, p)
            arrays = {n[:-4]: _read_member(zf, n, p) for n in members if n != "header.npy"}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise _refuse(p, f"is a damaged archive ({exc})") from None
    return _build_forest(arrays, head, p), head
