"""The four hierarchically structured NMC111 electrodes of Naumann et al. (2024) (Table 1).

Naumann et al., ACS Appl. Energy Mater. 2024, 7, 4786: an uncalendered electrode and three
calendering steps (Cal-1..3). The intragranular porosity of the porous particles is 0.442 for
all of them, so ``total porosity = eps_inter + eps_s * 0.442`` and the NMC111 fraction is
``eps_s * (1 - 0.442)``; the volume fractions of intergranular pores, particles and additives
add up to 1. :meth:`ElectrodePreset.check` verifies these relations to the table's rounding.

References
----------
Naumann et al. (2024), ACS Appl. Energy Mater. 7, 4786, doi:10.1021/acsaem.4c00505.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from microstructure.transport.formulas import (
    SEED003_INTRAGRANULAR_POROSITY,
    HierarchicalMFactors,
    hierarchical_m_factors,
)

__all__ = ["ElectrodePreset", "PRESETS", "get_preset"]


@dataclass(frozen=True)
class ElectrodePreset:
    """One electrode of Naumann et al. 2024, Table 1 (all fractions per electrode volume, 0..1).

    Attributes
    ----------
    name
        ``"uncalendered"``, ``"cal-1"``, ``"cal-2"`` or ``"cal-3"``.
    thickness_um
        Electrode thickness ``L_pos`` in um.
    intergranular_porosity
        ``eps_e``: pores between the particles.
    particle_fraction
        ``eps_s``: porous secondary particles.
    nmc_fraction
        ``eps_s * eps_s^(II)``: NMC111 (solid part of the particles).
    additive_fraction
        ``eps_f``: carbon black, graphite and binder.
    total_porosity
        ``eps_e + eps_s * eps_e^(II)``.
    contact_resistance_ohm_m2
        Electrode / current-collector contact resistance in Ohm m^2.
    resistivity_ohm_m
        Total electrode resistivity in Ohm m.
    intragranular_porosity
        ``eps_e^(II)`` = 0.442 (porosity inside the particles).
    """

    name: str
    thickness_um: float
    intergranular_porosity: float
    particle_fraction: float
    nmc_fraction: float
    additive_fraction: float
    total_porosity: float
    contact_resistance_ohm_m2: float
    resistivity_ohm_m: float
    intragranular_porosity: float = SEED003_INTRAGRANULAR_POROSITY

    def check(self, *, tol: float = 1.5e-3) -> None:
        """Verify the Table 1 relations to the rounding of its three decimals.

        Raises
        ------
        ValueError
            If ``total_porosity != eps_e + eps_s eps_II``, ``nmc_fraction != eps_s (1 - eps_II)``
            or ``eps_e + eps_s + eps_f != 1`` by more than ``tol``.
        """
        eps_ii = self.intragranular_porosity
        checks = {
            "total_porosity": (
                self.total_porosity,
                self.intergranular_porosity + self.particle_fraction * eps_ii,
            ),
            "nmc_fraction": (self.nmc_fraction, self.particle_fraction * (1 - eps_ii)),
            "volume_sum": (
                1.0,
                self.intergranular_porosity + self.particle_fraction + self.additive_fraction,
            ),
        }
        for key, (given, computed) in checks.items():
            if abs(given - computed) > tol:
                raise ValueError(
                    f"{self.name}: {key} {given:.4f} inconsistent with the other fractions "
                    f"({computed:.4f})"
                )

    def m_factors(self, **kwargs: Any) -> HierarchicalMFactors:
        """Naumann et al. 2024, eq. 5-7 for this electrode (see :func:`hierarchical_m_factors`).

        Keyword arguments (``m_inter``, ``m_intragranular``, ``bruggeman_exponent``) choose the
        laws Naumann et al. (2024) do not state; the default is Bruggeman with exponent 1.5 for
        both.
        """
        kwargs.setdefault("intragranular_porosity", self.intragranular_porosity)
        return hierarchical_m_factors(self.intergranular_porosity, self.particle_fraction, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary of the table values."""
        return asdict(self)


def _p(name: str, *vals: float) -> ElectrodePreset:
    return ElectrodePreset(name, *vals)


#: Naumann et al. (2024) Table 1, keyed by lower-case name.
PRESETS: dict[str, ElectrodePreset] = {
    p.name: p
    for p in (
        _p("uncalendered", 89.0, 0.435, 0.487, 0.272, 0.078, 0.650, 0.0060, 50.0),
        _p("cal-1", 69.0, 0.271, 0.628, 0.351, 0.101, 0.548, 0.0020, 8.0),
        _p("cal-2", 57.0, 0.118, 0.760, 0.424, 0.122, 0.454, 0.0010, 5.0),
        _p("cal-3", 52.0, 0.032, 0.834, 0.465, 0.134, 0.401, 0.0008, 4.0),
    )
}


def get_preset(name: str) -> ElectrodePreset:
    """Return a Naumann et al. 2024 electrode by name (case-insensitive; ``cal1``, ``Cal-1`` work).

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).
    """
    if not isinstance(name, str):
        raise ValueError(f"preset: expected a name, got {name!r}")
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    if key.startswith("cal") and not key.startswith("cal-"):
        key = "cal-" + key[3:]
    if key not in PRESETS:
        raise ValueError(f"preset: unknown electrode {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[key]
