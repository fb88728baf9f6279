"""Length units of image metadata (ImageJ, OME-XML, OME-NGFF) in nanometres."""

from __future__ import annotations

from typing import Any

__all__ = ["UNIT_TO_NM", "unit_to_nm"]

#: Length units seen in ImageJ/OME metadata, to nanometres.
UNIT_TO_NM = {
    "nm": 1.0,
    "nanometer": 1.0,
    "nanometre": 1.0,
    "um": 1e3,
    "µm": 1e3,
    "μm": 1e3,
    "\\u00b5m": 1e3,
    "micron": 1e3,
    "microns": 1e3,
    "micrometer": 1e3,
    "micrometre": 1e3,
    "mm": 1e6,
    "millimeter": 1e6,
    "cm": 1e7,
    "m": 1e9,
    "meter": 1e9,
    "a": 0.1,
    "å": 0.1,
    "angstrom": 0.1,
}


def unit_to_nm(unit: Any) -> float | None:
    """Nanometres per ``unit`` (``"um"``, ``"micrometer"``, ``"µm"``, ``"nm"``, ...); ``None``
    for a missing or unknown unit."""
    if unit is None:
        return None
    key = str(unit).strip().lower()
    return UNIT_TO_NM.get(key)
