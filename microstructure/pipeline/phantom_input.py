"""A recipe's own input: the ``[phantom]`` section generates the stack it runs on.

A digital-twin recipe (``pipelines/seed000_digital_twin.toml``) starts from a synthetic
FIB/SEM stack with exact ground truth instead of a measured one::

    [phantom]
    file = "seed000_phantom.toml"   # generator parameters, relative to the recipe
    seed = 0                        # keys here override the file's

``microstructure run RECIPE --out OUT`` (no ``--input``) then writes the phantom into
``OUT/00-phantom/`` (``fibsem.tif``, ``truth_labels.tif``, ``truth.json``, ``phantom.json``)
and runs the stages on ``OUT/00-phantom/fibsem.tif``. The phantom is cached like a stage: a
rerun with the same parameters reuses it, and it is written in a temporary folder renamed
into place when complete, so an interrupted generation leaves nothing half-written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from microstructure.io.tables import write_json

__all__ = ["PHANTOM_DIR", "load_phantom_params", "resolve_phantom_section", "prepare_phantom"]

#: folder of the generated input inside a run's output folder
PHANTOM_DIR = "00-phantom"
_META = "phantom.json"
#: keywords of :func:`~microstructure.phantom.generate_phantom` that are not PhantomParams fields
_CALL_KEYS = ("shape", "voxel_size_nm", "seed", "preset")


def _known_keys() -> set[str]:
    from microstructure.phantom import PhantomParams

    return {f.name for f in dataclasses.fields(PhantomParams)} | set(_CALL_KEYS)


def _check(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    unknown = sorted(set(table) - _known_keys())
    if unknown:
        raise ValueError(f"{where}: unknown phantom parameter(s) {unknown}")
    out = dict(table)
    for key in ("shape", "voxel_size_nm"):
        if isinstance(out.get(key), list):
            out[key] = tuple(out[key])
    return out


def load_phantom_params(path: str | os.PathLike) -> dict[str, Any]:
    """Generator keywords from a TOML file (a ``[phantom]`` table or top-level keys)."""
    from microstructure.io.tables import read_toml

    p = Path(path)
    doc = read_toml(p, what="phantom parameter file")
    return _check(doc.get("phantom", doc), str(p))


def resolve_phantom_section(section: Any, *, recipe_path: str) -> dict[str, Any]:
    """Validate a recipe's ``[phantom]`` table: ``file`` (relative to the recipe) + overrides."""
    where = f"{recipe_path}: [phantom]"
    if not isinstance(section, dict):
        raise ValueError(f"{where} must be a table")
    params: dict[str, Any] = {}
    rest = dict(section)
    if "file" in rest:
        ref = Path(str(rest.pop("file")))
        if not ref.is_absolute():
            ref = Path(recipe_path).parent / ref
        if not ref.is_file():
            raise FileNotFoundError(f"{where}: file {ref} not found")
        params.update(load_phantom_params(ref))
    params.update(_check(rest, where))
    # validate the values now (bad values fail before any work)
    from microstructure.phantom import PhantomParams

    gen = {k: v for k, v in params.items() if k not in _CALL_KEYS}
    try:
        PhantomParams.preset(str(params.get("preset", "default")), **gen)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None
    return params


def _check_memory(params: Mapping[str, Any], where: str = "[phantom]") -> None:
    """Refuse a phantom that would not fit in memory before anything is generated."""
    from microstructure.phantom import PhantomParams
    from microstructure.phantom.generate import check_phantom_memory
    from microstructure.phantom.params import DEFAULT_SHAPE

    gen = {k: v for k, v in params.items() if k not in _CALL_KEYS}
    try:
        p = PhantomParams.preset(str(params.get("preset", "default")), **gen)
        check_phantom_memory(params.get("shape", DEFAULT_SHAPE), p)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def _key(params: Mapping[str, Any]) -> str:
    import microstructure
    from microstructure.phantom.rendering import RENDERING_VERSION

    doc = json.dumps(
        {
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()},
            "version": microstructure.__version__,
            "rendering": RENDERING_VERSION,
        },
        sort_keys=True,
    )
    return hashlib.blake2b(doc.encode(), digest_size=20).hexdigest()


def prepare_phantom(
    params: Mapping[str, Any],
    out_dir: str | os.PathLike,
    *,
    shape: tuple[int, int, int] | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Generate (or reuse) the phantom of ``params`` in ``out_dir/00-phantom``.

    Parameters
    ----------
    params
        Generator keywords (see :func:`microstructure.phantom.generate_phantom`).
    out_dir
        The run's output folder.
    shape
        Override of the volume shape (z, y, x), e.g. a reduced size for a quick look.
    log
        Called with one human line (generated / reused).

    Returns
    -------
    Path
        The FIB/SEM stack to run the recipe on (``out_dir/00-phantom/fibsem.tif``).
    """
    from microstructure.phantom import generate_phantom, save_phantom

    kwargs = dict(params)
    if shape is not None:
        if len(shape) != 3 or any(int(n) < 8 for n in shape):
            raise ValueError(f"phantom shape: expected three sizes >= 8, got {shape}")
        kwargs["shape"] = tuple(int(n) for n in shape)
    _check_memory(kwargs)
    key = _key(kwargs)
    out = Path(out_dir)
    final = out / PHANTOM_DIR
    meta_path = final / _META
    if meta_path.is_file() and (final / "fibsem.tif").is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            meta = {}
        if meta.get("key") == key:
            if log is not None:
                log(f"[0] phantom: cached ({final})")
            return final / "fibsem.tif"
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{PHANTOM_DIR}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    t0 = time.perf_counter()
    try:
        ph = generate_phantom(**kwargs)
        save_phantom(tmp, ph)
        seconds = time.perf_counter() - t0
        meta = {
            "key": key,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
            "seconds": round(seconds, 2),
            "shape": list(ph.labels.shape),
        }
        write_json(tmp / _META, meta)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    if log is not None:
        log(f"[0] phantom: generated {tuple(meta['shape'])} in {seconds:.1f} s ({final})")
    return final / "fibsem.tif"
