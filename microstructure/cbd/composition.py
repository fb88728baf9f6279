"""Electrode recipe: mass fractions to solid volume fractions, CBD volume and density.

For components i with mass fractions w_i and densities rho_i the solid volume fractions are
``phi_i = (w_i / rho_i) / sum_j (w_j / rho_j)`` and the theoretical (crystal) density of the
pore-free electrode is ``rho_theo = 1 / sum_j (w_j / rho_j)``. The carbon-binder domain (CBD)
groups the conductive carbon and the binder: its volume fraction is the sum of theirs and its
density the mass-weighted (harmonic) combination ``sum w_k / sum (w_k / rho_k)``. Table 1
of Beuse et al. 2021 [1]_ (95/2/3 wt% NMC622/CB/PVdF at 4.76/2.25/1.77 g/cm^3) gives
88.54/3.94/7.52 vol%, CBD 11.46 vol% at 1.935 g/cm^3 and 4.436 g/cm^3 for the electrode.

References
----------
.. [1] Beuse, T. et al. Comprehensive Insights into the Porosity of Lithium-Ion Battery
   Electrodes: A Comparative Study on Positive Electrodes Based on LiNi0.6Mn0.2Co0.2O2
   (NMC622). Batteries 2021, 7, 70. https://doi.org/10.3390/batteries7040070
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Composition", "composition", "parse_named_values"]

_SUM_TOL = 1e-6


def parse_named_values(text: str, *, name: str = "values") -> dict[str, float]:
    """Parse ``"AM=0.95,CB=0.02,PVdF=0.03"`` into ``{"AM": 0.95, "CB": 0.02, "PVdF": 0.03}``.

    Parameters
    ----------
    text
        Comma-separated ``NAME=NUMBER`` pairs; spaces around items are ignored.
    name
        Parameter name for error messages (e.g. ``"--mass-fractions"``).

    Raises
    ------
    ValueError
        One line naming ``name`` for an empty string, an item without ``=``, an empty name, a
        value that is not a finite number, or a repeated name.
    """
    if not isinstance(text, str):
        raise ValueError(f"{name}: expected NAME=VALUE pairs as text, got {text!r}")
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise ValueError(f"{name}: empty; expected NAME=VALUE pairs, e.g. AM=0.95,CB=0.02")
    out: dict[str, float] = {}
    for item in items:
        if not item:
            raise ValueError(f"{name}: empty item in {text!r} (doubled or trailing comma?)")
        if item.count("=") != 1:
            raise ValueError(f"{name}: expected NAME=VALUE, got {item!r}")
        key, raw = (s.strip() for s in item.split("="))
        if not key:
            raise ValueError(f"{name}: missing name before '=' in {item!r}")
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{name}: value of {key} is not a number: {raw!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"{name}: value of {key} must be finite, got {raw!r}")
        if key.lower() in (k.lower() for k in out):
            raise ValueError(f"{name}: {key} given more than once")
        out[key] = value
    return out


@dataclass(frozen=True)
class Composition:
    """An electrode recipe in mass and volume terms.

    Attributes
    ----------
    mass_fractions
        Component -> mass fraction (0..1, summing to 1).
    densities_g_per_cm3
        Component -> density, g/cm^3.
    volume_fractions
        Component -> fraction of the solid (pore-free) volume (0..1, summing to 1).
    cbd_components
        Components grouped into the carbon-binder domain.
    cbd_mass_fraction, cbd_volume_fraction
        CBD share of the solid mass and of the solid volume (0..1).
    cbd_density_g_per_cm3
        Density of the pore-free CBD, g/cm^3 (None when no CBD component is given).
    theoretical_density_g_per_cm3
        Density of the pore-free electrode coating, g/cm^3.
    """

    mass_fractions: dict[str, float]
    densities_g_per_cm3: dict[str, float]
    volume_fractions: dict[str, float]
    cbd_components: tuple[str, ...]
    cbd_mass_fraction: float
    cbd_volume_fraction: float
    cbd_density_g_per_cm3: float | None
    theoretical_density_g_per_cm3: float
    normalized: bool = field(default=False)

    def phase_volume_fractions(
        self, porosity: float, *, cbd_nanoporosity: float = 0.0
    ) -> dict[str, float]:
        """Fractions of the whole electrode volume for a given total porosity.

        Parameters
        ----------
        porosity
            Total porosity of the electrode (0..1), including the CBD nanopores.
        cbd_nanoporosity
            Pore fraction inside the CBD envelope (0 <= value < 1), e.g. 0.502
            (Beuse et al. 2021 [1]_).

        Returns
        -------
        dict
            ``am``, ``cbd_envelope`` (CBD solid + its nanopores, e.g. the ``volume_fraction`` of
            CBD insertion), ``cbd_solid``, ``cbd_nanopores``, ``pore_outside_cbd`` and
            ``porosity``, fractions of the whole volume.

        Raises
        ------
        ValueError
            If the CBD nanopores alone exceed the given porosity.
        """
        eps = float(porosity)
        if not (math.isfinite(eps) and 0.0 <= eps < 1.0):
            raise ValueError(f"porosity: expected a fraction 0 <= value < 1, got {porosity!r}")
        npor = float(cbd_nanoporosity)
        if not (math.isfinite(npor) and 0.0 <= npor < 1.0):
            raise ValueError(
                f"cbd_nanoporosity: expected a fraction 0 <= value < 1, got {cbd_nanoporosity!r}"
            )
        solid = 1.0 - eps
        cbd_solid = solid * self.cbd_volume_fraction
        envelope = cbd_solid / (1.0 - npor)
        nano = envelope - cbd_solid
        if nano > eps + 1e-12:
            raise ValueError(
                f"porosity: {eps:.4f} is smaller than the CBD nanopore volume {nano:.4f} "
                "implied by cbd_nanoporosity"
            )
        return {
            "am": solid - cbd_solid,
            "cbd_envelope": envelope,
            "cbd_solid": cbd_solid,
            "cbd_nanopores": nano,
            "pore_outside_cbd": max(eps - nano, 0.0),
            "porosity": eps,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (snake_case keys, fractions 0..1, densities g/cm^3)."""
        return {
            "components": list(self.mass_fractions),
            "mass_fractions": dict(self.mass_fractions),
            "densities_g_per_cm3": dict(self.densities_g_per_cm3),
            "solid_volume_fractions": dict(self.volume_fractions),
            "cbd_components": list(self.cbd_components),
            "cbd_mass_fraction": self.cbd_mass_fraction,
            "cbd_solid_volume_fraction": self.cbd_volume_fraction,
            "cbd_density_g_per_cm3": self.cbd_density_g_per_cm3,
            "theoretical_density_g_per_cm3": self.theoretical_density_g_per_cm3,
            "mass_fractions_normalized": self.normalized,
        }

    def format(self) -> str:
        """Human-readable table (percent) like Table 1 of Beuse et al. 2021 [1]_."""
        names = list(self.mass_fractions)
        cbd_label = "CBD (" + "+".join(self.cbd_components) + ")"
        width = max(9, len(cbd_label) if self.cbd_components else 0, *(len(n) for n in names))
        lines = [
            f"{'component':<{width}}  {'wt%':>7}  {'vol% solid':>10}  {'g/cm3':>7}",
        ]
        for n in names:
            lines.append(
                f"{n:<{width}}  {100 * self.mass_fractions[n]:7.2f}  "
                f"{100 * self.volume_fractions[n]:10.2f}  {self.densities_g_per_cm3[n]:7.3f}"
            )
        if self.cbd_components:
            lines.append(
                f"{cbd_label:<{width}}  {100 * self.cbd_mass_fraction:7.2f}  "
                f"{100 * self.cbd_volume_fraction:10.2f}  {self.cbd_density_g_per_cm3:7.3f}"
            )
        lines.append(
            f"theoretical (pore-free) density: {self.theoretical_density_g_per_cm3:.3f} g/cm3"
        )
        if self.normalized:
            lines.append("note: mass fractions were rescaled to sum to 100 %")
        return "\n".join(lines)


def _match(name: str, keys: Iterable[str]) -> str | None:
    low = name.lower()
    for k in keys:
        if k.lower() == low:
            return k
    return None


def composition(
    mass_fractions: Mapping[str, float],
    densities_g_per_cm3: Mapping[str, float],
    *,
    cbd: Iterable[str] = ("CB", "PVdF"),
    normalize: bool = False,
) -> Composition:
    """Convert an electrode recipe from mass fractions to solid volume fractions.

    Parameters
    ----------
    mass_fractions
        Component name -> mass fraction (> 0; the fractions must sum to 1 within 1e-6 unless
        ``normalize``).
    densities_g_per_cm3
        Component name -> density in g/cm^3 (> 0) for every component (names are matched
        case-insensitively; extra entries are ignored).
    cbd
        Components that form the carbon-binder domain (case-insensitive; each must be a
        component). An empty sequence means no CBD grouping.
    normalize
        Rescale mass fractions that do not sum to 1 (e.g. percentages) instead of raising.

    Returns
    -------
    Composition
        Volume fractions of the solid, CBD fraction and density, theoretical density.

    Raises
    ------
    ValueError
        One line naming the parameter for a missing density, a non-positive value, mass
        fractions not summing to 1, or an unknown CBD component.
    """
    if not isinstance(mass_fractions, Mapping) or not mass_fractions:
        raise ValueError("mass_fractions: expected a non-empty mapping component -> fraction")
    if not isinstance(densities_g_per_cm3, Mapping):
        raise ValueError("densities_g_per_cm3: expected a mapping component -> g/cm3")
    mass: dict[str, float] = {}
    for key, value in mass_fractions.items():
        name = str(key)
        if _match(name, mass) is not None:
            raise ValueError(f"mass_fractions: component {name} given more than once")
        try:
            w = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"mass_fractions: {name} is not a number: {value!r}") from None
        if not (math.isfinite(w) and w > 0):
            raise ValueError(f"mass_fractions: {name} must be > 0, got {value!r}")
        mass[name] = w
    total = sum(mass.values())
    normalized = False
    if abs(total - 1.0) > _SUM_TOL:
        if not normalize:
            hint = " (percentages? divide by 100)" if abs(total - 100.0) < 1e-3 else ""
            raise ValueError(
                f"mass_fractions: sum to {total:.6g}, not 1{hint}; pass normalize=True to rescale"
            )
        mass = {k: v / total for k, v in mass.items()}
        normalized = True

    dens: dict[str, float] = {}
    for name in mass:
        key = _match(name, (str(k) for k in densities_g_per_cm3))
        if key is None:
            raise ValueError(f"densities_g_per_cm3: no density given for component {name}")
        value = next(v for k, v in densities_g_per_cm3.items() if str(k) == key)
        try:
            rho = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"densities_g_per_cm3: {name} is not a number: {value!r}") from None
        if not (math.isfinite(rho) and rho > 0):
            raise ValueError(f"densities_g_per_cm3: {name} must be > 0 g/cm3, got {value!r}")
        dens[name] = rho

    if isinstance(cbd, str):
        cbd = [c for c in cbd.split(",")]
    cbd_names: list[str] = []
    for c in cbd:
        c = str(c).strip()
        key = _match(c, mass)
        if key is None:
            raise ValueError(f"cbd: {c!r} is not a component (components: {', '.join(mass)})")
        if key in cbd_names:
            raise ValueError(f"cbd: {c!r} given more than once")
        cbd_names.append(key)
    if cbd_names and len(cbd_names) == len(mass):
        raise ValueError("cbd: every component is in the CBD; leave at least the active material")

    specific = {k: mass[k] / dens[k] for k in mass}  # cm^3 per g of electrode
    total_specific = sum(specific.values())
    volume = {k: v / total_specific for k, v in specific.items()}
    cbd_mass = sum(mass[k] for k in cbd_names)
    cbd_specific = sum(specific[k] for k in cbd_names)
    return Composition(
        mass_fractions=mass,
        densities_g_per_cm3=dens,
        volume_fractions=volume,
        cbd_components=tuple(cbd_names),
        cbd_mass_fraction=cbd_mass,
        cbd_volume_fraction=cbd_specific / total_specific,
        cbd_density_g_per_cm3=(cbd_mass / cbd_specific) if cbd_names else None,
        theoretical_density_g_per_cm3=1.0 / total_specific,
        normalized=normalized,
    )
