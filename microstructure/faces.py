"""Faces of a volume: parsing the contract's face names and building face masks.

Face names (command-line contract): ``z-``, ``z+``, ``y-``, ``y+``, ``x-``, ``x+``, ``all``, and
the electrode aliases ``top`` (separator side), ``bottom`` (current-collector side) and
``all-but-bottom``, resolved through the electrode orientation: the thickness axis (default
``y``) and the index where the top lies (``top_at``, default 0, i.e. the ``-`` face).
Several faces may be joined with commas: ``"z-,z+"``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["AXES", "Face", "parse_faces", "face_mask", "axis_index"]

AXES = ("z", "y", "x")
#: A face is (axis index 0..2, side): side 0 is the low-index ("-") face, 1 the high ("+") one.
Face = tuple[int, int]

_ALL: tuple[Face, ...] = tuple((a, s) for a in range(3) for s in (0, 1))


def axis_index(axis: str | int, *, name: str = "axis") -> int:
    """Return 0, 1, 2 for ``"z"``, ``"y"``, ``"x"`` (or the integer itself)."""
    if isinstance(axis, int | np.integer) and 0 <= int(axis) <= 2:
        return int(axis)
    if isinstance(axis, str) and axis.lower() in AXES:
        return AXES.index(axis.lower())
    raise ValueError(f"{name}: expected one of z, y, x, got {axis!r}")


def _top_bottom(thickness_axis: str | int, top_at: int | str) -> tuple[Face, Face]:
    ax = axis_index(thickness_axis, name="thickness_axis")
    if isinstance(top_at, str):
        if top_at not in ("0", "start", "-", "end", "+", "-1"):
            raise ValueError(f"top_at: expected 0 (start) or -1 (end), got {top_at!r}")
        top_side = 0 if top_at in ("0", "start", "-") else 1
    else:
        if top_at not in (0, -1):
            raise ValueError(f"top_at: expected 0 (start) or -1 (end), got {top_at!r}")
        top_side = 0 if top_at == 0 else 1
    return (ax, top_side), (ax, 1 - top_side)


def parse_faces(
    faces: str | Iterable[str],
    *,
    thickness_axis: str | int = "y",
    top_at: int | str = 0,
    name: str = "faces",
) -> tuple[Face, ...]:
    """Resolve face names to a sorted tuple of (axis, side) pairs.

    Raises
    ------
    ValueError
        For an unknown face name or an empty selection.
    """
    if isinstance(faces, str):
        items = [f.strip() for f in faces.split(",") if f.strip()]
    else:
        items = [str(f).strip() for f in faces]
    if not items:
        raise ValueError(f"{name}: no face given (use e.g. all, top, all-but-bottom, z-, x+)")
    top, bottom = _top_bottom(thickness_axis, top_at)
    out: set[Face] = set()
    for item in items:
        key = item.lower()
        if key == "all":
            out.update(_ALL)
        elif key == "top":
            out.add(top)
        elif key == "bottom":
            out.add(bottom)
        elif key == "all-but-bottom":
            out.update(f for f in _ALL if f != bottom)
        elif len(key) == 2 and key[0] in AXES and key[1] in "+-":
            out.add((AXES.index(key[0]), 0 if key[1] == "-" else 1))
        else:
            raise ValueError(
                f"{name}: unknown face {item!r}; use z-, z+, y-, y+, x-, x+, all, top, bottom "
                "or all-but-bottom"
            )
    return tuple(sorted(out))


def face_name(face: Face) -> str:
    """``(1, 0)`` -> ``"y-"``."""
    return f"{AXES[face[0]]}{'-+'[face[1]]}"


def face_mask(shape: tuple[int, ...], faces: Iterable[Face]) -> np.ndarray:
    """Boolean array of ``shape`` that is True on the outer voxel layer of each face."""
    mask = np.zeros(shape, dtype=bool)
    for axis, side in faces:
        index = [slice(None)] * len(shape)
        index[axis] = 0 if side == 0 else shape[axis] - 1
        mask[tuple(index)] = True
    return mask
