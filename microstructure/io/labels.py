"""Label maps: translate any labelling of a segmented volume to our phases.

``--labels pore=0,am=85,cbd=170`` maps the file's value 0 to phase 0 (pore), 85 to 1 (AM) and
170 to 2 (CBD). A phase may take several values (``pore=0,pore=255`` or ``pore=0+255``).
Phase names: ``pore``, ``am``, ``cbd``, ``cbd_pore`` (also ``cbdpore``, ``nanopore``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from microstructure.volume import Phase

__all__ = ["parse_label_map", "apply_label_map", "PHASE_ALIASES"]

PHASE_ALIASES: dict[str, int] = {
    "pore": Phase.PORE,
    "void": Phase.PORE,
    "am": Phase.AM,
    "nmc": Phase.AM,
    "active": Phase.AM,
    "cbd": Phase.CBD,
    "binder": Phase.CBD,
    "cbd_pore": Phase.CBD_PORE,
    "cbdpore": Phase.CBD_PORE,
    "nanopore": Phase.CBD_PORE,
}


def parse_label_map(text: str, *, name: str = "--labels") -> dict[str, list[int]]:
    """Parse ``"pore=0,am=85,cbd=170"`` into ``{"pore": [0], "am": [85], "cbd": [170]}``.

    Raises
    ------
    ValueError
        For malformed items, unknown phase names, non-integer values, or a value given to
        two phases.
    """
    out: dict[str, list[int]] = {}
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ValueError(f"{name}: empty label map; expected e.g. pore=0,am=85,cbd=170")
    seen: dict[int, str] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"{name}: expected PHASE=VALUE, got {item!r} (e.g. pore=0,am=85)")
        key, _, vals = item.partition("=")
        key = key.strip().lower()
        if key not in PHASE_ALIASES:
            raise ValueError(f"{name}: unknown phase {key!r}; use pore, am, cbd or cbd_pore")
        for v in vals.split("+"):
            try:
                value = int(v.strip())
            except ValueError:
                raise ValueError(
                    f"{name}: value {v.strip()!r} for {key} is not an integer"
                ) from None
            if value in seen and seen[value] != key:
                raise ValueError(f"{name}: value {value} is given to both {seen[value]} and {key}")
            seen[value] = key
            out.setdefault(key, []).append(value)
    return out


def apply_label_map(
    data: np.ndarray, mapping: Mapping[str, Any], *, source: str = "labels"
) -> np.ndarray:
    """Return a uint8 phase volume from ``data`` using ``mapping`` (phase name -> value(s)).

    Every value present in ``data`` must be mapped; values in the map that are absent from
    the data only produce a warning (a phase may legitimately be missing).
    """
    arr = np.asarray(data)
    if not np.issubdtype(arr.dtype, np.integer) and arr.dtype != np.bool_:
        if np.issubdtype(arr.dtype, np.floating) and np.array_equal(arr, np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(
                f"{source}: a label map applies to integer label values, got {arr.dtype} data"
            )
    lut_keys: dict[int, int] = {}
    for phase_name, values in mapping.items():
        phase = PHASE_ALIASES.get(str(phase_name).lower())
        if phase is None:
            raise ValueError(f"--labels: unknown phase {phase_name!r}")
        vals = values if isinstance(values, list | tuple) else [values]
        for v in vals:
            lut_keys[int(v)] = int(phase)
    present = np.unique(arr)
    unmapped = [int(v) for v in present if int(v) not in lut_keys]
    if unmapped:
        shown = ", ".join(map(str, unmapped[:8])) + (" ..." if len(unmapped) > 8 else "")
        raise ValueError(
            f"{source}: label map does not cover value(s) {shown} present in the volume "
            f"(present: {', '.join(map(str, present[:12].tolist()))})"
        )
    missing = sorted(set(lut_keys) - {int(v) for v in present})
    if missing:
        warnings.warn(
            f"{source}: label value(s) {missing} from the label map are absent from the volume",
            stacklevel=3,
        )
    out = np.empty(arr.shape, dtype=np.uint8)
    for value, phase in lut_keys.items():
        out[arr == value] = phase
    return out
