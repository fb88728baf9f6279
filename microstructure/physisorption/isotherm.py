"""The :class:`Isotherm`: a gas-sorption isotherm in p/p0 and cm3(STP)/g, split into branches.

An isotherm read from an instrument file (:func:`microstructure.physisorption.read_isotherm`)
or built from arrays (:meth:`Isotherm.from_arrays`) always holds the relative pressure
``p/p0``, the specific amount adsorbed as gas at STP (cm3(STP)/g; mmol/g as a property) and a
branch label per point (``"adsorption"`` or ``"desorption"``). Arrays are read-only copies.

References
----------
.. [1] Thommes M. et al. (2015), Pure Appl. Chem. 87, 1051-1069,
   doi:10.1515/pac-2014-1117 (isotherm and hysteresis conventions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from microstructure.physisorption.constants import (
    STP_MOLAR_VOLUME_CM3_PER_MOL,
    canonical_adsorptive,
)

__all__ = ["Isotherm", "ADSORPTION", "DESORPTION", "split_branches"]

ADSORPTION = "adsorption"
DESORPTION = "desorption"
#: Largest p/p0 accepted (instruments report slightly above 1 near saturation).
MAX_RELATIVE_PRESSURE = 1.05


def split_branches(p_over_p0: np.ndarray) -> np.ndarray:
    """Branch labels from the measurement order: adsorption up to the highest p/p0, then
    desorption.

    Parameters
    ----------
    p_over_p0
        Relative pressures in measurement order.

    Returns
    -------
    numpy.ndarray
        ``"adsorption"`` up to and including the first maximum of ``p_over_p0``,
        ``"desorption"`` after it.
    """
    x = np.asarray(p_over_p0, dtype=float)
    labels = np.full(x.shape, ADSORPTION, dtype="<U10")
    if x.size:
        labels[int(np.argmax(x)) + 1 :] = DESORPTION
    return labels


def _frozen(a: Any, dtype: Any) -> np.ndarray:
    out = np.array(a, dtype=dtype, copy=True).ravel()
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class Isotherm:
    """A gas-sorption isotherm per gram of sample.

    Attributes
    ----------
    pressure_relative
        p/p0 of every point in measurement order.
    amount_cm3_stp_per_g
        Specific amount adsorbed, as gas volume at STP (273.15 K, 101.325 kPa) per gram.
    branch
        ``"adsorption"`` or ``"desorption"`` per point.
    adsorbate
        Canonical adsorptive name (``"N2"``, ``"Ar"``, ...).
    temperature_k
        Bath temperature, None when the file does not say.
    sample_mass_g
        Sample mass, None when unknown.
    material
        Sample name from the file.
    source
        The file read (``""`` for arrays).
    manufacturer, fmt
        How the file was read (``adsorption-file-parser`` names, or ``"plain"``/``"csv"``).
    metadata
        The parser's metadata, read-only.
    stated
        Results the instrument report states (e.g. ``bet_area_m2_per_g``), read-only; empty
        when the file holds none.
    """

    pressure_relative: np.ndarray
    amount_cm3_stp_per_g: np.ndarray
    branch: np.ndarray
    adsorbate: str = "N2"
    temperature_k: float | None = None
    sample_mass_g: float | None = None
    material: str = ""
    source: str = ""
    manufacturer: str = ""
    fmt: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    stated: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        name = self.source or "isotherm"
        x = _frozen(self.pressure_relative, float)
        n = _frozen(self.amount_cm3_stp_per_g, float)
        b = _frozen(self.branch, "<U10")
        if not (x.size == n.size == b.size):
            raise ValueError(
                f"{name}: p/p0 ({x.size}), amount ({n.size}) and branch ({b.size}) "
                "have different lengths"
            )
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(n))):
            raise ValueError(f"{name}: p/p0 or amount adsorbed holds NaN or infinite values")
        if x.size and (x.min() <= 0 or x.max() > MAX_RELATIVE_PRESSURE):
            raise ValueError(
                f"{name}: p/p0 must lie in (0, {MAX_RELATIVE_PRESSURE}], got "
                f"{x.min():.4g}..{x.max():.4g} (absolute pressures or wrong p0?)"
            )
        bad = set(np.unique(b)) - {ADSORPTION, DESORPTION}
        if bad:
            raise ValueError(f"{name}: unknown branch labels {sorted(bad)}")
        if int(np.sum(b == ADSORPTION)) < 3:
            raise ValueError(f"{name}: fewer than 3 adsorption points")
        object.__setattr__(self, "pressure_relative", x)
        object.__setattr__(self, "amount_cm3_stp_per_g", n)
        object.__setattr__(self, "branch", b)
        object.__setattr__(self, "adsorbate", canonical_adsorptive(self.adsorbate) or "N2")
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))
        object.__setattr__(self, "stated", MappingProxyType(dict(self.stated)))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        p_over_p0: Any,
        amount_cm3_stp_per_g: Any,
        *,
        branch: Any = None,
        **kwargs: Any,
    ) -> Isotherm:
        """An isotherm from arrays; branches from the measurement order when not given.

        Parameters
        ----------
        p_over_p0
            Relative pressures in measurement order.
        amount_cm3_stp_per_g
            Specific amounts adsorbed, cm3(STP)/g.
        branch
            Optional labels per point (``"adsorption"``/``"desorption"``).
        **kwargs
            Further :class:`Isotherm` attributes (``adsorbate``, ``temperature_k``, ...).

        Returns
        -------
        Isotherm
        """
        x = np.asarray(p_over_p0, dtype=float)
        labels = split_branches(x) if branch is None else np.asarray(branch)
        return cls(x, np.asarray(amount_cm3_stp_per_g, dtype=float), labels, **kwargs)

    # ------------------------------------------------------------------ views
    @property
    def amount_mmol_per_g(self) -> np.ndarray:
        """Specific amount adsorbed in mmol/g (1 mmol = 22.414 cm3(STP))."""
        return self.amount_cm3_stp_per_g / (STP_MOLAR_VOLUME_CM3_PER_MOL / 1000.0)

    @property
    def name(self) -> str:
        """The source file, else the material name (for messages)."""
        return self.source or self.material or "isotherm"

    def adsorption(self) -> tuple[np.ndarray, np.ndarray]:
        """``(p/p0, amount cm3(STP)/g)`` of the adsorption branch, p/p0 increasing."""
        m = self.branch == ADSORPTION
        x, n = self.pressure_relative[m], self.amount_cm3_stp_per_g[m]
        order = np.argsort(x, kind="stable")
        return x[order], n[order]

    def desorption(self, *, include_top: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """``(p/p0, amount)`` of the desorption branch, p/p0 decreasing.

        Parameters
        ----------
        include_top
            Start with the highest adsorption point (where desorption begins).

        Returns
        -------
        tuple of numpy.ndarray
            Empty arrays when the isotherm has no desorption branch.
        """
        m = self.branch == DESORPTION
        x, n = self.pressure_relative[m], self.amount_cm3_stp_per_g[m]
        order = np.argsort(-x, kind="stable")
        x, n = x[order], n[order]
        if include_top and x.size:
            xa, na = self.adsorption()
            if xa[-1] > x[0]:
                x, n = np.concatenate([[xa[-1]], x]), np.concatenate([[na[-1]], n])
        return x, n

    @property
    def has_desorption(self) -> bool:
        """True when at least 3 desorption points were measured."""
        return int(np.sum(self.branch == DESORPTION)) >= 3

    def summary(self) -> dict[str, Any]:
        """Plain numbers describing the isotherm (JSON-ready)."""
        xa, na = self.adsorption()
        return {
            "source": self.source,
            "material": self.material,
            "adsorbate": self.adsorbate,
            "temperature_k": self.temperature_k,
            "sample_mass_g": self.sample_mass_g,
            "n_adsorption": int(xa.size),
            "n_desorption": int(np.sum(self.branch == DESORPTION)),
            "p_over_p0_min": float(self.pressure_relative.min()),
            "p_over_p0_max": float(self.pressure_relative.max()),
            "max_amount_cm3_stp_per_g": float(self.amount_cm3_stp_per_g.max()),
        }
