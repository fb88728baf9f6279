"""Safety of a run folder: inputs never inside outputs, one run at a time, no stale stages,
checksummed stage outputs.

* :func:`check_paths` refuses an ``--out`` that equals or contains an input path (the stack,
  or a file a stage reads such as scribbles, a model or a measured curve), or that lies inside
  an input slice folder; paths are compared resolved. The run's own generated phantom
  (``OUT/00-phantom``) is the one input allowed inside ``--out``.
* :func:`run_folder_lock` holds ``OUT/.lock`` (the holder's PID and start time) for the whole
  run: a second run into the same folder is refused naming the holder. The lock is an
  ``flock`` on that file, so the kernel releases it when the holder dies (``kill -9``
  included) and a lock file left behind is taken over.
* :func:`stale_stage_folders` lists ``NN-stage`` folders that do not belong to the recipe
  (left by another recipe); the runner refuses them unless ``force``, which removes them.
* :func:`folder_checksums` records the sha256 of every file a stage wrote; the runner stores
  them in ``params.json`` and verifies them before a cached stage is reused.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "LOCK_FILE",
    "RunFolderLocked",
    "check_paths",
    "run_folder_lock",
    "stale_stage_folders",
    "remove_stage_folders",
    "folder_checksums",
    "verify_checksums",
    "file_sha256",
]

LOCK_FILE = ".lock"
#: the run's own generated input (:mod:`microstructure.pipeline.phantom_input`)
PHANTOM_DIR = "00-phantom"
_STAGE_DIR = re.compile(r"^\d{2,}-.+")
_SKIP_CHECKSUM = {"params.json"}
_BLOCK = 1 << 22
#: folders locked by this process (resolved path -> [fd, depth]): the lock is re-entrant
_HELD: dict[Path, list[int]] = {}


def _inside(path: Path, folder: Path) -> bool:
    """True when ``path`` equals ``folder`` or lies inside it (both resolved)."""
    return path == folder or folder in path.parents


def check_paths(out: str | os.PathLike, inputs: Iterable[tuple[str, str | os.PathLike]]) -> None:
    """Refuse an output folder that overlaps an input.

    Parameters
    ----------
    out
        The run folder (``--out``).
    inputs
        ``(what, path)`` of every input: the stack and each file a stage reads.

    Raises
    ------
    ValueError
        One line naming both paths.
    """
    out_r = Path(out).expanduser().resolve()
    phantom = out_r / PHANTOM_DIR
    for what, path in inputs:
        src = Path(path).expanduser().resolve()
        if src == out_r:
            raise ValueError(
                f"--out {out}: the output folder must not be the input ({what} {path})"
            )
        if _inside(out_r, src):
            raise ValueError(
                f"--out {out}: the output folder must not be inside the input {what} {path}"
            )
        if _inside(src, out_r) and not _inside(src, phantom):
            raise ValueError(
                f"--out {out}: the output folder must not contain the input {what} {path} "
                "(the run would overwrite it); choose another --out"
            )


# ------------------------------------------------------------------------------ the lock
class RunFolderLocked(ValueError):
    """Another process holds the run folder's lock (a usage error: one line, exit 1)."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text())
        return f"PID {info.get('pid')}, started {info.get('started')}"
    except (OSError, ValueError, AttributeError):
        return "PID unknown"


@contextmanager
def run_folder_lock(out: str | os.PathLike) -> Iterator[Path]:
    """Hold ``OUT/.lock`` while the block runs (``out`` must exist).

    Raises :class:`RunFolderLocked` naming the holder's PID when another process holds it.
    Re-entrant within one process; released (and the file removed) on exit, error or
    interrupt. A lock file left by a dead process holds no ``flock`` and is taken over.
    """
    import fcntl

    folder = Path(out).resolve()
    held = _HELD.get(folder)
    if held is not None:
        held[1] += 1
        try:
            yield folder / LOCK_FILE
        finally:
            held[1] -= 1
        return
    path = folder / LOCK_FILE
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise RunFolderLocked(
                f"--out {out}: another run is using this folder ({_holder(path)}); wait for it "
                "or choose another --out"
            ) from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed it between our open and flock: try again
    info = {
        "pid": os.getpid(),
        "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    os.ftruncate(fd, 0)
    os.write(fd, (json.dumps(info) + "\n").encode())
    _HELD[folder] = [fd, 1]
    try:
        yield path
    finally:
        del _HELD[folder]
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        os.close(fd)


# ------------------------------------------------------------------------- stale stages
def stale_stage_folders(out: str | os.PathLike, dirnames: Iterable[str]) -> list[str]:
    """Names of ``NN-stage`` folders in ``out`` that are not among ``dirnames`` (sorted)."""
    folder = Path(out)
    if not folder.is_dir():
        return []
    keep = set(dirnames) | {PHANTOM_DIR}
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.is_dir() and _STAGE_DIR.match(p.name) and p.name not in keep
    )


def remove_stage_folders(out: str | os.PathLike, names: Iterable[str]) -> None:
    """Remove stage folders (with their work folders and copied figures)."""
    folder = Path(out)
    for name in names:
        shutil.rmtree(folder / name, ignore_errors=True)
        for extra in (f".{name}.tmp", f".{name}.chunks", f".{name}.old"):
            shutil.rmtree(folder / extra, ignore_errors=True)
        for fig in (folder / "figures").glob(f"{name}-*"):
            fig.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- checksums
def file_sha256(path: str | os.PathLike) -> str:
    """sha256 (hex) of a file's content, streamed; of a folder: of its files' relative
    paths and contents in sorted order."""
    p = Path(path)
    h = hashlib.sha256()
    if p.is_dir():
        for f in sorted(q for q in p.rglob("*") if q.is_file()):
            h.update(f.relative_to(p).as_posix().encode() + b"\0")
            h.update(file_sha256(f).encode())
        return h.hexdigest()
    with open(p, "rb") as fh:
        while block := fh.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def folder_checksums(folder: str | os.PathLike) -> dict[str, str]:
    """``{name: sha256}`` of every entry a stage wrote into its folder (a Zarr store as one
    entry), ``params.json`` excepted."""
    base = Path(folder)
    return {
        p.name: file_sha256(p)
        for p in sorted(base.iterdir())
        if p.name not in _SKIP_CHECKSUM and not p.name.startswith(".")
    }


def verify_checksums(folder: str | os.PathLike, checksums: object) -> str | None:
    """``None`` when every recorded file is there with its checksum, else why not."""
    if not isinstance(checksums, dict):
        return "no checksums recorded"
    base = Path(folder)
    for name, digest in checksums.items():
        p = base / name
        if not p.exists():
            return f"{name} missing"
        if file_sha256(p) != digest:
            return f"{name} checksum mismatch"
    return None
