"""Small writers for JSON and CSV outputs, atomic (temporary file + rename)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "atomic_write_text",
    "write_json",
    "write_csv",
    "to_jsonable",
    "temp_path_beside",
    "read_toml",
]


def temp_path_beside(target: Path) -> Path:
    """A new empty temporary file next to ``target`` (same file system, so a rename is atomic).

    ``mkstemp`` creates files readable by the owner only; the file is given the permissions an
    ordinary ``open(..., "w")`` would give (0o666 less the umask) so outputs stay shareable.
    """
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)
    return Path(name)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename."""
    target = Path(path)
    tmp = temp_path_beside(target)
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, tuples, Paths and non-finite floats for JSON."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Atomically write ``data`` as indented JSON (numpy values converted)."""
    return atomic_write_text(path, json.dumps(to_jsonable(data), indent=2) + "\n")


def write_csv(path: str | os.PathLike, columns: Mapping[str, Any]) -> Path:
    """Atomically write equal-length columns as a CSV with a header row."""
    names = list(columns)
    arrays = [np.asarray(columns[n]).ravel() for n in names]
    lengths = {a.size for a in arrays}
    if len(lengths) > 1:
        raise ValueError(f"{path}: columns have different lengths {sorted(lengths)}")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    for row in zip(*arrays, strict=True):
        writer.writerow([_fmt(v) for v in row])
    return atomic_write_text(path, buf.getvalue())


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return repr(float(v)) if math.isfinite(v) else ""
    return str(v)


def read_toml(path: str | os.PathLike, *, what: str = "TOML file") -> dict[str, Any]:
    """Parse a TOML file; ``FileNotFoundError`` / ``ValueError`` name the file and ``what``."""
    import tomllib

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: {what} not found")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{p}: not valid TOML ({exc})") from None
