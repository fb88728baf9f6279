"""The package's one atomic file writer, and small writers for JSON and CSV outputs.

Every file the package writes goes through :func:`atomic_path` (or :func:`atomic_open`, built on
it): the data go to a temporary file in the target's folder (same file system), are flushed and
``fsync``-ed, and the temporary file is renamed over the target. On any error (a full disk, an
interrupt) the temporary file is removed and the previous target is left untouched; an
``OSError`` is re-raised as a one-line error naming the target path.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "atomic_path",
    "atomic_open",
    "atomic_write_text",
    "atomic_write_bytes",
    "write_error",
    "write_json",
    "write_csv",
    "to_jsonable",
    "temp_path_beside",
    "read_toml",
]


#: Below this many free bytes, a short write without an ``errno`` (tifffile reports
#: "N requested and M written") is reported as a full disk.
_FULL_DISK_BYTES = 1 << 20


def write_error(path: str | os.PathLike, exc: OSError) -> OSError:
    """``exc`` as a one-line error of the same class naming ``path`` (``errno`` kept)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    reason = exc.strerror or text
    code = exc.errno
    if code is None and _disk_full(Path(path).parent):
        reason, code = f"{os.strerror(errno.ENOSPC)} ({reason})", errno.ENOSPC
    err = type(exc)(f"{path}: could not write: {reason}")
    err.errno = code
    return err


def _disk_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < _FULL_DISK_BYTES
    except OSError:
        return False


def temp_path_beside(target: Path) -> Path:
    """A new empty temporary file next to ``target`` (same file system, so a rename is atomic).

    ``mkstemp`` creates files readable by the owner only; the file is given the permissions an
    ordinary ``open(..., "w")`` would give (0o666 less the umask) so outputs stay shareable.
    An ``OSError`` (missing folder, full disk, no permission) names ``target``.
    """
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise write_error(target, exc) from None
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)
    return Path(name)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on a directory
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Context manager giving a temporary path beside ``path`` to write; on success the file is
    ``fsync``-ed and renamed over ``path``.

    For writers that take a file name (``tifffile.imwrite``, ``Figure.savefig``). On any error,
    including ``KeyboardInterrupt``, the temporary file is removed and ``path`` keeps its
    previous content; an ``OSError`` is re-raised as one line naming ``path``.

    Examples
    --------
    >>> with atomic_path(out / "a.tif") as tmp:  # doctest: +SKIP
    ...     tifffile.imwrite(tmp, arr)
    """
    target = Path(path)
    tmp = temp_path_beside(target)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        if str(exc).startswith(f"{target}: could not write"):
            raise
        raise write_error(target, exc) from exc
    finally:
        if tmp.exists():
            try:
                tmp.unlink()
            except OSError:  # pragma: no cover - nothing more can be done
                pass
    _fsync_dir(target.parent)


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[Any]:
    """Open a temporary file beside ``path`` (``mode`` ``"w"`` or ``"wb"``; text defaults to
    UTF-8 with untranslated newlines) and rename it over ``path`` when the block succeeds.

    Same guarantees as :func:`atomic_path` (flush + fsync + rename; temporary file removed on
    error; an ``OSError`` names ``path``).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    if mode == "w":
        kwargs.setdefault("encoding", "utf-8")
        kwargs.setdefault("newline", "")
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_open(path, "w") as fh:
        fh.write(text)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


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
