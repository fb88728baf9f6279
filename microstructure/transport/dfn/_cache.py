"""On-disk cache of compiled hierarchical DFN models (no PyBaMM import here).

A first solve spends most of its time in PyBaMM's discretisation and in building the CasADi
functions of the solver (docs/performance.md, "First solve ... model cache"). Those depend
only on the model, the cell parameters and the mesh, not on the C-rate or the transport mode
(input parameters) nor on the solver tolerances, so
:mod:`~microstructure.transport.dfn.simulate` stores them here (``CompiledModel.to_dict()``:
a JSON header and the serialised CasADi functions as raw text, zlib-compressed) and a later
process loads them instead.

* Location: ``$MICROSTRUCTURE_CACHE_DIR/dfn`` if set, else ``$XDG_CACHE_HOME/microstructure/dfn``,
  else ``~/.cache/microstructure/dfn`` (``%LOCALAPPDATA%\\microstructure\\cache\\dfn`` on
  Windows).
* Off: ``MICROSTRUCTURE_DFN_CACHE=0`` (or ``off``, ``false``, ``no``), or
  ``simulate_discharge(..., disk_cache=False)``.
* Key: SHA-256 of everything that determines the entry: the layout version, the versions of
  PyBaMM, CasADi, pybammsolvers, NumPy and SciPy, the source of the model modules
  (``_pybamm_common.py``, ``_pybamm_model.py``, ``_pybamm_compiled.py``,
  ``_pybamm_reference.py``, ``model.py``, ``parameter_set.py`` and ``parameters.py``),
  every cell parameter, the mesh, and the input and output names.
  The full key is stored in the entry and compared on load, so a hit is never used for
  anything else.
* Writes go to a temporary file in the same folder, then ``os.replace`` (atomic): a reader
  never sees a partial entry. Unreadable, corrupt or foreign entries are ignored (and
  overwritten by the rebuilt one); no cache error ever stops a simulation. At most
  :data:`MAX_ENTRIES` entries are kept (least recently used removed first).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import zlib
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from microstructure.transport.dfn.parameters import CellParameters, MeshSettings

__all__ = [
    "ENV_DIR",
    "ENV_SWITCH",
    "MAX_ENTRIES",
    "cache_dir",
    "clear",
    "disabled_by_env",
    "key_material",
    "load",
    "store",
]

#: Entries kept (each 0.26-3.7 MB compressed depending on the mesh).
MAX_ENTRIES = 64

ENV_DIR = "MICROSTRUCTURE_CACHE_DIR"
ENV_SWITCH = "MICROSTRUCTURE_DFN_CACHE"
_OFF = ("0", "off", "false", "no")
_SUFFIX = ".dfn.json.z"
_MAGIC = b"microstructure-dfn-cache 2\n"
_HERE = Path(__file__).resolve().parent
_SOURCE_FILES = (
    "_pybamm_common.py",
    "_pybamm_model.py",
    "_pybamm_compiled.py",
    "_pybamm_reference.py",
    "model.py",
    "parameter_set.py",
    "parameters.py",
)
_source_hash: str | None = None


def disabled_by_env() -> bool:
    """True when ``MICROSTRUCTURE_DFN_CACHE`` switches the disk cache off."""
    return os.environ.get(ENV_SWITCH, "").strip().lower() in _OFF


def cache_dir() -> Path:
    """Folder of the DFN cache entries (see the module docstring; not created here)."""
    root = os.environ.get(ENV_DIR, "").strip()
    if root:
        return Path(root).expanduser() / "dfn"
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "microstructure" / "cache" / "dfn"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "microstructure" / "dfn"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def _sources() -> str:
    global _source_hash
    if _source_hash is None:
        h = hashlib.sha256()
        for name in _SOURCE_FILES:
            h.update(name.encode())
            h.update((_HERE / name).read_bytes())
        _source_hash = h.hexdigest()
    return _source_hash


def key_material(
    p: CellParameters,
    mesh: MeshSettings,
    *,
    layout: int,
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
) -> dict[str, Any]:
    """Everything a cache entry depends on, as a JSON-ready dict (floats exact via repr)."""
    params = {k: repr(v) for k, v in sorted(asdict(p).items())}
    return {
        "layout": int(layout),
        "pybamm": _version("pybamm"),
        "casadi": _version("casadi"),
        "pybammsolvers": _version("pybammsolvers"),
        "numpy": _version("numpy"),
        "scipy": _version("scipy"),
        "sources": _sources(),
        "parameters": params,
        "mesh": {k: repr(v) for k, v in sorted(asdict(mesh).items())},
        "inputs": list(inputs),
        "outputs": list(outputs),
    }


def _path(material: dict[str, Any], directory: Path) -> Path:
    digest = hashlib.sha256(
        json.dumps(material, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    return directory / f"{digest[:40]}{_SUFFIX}"


def load(
    material: dict[str, Any], directory: Path | None = None
) -> tuple[dict[str, Any], dict[str, str]] | None:
    """``(payload, texts)`` stored for ``material``, or ``None`` (missing, unreadable,
    corrupt, written for another key). Never raises."""
    directory = cache_dir() if directory is None else Path(directory)
    path = _path(material, directory)
    try:
        raw = path.read_bytes()
        if not raw.startswith(_MAGIC):
            return None
        data = zlib.decompress(raw[len(_MAGIC) :])
        n_head = int.from_bytes(data[:8], "big")
        head = json.loads(data[8 : 8 + n_head])
        if not isinstance(head, dict) or head.get("key") != material:
            return None
        payload, layout = head.get("payload"), head.get("texts")
        if not isinstance(payload, dict) or not isinstance(layout, list):
            return None
        texts, pos = {}, 8 + n_head
        for name, size in layout:
            texts[str(name)] = data[pos : pos + int(size)].decode("ascii")
            pos += int(size)
        if pos != len(data):
            return None
        try:
            os.utime(path)  # least recently used goes first when pruning
        except OSError:
            pass
        return payload, texts
    except (OSError, ValueError, TypeError, zlib.error, RecursionError, MemoryError):
        return None


def store(
    material: dict[str, Any],
    payload: dict[str, Any],
    texts: dict[str, str] | None = None,
    directory: Path | None = None,
) -> Path | None:
    """Write ``payload`` (JSON-ready) and ``texts`` (large ASCII strings, stored raw) for
    ``material`` atomically; the path, or ``None`` if it could not be written (read-only or
    full disk...). Never raises."""
    directory = cache_dir() if directory is None else Path(directory)
    path = _path(material, directory)
    tmp = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        blobs = [(name, text.encode("ascii")) for name, text in (texts or {}).items()]
        head = json.dumps(
            {"key": material, "payload": payload, "texts": [[name, len(b)] for name, b in blobs]},
            separators=(",", ":"),
        ).encode()
        data = _MAGIC + zlib.compress(
            b"".join([len(head).to_bytes(8, "big"), head, *(b for _, b in blobs)]), 3
        )
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=_SUFFIX, dir=directory)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        tmp = None
        _prune(directory)
        return path
    except (OSError, ValueError, TypeError):
        return None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _prune(directory: Path, keep: int = MAX_ENTRIES) -> None:
    entries = []
    for f in directory.glob(f"*{_SUFFIX}"):
        if f.name.startswith(".tmp-"):
            continue
        try:
            entries.append((f.stat().st_mtime, f))
        except OSError:
            continue
    entries.sort(reverse=True)
    for _, f in entries[keep:]:
        try:
            f.unlink()
        except OSError:
            pass


def clear(directory: Path | None = None) -> int:
    """Delete every cache entry in ``directory`` (default :func:`cache_dir`); the count."""
    directory = cache_dir() if directory is None else Path(directory)
    n = 0
    if not directory.is_dir():
        return 0
    for f in directory.glob(f"*{_SUFFIX}"):
        try:
            f.unlink()
            n += 1
        except OSError:
            pass
    return n
