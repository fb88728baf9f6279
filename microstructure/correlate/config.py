"""The correlative-report configuration (TOML): what was measured on one electrode.

Sections (all optional but ``[sample]``; paths relative to the config file)::

    [sample]        name, crystal_density_g_per_cm3 (+ _uncertainty)
    [gauge]         thickness_um (+ _uncertainty_um), mass_loading_mg_per_cm2 (+ _uncertainty)
                    or bulk_density_g_per_cm3; porosity_std (statistical, 0..1)
    [pycnometry]    skeletal_density_g_per_cm3 (+ _uncertainty_g_per_cm3), probe_diameter_nm
    [mip]           file (+ reading options: runs, min_pressure_mpa, max_pressure_mpa,
                    sample_mass_g, pressure_unit, volume_unit, decimal), bulk_volume_mm3,
                    pore_shape, cone_half_angle_deg, contact_angle_deg, surface_tension_n_per_m
    [physisorption] file, manufacturer, fmt, p_over_p0_range, branch; or published numbers:
                    bet_area_m2_per_g, bet_area_uncertainty_rel, c_constant;
                    pore_size_range_nm
    [fibsem]        run (a pipeline run folder), curve (a curve CSV instead), porosity,
                    porosity_uncertainty, voxel_size_nm, pore_size_range_nm
    [[method]]      any further method: name, porosity, porosity_uncertainty,
                    pore_size_range_nm, note
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

__all__ = ["load_config", "SECTIONS"]

SECTIONS = ("sample", "gauge", "pycnometry", "mip", "physisorption", "fibsem", "method")

_FLOATS = {
    "sample": ("crystal_density_g_per_cm3", "crystal_density_uncertainty_g_per_cm3"),
    "gauge": (
        "thickness_um",
        "thickness_uncertainty_um",
        "mass_loading_mg_per_cm2",
        "mass_loading_uncertainty_mg_per_cm2",
        "bulk_density_g_per_cm3",
        "bulk_density_uncertainty_g_per_cm3",
        "porosity_std",
    ),
    "pycnometry": (
        "skeletal_density_g_per_cm3",
        "skeletal_density_uncertainty_g_per_cm3",
        "probe_diameter_nm",
    ),
    "mip": (
        "min_pressure_mpa",
        "max_pressure_mpa",
        "sample_mass_g",
        "bulk_volume_mm3",
        "cone_half_angle_deg",
        "contact_angle_deg",
        "surface_tension_n_per_m",
    ),
    "physisorption": ("bet_area_m2_per_g", "bet_area_uncertainty_rel", "c_constant"),
    "fibsem": ("porosity", "porosity_uncertainty", "voxel_size_nm"),
}
_PATHS = {"mip": ("file", "blank"), "physisorption": ("file",), "fibsem": ("run", "curve")}


def _check_number(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}.{key}: expected a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x) or x < 0:
        raise ValueError(f"{where}.{key}: expected a finite number >= 0, got {value!r}")
    return x


def _check_range(where: str, value: Any) -> list[float | None]:
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError(f"{where}.pore_size_range_nm: expected [min_nm, max_nm], got {value!r}")
    lo = _check_number(where, "pore_size_range_nm", value[0])
    hi = None if value[1] in ("inf", -1) else _check_number(where, "pore_size_range_nm", value[1])
    if hi is not None and not hi > lo > 0:
        raise ValueError(f"{where}.pore_size_range_nm: expected 0 < min < max, got {value!r}")
    return [lo, hi]


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a correlative-report TOML; paths become absolute (relative to the file).

    Raises
    ------
    ValueError
        One line naming the file and key: unreadable TOML, an unknown section, a
        non-numeric or negative number, a missing file.
    """
    from microstructure.io.tables import read_toml

    p = Path(path)
    cfg = read_toml(p, what="correlative config")
    return check_config(cfg, base=p.parent, name=str(p))


def check_config(cfg: dict[str, Any], *, base: Path, name: str = "config") -> dict[str, Any]:
    """Check a config dict (as :func:`load_config` reads it); returns a checked copy."""
    unknown = sorted(set(cfg) - set(SECTIONS))
    if unknown:
        raise ValueError(f"{name}: unknown section(s) {unknown}; expected {list(SECTIONS)}")
    if "sample" not in cfg:
        raise ValueError(f"{name}: missing [sample] (name, crystal_density_g_per_cm3)")
    out: dict[str, Any] = {}
    for section, body in cfg.items():
        if section == "method":
            if not isinstance(body, list):
                raise ValueError(f"{name}: [[method]] must be an array of tables")
            out["method"] = [_check_method(name, i, m) for i, m in enumerate(body)]
            continue
        if not isinstance(body, dict):
            raise ValueError(f"{name}: [{section}] must be a table")
        sec = dict(body)
        for key in _FLOATS.get(section, ()):
            if key in sec:
                sec[key] = _check_number(f"{name}: {section}", key, sec[key])
        if "pore_size_range_nm" in sec:
            sec["pore_size_range_nm"] = _check_range(
                f"{name}: {section}", sec["pore_size_range_nm"]
            )
        for key in _PATHS.get(section, ()):
            if key in sec:
                f = Path(str(sec[key]))
                f = f if f.is_absolute() else base / f
                if not f.exists():
                    raise ValueError(f"{name}: {section}.{key}: {f} does not exist")
                sec[key] = str(f)
        out[section] = sec
    if "crystal_density_g_per_cm3" not in out["sample"]:
        raise ValueError(f"{name}: sample.crystal_density_g_per_cm3 is required")
    return out


def _check_method(name: str, i: int, m: Any) -> dict[str, Any]:
    where = f"{name}: method[{i}]"
    if not isinstance(m, dict) or not isinstance(m.get("name"), str):
        raise ValueError(f"{where}: expected a table with a name")
    out = dict(m)
    for key in ("porosity", "porosity_uncertainty"):
        if key in out:
            out[key] = _check_number(where, key, out[key])
    if "pore_size_range_nm" in out:
        out["pore_size_range_nm"] = _check_range(where, out["pore_size_range_nm"])
    return out
