"""Cell parameters of the hierarchical DFN half cell (Naumann et al. 2024 electrodes + literature).

Naumann et al. (ACS Appl. Energy Mater. 2024, 7, 4786, doi:10.1021/acsaem.4c00505) give the
electrode microstructure (Table 1), the contact resistance (eq. 8), the solid diffusivity of NMC111
(eq. 9, ``a = 14.4``) and the electronic conductivity of the active material (3e-5 S/m). Its
supporting information (electrolyte, separator, kinetics, particle sizes, OCV) is not
available, so every other value below is a documented literature value or an explicit
assumption; :data:`PARAMETER_SOURCES` lists the source of each field and
:meth:`CellParameters.sources` returns it with the values.

No PyBaMM import here: this module is plain numbers; the PyBaMM expressions live in
:mod:`microstructure.transport.dfn.model` and :mod:`microstructure.transport.dfn.parameter_set`.

References
----------
Naumann et al. (2024), ACS Appl. Energy Mater. 7, 4786, doi:10.1021/acsaem.4c00505.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from microstructure.transport.formulas import BRUGGEMAN_EXPONENT, bruggeman, m_particles
from microstructure.transport.presets import ElectrodePreset, get_preset

__all__ = [
    "DEFAULT_MESH",
    "CellParameters",
    "MeshSettings",
    "PARAMETER_SOURCES",
    "M_INTER_LAWS",
    "cell_parameters",
    "resolve_preset",
]

#: Faraday constant [C/mol] and gas constant [J/(mol K)].
FARADAY_C_PER_MOL = 96485.33212
GAS_CONSTANT_J_PER_MOL_K = 8.314462618

#: Laws for the intergranular M-factor (Naumann et al. (2024) does not state its law; see the docs).
M_INTER_LAWS = ("bruggeman", "fixed")

#: Where every parameter comes from ("Naumann et al." = stated in the paper; "assumed" = our
#: choice).
PARAMETER_SOURCES: dict[str, str] = {
    "thickness_um": "Naumann et al. 2024, Table 1",
    "intergranular_porosity": "Naumann et al. 2024, Table 1",
    "particle_fraction": "Naumann et al. 2024, Table 1",
    "additive_fraction": "Naumann et al. 2024, Table 1",
    "intragranular_porosity": "Naumann et al. (2024) (0.442, constant)",
    "contact_resistance_ohm_m2": "Naumann et al. 2024, Table 1 / eq. 8",
    "electrode_conductivity_s_per_m": "Naumann et al. 2024, Table 1 (1 / total resistivity)",
    "solid_diffusivity_exponent_a": "Naumann et al. 2024, eq. 9 (a = 14.4)",
    "intragranular_conductivity_s_per_m": "Naumann et al. 2024 (sigma_II = 3e-5 S/m, taken as "
    "the effective conductivity of a porous secondary particle: assumed)",
    "m_inter": "assumed law (Naumann et al. 2024 SI unavailable): Bruggeman eps_inter^1.5 by "
    "default",
    "m_intragranular": "assumed: Bruggeman 0.442^1.5 = 0.294 (Naumann et al. 2024, Fig. 4 "
    "implies ~0.245)",
    "m_particles": "Naumann et al. 2024, eq. 5-6",
    "secondary_radius_um": "assumed: 5 um (spray-dried KIT NMC111, D50 ~ 10 um)",
    "primary_radius_um": "derived: 3 / (BET 3.3 m2/g (Naumann et al. 2024) x 4.77 g/cm3) = 0.19 um",
    "nmc_density_g_per_cm3": "assumed: 4.77 (LiNi1/3Mn1/3Co1/3O2 crystallographic)",
    "additive_density_g_per_cm3": "assumed: 1.95 (carbon black / graphite / PVDF mix)",
    "c_max_mol_per_m3": "derived: 4.77 g/cm3 / 96.46 g/mol = 49 450 mol/m3",
    "initial_lithiation": "assumed: l0 = 0.40 (charged to ~4.3 V)",
    "lower_cutoff_v": "assumed: 3.0 V",
    "specific_capacity_mah_per_g": "assumed: 160 mAh/g NMC111 defines 1C",
    "ocp": "Mohtat et al. 2020 NMC fit (PyBaMM Xu2019 set), stand-in for NMC111",
    "kinetic_rate_constant": "Xu et al. 2019 NMC: k = 5.76e-11 m^2.5 mol^-0.5 s^-1",
    "li_metal_exchange": "Xu et al. 2019: j0 = 3.5e-8 F c_Li^0.7 c_e^0.3",
    "electrolyte": "LiPF6 EC:DMC, Valoen & Reimers 2005 (D_e, kappa), t+ = 0.38, TDF = 1",
    "separator": "assumed: 25 um, porosity 0.55, Bruggeman 1.5 (Celgard 2500-like)",
    "temperature_k": "assumed: 298.15 K",
}


@dataclass(frozen=True)
class MeshSettings:
    """Finite-volume points per scale.

    Attributes
    ----------
    n_separator, n_electrode
        Cells across the separator and the positive electrode (x).
    n_secondary
        Cells along the radius of a secondary particle (R).
    n_primary
        Cells along the radius of a primary particle (r).
    secondary_stretch
        0 for a uniform R mesh; > 0 clusters the R cells towards the particle surface
        (PyBaMM ``Exponential1DSubMesh`` spacing, ratio of largest to smallest cell ~
        exp(stretch)). It helps when the salt depletes (used by the depletion mesh of
        :func:`~microstructure.transport.dfn.simulate_discharge`).
    electrode_stretch, primary_stretch
        The same clustering towards the current collector (x) and the primary-particle
        surface (r); measured not to help (docs/validation_dfn.md), 0 by default.
    """

    n_separator: int = 6
    n_electrode: int = 32
    n_secondary: int = 10
    n_primary: int = 6
    secondary_stretch: float = 0.0
    electrode_stretch: float = 0.0
    primary_stretch: float = 0.0

    def __post_init__(self) -> None:
        for name in ("n_separator", "n_electrode", "n_secondary", "n_primary"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 3:
                raise ValueError(f"mesh.{name}: expected an integer >= 3, got {v!r}")
        for name in ("secondary_stretch", "electrode_stretch", "primary_stretch"):
            s = getattr(self, name)
            if not (isinstance(s, int | float) and math.isfinite(s) and 0.0 <= s <= 10.0):
                raise ValueError(f"mesh.{name}: expected a number in 0..10, got {s!r}")

    @property
    def counts(self) -> tuple[int, int, int, int]:
        """``(n_separator, n_electrode, n_secondary, n_primary)``."""
        return (self.n_separator, self.n_electrode, self.n_secondary, self.n_primary)

    def refined(self, factor: int) -> MeshSettings:
        """Every count multiplied by ``factor`` (same stretch)."""
        return replace(
            self,
            **{
                k: factor * v
                for k, v in zip(
                    ("n_separator", "n_electrode", "n_secondary", "n_primary"),
                    self.counts,
                    strict=True,
                )
            },
        )


#: Default mesh up to 3C (``simulate.HIGH_RATE_C``) while the salt does not deplete: capacity
#: within 0.1 % of a 2x finer mesh (docs/validation_dfn.md); also the default ``var_pts`` of
#: :class:`~microstructure.transport.dfn.model.HierarchicalDFN`.
DEFAULT_MESH = MeshSettings(n_separator=4, n_electrode=12, n_secondary=5, n_primary=3)


@dataclass(frozen=True)
class CellParameters:
    """All numbers of one half cell (SI units unless the name says otherwise).

    Geometry and microstructure come from Naumann et al. 2024, Table 1; see
    :data:`PARAMETER_SOURCES`.
    """

    name: str
    # --- electrode (Naumann et al. 2024, Table 1)
    thickness_um: float
    intergranular_porosity: float
    particle_fraction: float
    additive_fraction: float
    intragranular_porosity: float
    contact_resistance_ohm_m2: float
    electrode_conductivity_s_per_m: float
    # --- transport factors
    m_inter: float
    m_intragranular: float
    m_particles: float
    m_inter_law: str = "bruggeman"
    # --- particles
    secondary_radius_um: float = 5.0
    primary_radius_um: float = 0.19
    solid_diffusivity_exponent_a: float = 14.4
    intragranular_conductivity_s_per_m: float | None = 3.0e-5
    c_max_mol_per_m3: float = 49450.0
    initial_lithiation: float = 0.40
    kinetic_rate_constant: float = 5.76e-11
    nmc_density_g_per_cm3: float = 4.77
    additive_density_g_per_cm3: float = 1.95
    specific_capacity_mah_per_g: float = 160.0
    # --- separator / electrolyte / counter electrode
    separator_thickness_um: float = 25.0
    separator_porosity: float = 0.55
    separator_bruggeman: float = BRUGGEMAN_EXPONENT
    initial_salt_mol_per_m3: float = 1000.0
    transference_number: float = 0.38
    li_metal_thickness_um: float = 700.0
    li_metal_conductivity_s_per_m: float = 1.0776e7
    li_metal_concentration_mol_per_m3: float = 76900.0
    temperature_k: float = 298.15
    lower_cutoff_v: float = 3.0
    upper_cutoff_v: float = 4.6
    salt_regularisation_mol_per_m3: float = 1.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    # ------------------------------------------------------------------ derived values
    @property
    def nmc_fraction(self) -> float:
        """Volume fraction of NMC per electrode volume, ``eps_s (1 - eps_II)``."""
        return self.particle_fraction * (1.0 - self.intragranular_porosity)

    @property
    def storage_porosity(self) -> float:
        """Total electrolyte fraction ``eps_inter + eps_s eps_II``."""
        return self.intergranular_porosity + self.particle_fraction * self.intragranular_porosity

    @property
    def m_combined(self) -> float:
        """Naumann et al. 2024, eq. 7: ``M_inter + M_particles M_II``."""
        return self.m_inter + self.m_particles * self.m_intragranular

    def m_electrode(self, transport: str) -> float:
        """Electrode-scale M-factor for ``"intergranular"`` or ``"combined"`` transport."""
        if transport == "intergranular":
            return self.m_inter
        if transport == "combined":
            return self.m_combined
        raise ValueError(f"transport: expected 'combined' or 'intergranular', got {transport!r}")

    @property
    def coating_mass_kg_per_m2(self) -> float:
        """Mass of cathode coating (NMC + additives, no electrolyte) per area [kg/m2]."""
        rho_nmc = self.nmc_density_g_per_cm3 * 1e3
        rho_add = self.additive_density_g_per_cm3 * 1e3
        vol = self.thickness_um * 1e-6
        return vol * (self.nmc_fraction * rho_nmc + self.additive_fraction * rho_add)

    @property
    def nmc_mass_kg_per_m2(self) -> float:
        """Mass of NMC per area [kg/m2]."""
        return self.thickness_um * 1e-6 * self.nmc_fraction * self.nmc_density_g_per_cm3 * 1e3

    @property
    def one_c_current_density_a_per_m2(self) -> float:
        """1C current density from the NMC mass and the nominal specific capacity [A/m2]."""
        return self.nmc_mass_kg_per_m2 * 1e3 * self.specific_capacity_mah_per_g * 1e-3

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first inconsistent parameter."""
        for name in (
            "intergranular_porosity",
            "particle_fraction",
            "additive_fraction",
            "intragranular_porosity",
            "separator_porosity",
        ):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0.0 <= v <= 1.0):
                raise ValueError(f"{name}: must lie in [0, 1], got {v!r}")
        tot = self.intergranular_porosity + self.particle_fraction + self.additive_fraction
        if tot > 1.0 + 2e-3:
            raise ValueError(
                "intergranular_porosity + particle_fraction + additive_fraction: sum "
                f"{tot:.4f} exceeds 1"
            )
        if self.particle_fraction <= 0.0 or self.intragranular_porosity >= 1.0:
            raise ValueError("particle_fraction: no active material (eps_s (1 - eps_II) = 0)")
        if self.separator_porosity <= 0.0:
            raise ValueError("separator_porosity: must be > 0")
        for name in ("m_inter", "m_intragranular"):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0.0 < v <= 1.0) and not (
                name == "m_intragranular" and v > 1.0 and math.isfinite(v)
            ):
                raise ValueError(f"{name}: must lie in (0, 1], got {v!r}")
        if not (math.isfinite(self.m_particles) and 0.0 <= self.m_particles <= 1.0):
            raise ValueError(f"m_particles: must lie in [0, 1], got {self.m_particles!r}")
        for name in (
            "thickness_um",
            "secondary_radius_um",
            "primary_radius_um",
            "separator_thickness_um",
            "c_max_mol_per_m3",
            "kinetic_rate_constant",
            "electrode_conductivity_s_per_m",
            "initial_salt_mol_per_m3",
            "specific_capacity_mah_per_g",
        ):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0.0):
                raise ValueError(f"{name}: must be a positive number, got {v!r}")
        if self.primary_radius_um > self.secondary_radius_um:
            raise ValueError("primary_radius_um: must not exceed secondary_radius_um")
        if not (0.0 < self.initial_lithiation < 1.0):
            raise ValueError(
                f"initial_lithiation: must lie in (0, 1), got {self.initial_lithiation}"
            )
        if self.contact_resistance_ohm_m2 < 0:
            raise ValueError("contact_resistance_ohm_m2: must be >= 0")
        s = self.intragranular_conductivity_s_per_m
        if s is not None and not (math.isfinite(s) and s > 0):
            raise ValueError(f"intragranular_conductivity_s_per_m: must be > 0 or None, got {s!r}")

    def with_changes(self, **changes: Any) -> CellParameters:
        """Copy with some fields replaced (validated)."""
        out = replace(self, **changes)
        out.validate()
        return out

    def sources(self) -> dict[str, dict[str, Any]]:
        """Each documented field with its value and source."""
        vals = asdict(self)
        return {k: {"value": vals.get(k), "source": src} for k, src in PARAMETER_SOURCES.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary including the derived quantities."""
        d = asdict(self)
        d["notes"] = list(self.notes)
        d.update(
            nmc_fraction=self.nmc_fraction,
            storage_porosity=self.storage_porosity,
            m_combined=self.m_combined,
            coating_mass_kg_per_m2=self.coating_mass_kg_per_m2,
            one_c_current_density_a_per_m2=self.one_c_current_density_a_per_m2,
        )
        return d


def resolve_preset(preset: str | ElectrodePreset) -> ElectrodePreset:
    """Accept ``"cal-3"``, ``"naumann-cal-3"``, ``"naumann-uncalendered"`` or a preset object."""
    if isinstance(preset, ElectrodePreset):
        return preset
    if not isinstance(preset, str):
        raise ValueError(f"preset: expected a name, got {preset!r}")
    key = preset.strip().lower()
    if key.startswith("naumann-"):
        key = key[len("naumann-") :]
    return get_preset(key)


def cell_parameters(
    preset: str | ElectrodePreset,
    *,
    m_inter_law: str = "bruggeman",
    m_inter: float | None = None,
    m_inter_bruggeman_exponent: float = BRUGGEMAN_EXPONENT,
    m_intragranular: float | None = None,
    limit_check: bool = False,
    **overrides: Any,
) -> CellParameters:
    """Build the cell parameters of a Naumann et al. (2024) electrode.

    Parameters
    ----------
    preset
        Naumann et al. (2024) electrode name (``"cal-3"``, ``"naumann-cal-3"``...) or an
        :class:`~microstructure.transport.presets.ElectrodePreset`.
    m_inter_law
        ``"bruggeman"`` (``M_inter = eps_inter ** m_inter_bruggeman_exponent``, default) or
        ``"fixed"`` (give ``m_inter``). Naumann et al. (2024) does not state its law.
    m_inter
        Intergranular M-factor when ``m_inter_law="fixed"`` (0 < M <= 1).
    m_inter_bruggeman_exponent
        Exponent of the Bruggeman law.
    m_intragranular
        ``M_II`` (default Bruggeman 1.5 of the intragranular porosity), 0 < M <= 1.
    limit_check
        Accept ``m_intragranular > 1`` (fast intragranular transport, used to check that the
        model reduces to the standard DFN).
    **overrides
        Any :class:`CellParameters` field (e.g. ``secondary_radius_um``).

    Raises
    ------
    ValueError
        Unknown preset, law or an M outside (0, 1].
    """
    p = resolve_preset(preset)
    eps_ii = float(overrides.pop("intragranular_porosity", p.intragranular_porosity))
    if m_inter_law == "bruggeman":
        if m_inter is not None:
            raise ValueError("m_inter: only with m_inter_law='fixed'")
        mi = float(bruggeman(p.intergranular_porosity, exponent=m_inter_bruggeman_exponent))
    elif m_inter_law == "fixed":
        if m_inter is None:
            raise ValueError("m_inter: required with m_inter_law='fixed'")
        mi = float(m_inter)
    else:
        raise ValueError(f"m_inter_law: expected one of {M_INTER_LAWS}, got {m_inter_law!r}")
    if not (math.isfinite(mi) and 0.0 < mi <= 1.0):
        raise ValueError(f"m_inter: must lie in (0, 1], got {mi!r}")
    if m_intragranular is None:
        mii = float(bruggeman(eps_ii, exponent=BRUGGEMAN_EXPONENT))
    else:
        mii = float(m_intragranular)
        if not (math.isfinite(mii) and mii > 0.0 and (mii <= 1.0 or limit_check)):
            raise ValueError(f"m_intragranular: must lie in (0, 1], got {mii!r}")
    import warnings

    from microstructure.transport.formulas import HashinShtrikmanWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HashinShtrikmanWarning)
        mp = float(m_particles(p.particle_fraction))
    cp = CellParameters(
        name=p.name,
        thickness_um=p.thickness_um,
        intergranular_porosity=p.intergranular_porosity,
        particle_fraction=p.particle_fraction,
        additive_fraction=p.additive_fraction,
        intragranular_porosity=eps_ii,
        contact_resistance_ohm_m2=p.contact_resistance_ohm_m2,
        electrode_conductivity_s_per_m=1.0 / p.resistivity_ohm_m,
        m_inter=mi,
        m_intragranular=mii,
        m_particles=mp,
        m_inter_law=m_inter_law if m_inter_law == "bruggeman" else f"fixed {mi:g}",
    )
    if overrides:
        cp = replace(cp, **overrides)
    cp.validate()
    return cp
