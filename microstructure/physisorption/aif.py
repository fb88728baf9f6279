"""Adsorption Information Files (AIF): a CIF dialect for isotherms, read with gemmi's CIF parser.

``adsorption-file-parser`` has no AIF reader, so the CIF syntax is left to ``gemmi.cif`` and
only the AIF data names are interpreted here: ``_adsorp_pressure``, ``_adsorp_p0``,
``_adsorp_amount`` (and ``_desorp_*``), ``_units_pressure``, ``_units_loading``,
``_units_mass``, ``_units_temperature``, ``_exptl_adsorptive``, ``_exptl_temperature``,
``_adsnt_sample_mass``, ``_adsnt_material_id``.

References
----------
.. [1] Evans J.D., Bon V., Senkovska I., Kaskel S. (2021), "A universal standard archive file
   for adsorption data", Langmuir 37, 4222-4226, doi:10.1021/acs.langmuir.1c00122.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from microstructure.physisorption.isotherm import ADSORPTION, DESORPTION, Isotherm
from microstructure.physisorption.plain import (
    AMOUNT_CM3_STP_PER_G,
    PRESSURE_PA,
    normalise_amount_unit,
)

__all__ = ["read_aif"]

_MASS_G = {"g": 1.0, "mg": 1e-3, "kg": 1e3}


def _value(block: Any, tag: str) -> str | None:
    from gemmi import cif

    raw = block.find_value(tag)
    return None if raw is None else cif.as_string(raw)


def _loop(block: Any, tag: str, path: Path) -> np.ndarray | None:
    from gemmi import cif

    col = block.find_loop(tag)
    if col is None or len(col) == 0:
        return None
    try:
        return np.array([cif.as_number(v) for v in col], dtype=float)
    except (RuntimeError, ValueError):
        raise ValueError(f"{path}: non-numeric value in the AIF loop {tag}") from None


def _branch(block: Any, prefix: str, unit: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    p = _loop(block, f"_{prefix}_pressure", path)
    n = _loop(block, f"_{prefix}_amount", path)
    if p is None or n is None:
        return np.empty(0), np.empty(0)
    if p.size != n.size:
        raise ValueError(f"{path}: AIF _{prefix}_pressure and _{prefix}_amount differ in length")
    if unit in ("relative", "p/p0"):
        return p, n
    p0 = _loop(block, f"_{prefix}_p0", path)
    if p0 is None:
        raise ValueError(f"{path}: cannot tell p/p0: AIF pressures in {unit} without _{prefix}_p0")
    return p / p0, n


def read_aif(path: str | Path) -> Isotherm:
    """Read a single-component isotherm from an AIF file.

    Parameters
    ----------
    path
        The ``.aif`` file.

    Returns
    -------
    Isotherm
        Adsorption points then desorption points, amounts in cm3(STP)/g.

    Raises
    ------
    ValueError
        One line naming the file: not CIF, no adsorption loop, unknown units.

    References
    ----------
    .. [1] Evans J.D. et al. (2021), Langmuir 37, 4222-4226, doi:10.1021/acs.langmuir.1c00122.
    """
    p = Path(path)
    try:
        from gemmi import cif
    except ImportError:
        raise ValueError(f"{p}: reading AIF files needs the gemmi package") from None
    try:
        block = cif.read_file(str(p)).sole_block()
    except IndexError:  # gemmi: no data block at all
        raise ValueError(f"{p}: not an AIF file (no CIF data block)") from None
    except (RuntimeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{p}: not a readable AIF (CIF) file ({first})") from None
    unit_p = (_value(block, "_units_pressure") or "").strip().lower()
    if unit_p not in PRESSURE_PA and unit_p not in ("relative", "p/p0"):
        raise ValueError(f"{p}: unknown AIF _units_pressure {unit_p or None!r}")
    unit_n = normalise_amount_unit(_value(block, "_units_loading") or "")
    if unit_n not in AMOUNT_CM3_STP_PER_G:
        raise ValueError(
            f"{p}: AIF _units_loading {_value(block, '_units_loading')!r} is not an amount per "
            "gram with gas at STP or moles"
        )
    xa, na = _branch(block, "adsorp", unit_p, p)
    if xa.size < 3:
        raise ValueError(f"{p}: no AIF adsorption loop (_adsorp_pressure, _adsorp_amount)")
    xd, nd = _branch(block, "desorp", unit_p, p)
    factor = AMOUNT_CM3_STP_PER_G[unit_n]
    mass = _value(block, "_adsnt_sample_mass")
    unit_m = (_value(block, "_units_mass") or "g").strip().lower()
    temp = _value(block, "_exptl_temperature")
    unit_t = (_value(block, "_units_temperature") or "K").strip().upper()
    temperature = None if temp is None else float(temp) + (273.15 if unit_t.startswith("C") else 0)
    return Isotherm(
        np.concatenate([xa, xd]),
        np.concatenate([na, nd]) * factor,
        [ADSORPTION] * xa.size + [DESORPTION] * xd.size,
        adsorbate=_value(block, "_exptl_adsorptive") or "N2",
        temperature_k=temperature,
        sample_mass_g=None if mass is None else float(mass) * _MASS_G.get(unit_m, np.nan),
        material=_value(block, "_adsnt_material_id") or p.stem,
        source=str(p),
        manufacturer="aif",
        fmt="aif",
        metadata={"block": block.name, "units_pressure": unit_p, "units_loading": unit_n},
    )
