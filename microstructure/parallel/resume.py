"""Resumable chunked work: a folder of Zarr intermediates with one completion marker per chunk.

Chunked functions (:func:`~microstructure.parallel.invasion_radius_chunked`,
:func:`~microstructure.parallel.local_thickness_chunked`) run in phases (mask, distance
transform, flood passes, painting). Each task writes its chunk into a Zarr array whose chunks
are the work chunks (Zarr writes a chunk file atomically: a temporary file renamed into
place), and only then writes a small marker file ``PHASE/Z_Y_X.done``. A rerun with the same
folder and the same arguments skips every chunk that has a marker, so an interrupted run
(exception, Ctrl-C, killed worker or machine) recomputes only the unfinished chunks.

The folder holds a ``manifest.json`` of the arguments that determine the result (shape, chunk,
voxel size, radius, inlets ...). A folder written with other arguments is cleared before use,
so stale chunks are never mixed into a new result. The input data itself is not hashed: the
pipeline runner gives every stage a folder of its own keyed by the hash of its input and
parameters (``StageContext.chunk_dir``); a direct caller reusing a folder must pass the same
input.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from microstructure.io.tables import atomic_write_text

__all__ = ["ChunkLedger", "open_work_folder", "set_chunk_hook", "MANIFEST_FILE"]

MANIFEST_FILE = "manifest.json"

Block = tuple[int, int, int]
Hook = Callable[[str, Block], None]

#: Called as ``hook(phase, block)`` after every chunk is marked finished (tests use it to
#: interrupt a run deliberately). Runs inside the task, so only in the calling process: with the
#: ``synchronous`` or ``threads`` scheduler.
_CHUNK_HOOK: Hook | None = None


def set_chunk_hook(hook: Hook | None) -> Hook | None:
    """Install ``hook(phase, block)`` called after each finished chunk; returns the previous one.

    For tests and progress reporting in the calling process (threads or synchronous scheduler);
    worker processes of a cluster do not see it.
    """
    global _CHUNK_HOOK
    old, _CHUNK_HOOK = _CHUNK_HOOK, hook
    return old


def _atomic_write_text(path: Path, text: str) -> None:
    atomic_write_text(path, text)


class ChunkLedger:
    """Completion markers of one phase: ``ROOT/PHASE/Z_Y_X.done`` per finished chunk.

    Parameters
    ----------
    root
        The work folder.
    phase
        Name of the phase (a sub-folder; may contain ``/``).
    """

    def __init__(self, root: str | os.PathLike, phase: str) -> None:
        self.root = Path(root)
        self.phase = phase
        self.folder = self.root / phase
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, block: Iterable[int], suffix: str = ".done") -> Path:
        return self.folder / ("_".join(str(int(b)) for b in block) + suffix)

    def done(self, block: Iterable[int]) -> bool:
        """True when ``block`` was finished in this phase."""
        return self._path(block).is_file()

    def mark(self, block: Block, value: str = "") -> None:
        """Record ``block`` as finished (atomically), with an optional short ``value``."""
        _atomic_write_text(self._path(block), value)
        if _CHUNK_HOOK is not None:
            _CHUNK_HOOK(self.phase, tuple(int(b) for b in block))

    def value(self, block: Iterable[int]) -> str:
        """The value stored with a finished block."""
        return self._path(block).read_text()

    def flag(self, block: Block) -> None:
        """Leave a ``.flag`` marker (written before a side effect that must not be lost)."""
        _atomic_write_text(self._path(block, ".flag"), "")

    def flagged(self, block: Iterable[int]) -> bool:
        return self._path(block, ".flag").is_file()

    def todo(self, blocks: Iterable[Block]) -> list[Block]:
        """The blocks of ``blocks`` not finished yet (in order)."""
        finished = {p.name for p in self.folder.glob("*.done")}
        return [b for b in blocks if self._path(b).name not in finished]

    def n_done(self) -> int:
        return sum(1 for _ in self.folder.glob("*.done"))


def open_work_folder(path: str | os.PathLike, manifest: dict[str, Any]) -> tuple[Path, bool]:
    """Create or reopen a resumable work folder for the arguments in ``manifest``.

    Returns
    -------
    (Path, bool)
        The folder and whether earlier work with the same manifest was found (resumed). A
        folder holding another manifest (other arguments) is emptied first.
    """
    root = Path(path)
    text = json.dumps(manifest, sort_keys=True)
    mpath = root / MANIFEST_FILE
    if root.exists() and not root.is_dir():
        raise ValueError(f"resume_dir: {root} exists and is not a folder")
    resumed = False
    if mpath.is_file():
        try:
            resumed = json.loads(mpath.read_text()) == json.loads(text)
        except ValueError:
            resumed = False
        if not resumed:
            for child in root.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
    elif root.is_dir() and any(root.iterdir()):
        raise ValueError(
            f"resume_dir: {root} is not empty and holds no {MANIFEST_FILE}; give an empty "
            "or new folder"
        )
    root.mkdir(parents=True, exist_ok=True)
    if not resumed:
        _atomic_write_text(mpath, text)
    return root, resumed


def read_state(root: Path, name: str) -> dict[str, Any] | None:
    """A small JSON state file of the work folder (None when absent)."""
    p = root / f"{name}.json"
    if not p.is_file():
        return None
    return json.loads(p.read_text())


def write_state(root: Path, name: str, state: dict[str, Any]) -> None:
    """Write a small JSON state file atomically."""
    _atomic_write_text(root / f"{name}.json", json.dumps(state))
