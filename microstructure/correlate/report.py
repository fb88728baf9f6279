"""The correlative porosity report: every method's porosity and pore-size range side by side.

Gauge (eq. 1), He pycnometry (closed and accessible porosity), MIP (eq. 2-3 porosities,
PSD, sigma_pore, entrapment), N2 physisorption (BET area, BJH PSD; through
:mod:`microstructure.physisorption` when an isotherm file is given) and the FIB/SEM digital
twin (porosity and simulated MIP read from a pipeline run folder), each number with its
method's standard uncertainty, as Beuse et al. (2021) compare them in Table 2, Figure 2 and
Figure 6c.

Pore-size ranges (Figure 2): MIP from the Washburn diameters of its pressure window; He
pycnometry from the He kinetic diameter (0.26 nm) up, without upper limit; N2 physisorption
from the N2 molecule (0.162 nm2 cross-section, 0.45 nm) to 400 nm (Beuse et al. 2021, sec. 2),
or the BJH result's range; FIB/SEM from the voxel size to the largest simulated diameter.

References
----------
Beuse, T. et al. (2021). Comprehensive insights into the porosity of lithium-ion battery
electrodes. Batteries 7, 70. doi:10.3390/batteries7040070
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CorrelativeReport",
    "correlative_report",
    "read_twin_run",
    "HE_KINETIC_DIAMETER_NM",
    "N2_MOLECULE_DIAMETER_NM",
    "N2_MAX_PORE_NM",
    "BET_RELATIVE_UNCERTAINTY",
]

#: He kinetic diameter (nm), the lower pore-size limit of He pycnometry (Beuse et al. 2021)
HE_KINETIC_DIAMETER_NM = 0.26
#: N2 molecule diameter from its 0.162 nm2 cross-section (nm)
N2_MOLECULE_DIAMETER_NM = math.sqrt(4 * 0.162 / math.pi)
#: largest pore measured by N2 physisorption in Beuse et al. 2021 (nm)
N2_MAX_PORE_NM = 400.0
#: realistic relative inaccuracy of the BET area (Beuse et al. 2021: 5-10 %)
BET_RELATIVE_UNCERTAINTY = 0.10


@dataclass
class CorrelativeReport:
    """Numbers of the report (JSON-ready via :meth:`to_dict`) and the curves for its figures."""

    sample: dict[str, Any]
    methods: list[dict[str, Any]]
    porosity_table: dict[str, Any]
    mip: dict[str, Any] | None = None
    physisorption: dict[str, Any] | None = None
    fibsem: dict[str, Any] | None = None
    curves: dict[str, Any] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)
    quality: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN -> None, arrays as lists)."""
        from microstructure.io.tables import to_jsonable

        return to_jsonable(
            {
                "sample": self.sample,
                "methods": self.methods,
                "porosity_table": self.porosity_table,
                "mip": self.mip,
                "physisorption": self.physisorption,
                "fibsem": self.fibsem,
                "notes": self.notes,
                "quality": self.quality,
            }
        )


def _nan_none(x: Any) -> Any:
    return None if isinstance(x, float) and not math.isfinite(x) else x


def _method(
    name: str,
    quantity: str,
    porosity: float | None,
    uncertainty: float | None,
    size_range: list[float | None] | None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "method": name,
        "quantity": quantity,
        "porosity": _nan_none(porosity),
        "porosity_uncertainty": _nan_none(uncertainty),
        "pore_size_min_nm": None if not size_range else size_range[0],
        "pore_size_max_nm": None if not size_range else size_range[1],
        **extra,
    }


def _gauge_and_pycnometry(cfg: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    from microstructure.porosity.densities import porosity_budget

    gauge, pyc, sample = cfg.get("gauge"), cfg.get("pycnometry", {}), cfg["sample"]
    if gauge is None:
        return None, []
    keys = (
        "thickness_um",
        "thickness_uncertainty_um",
        "mass_loading_mg_per_cm2",
        "mass_loading_uncertainty_mg_per_cm2",
        "bulk_density_g_per_cm3",
        "bulk_density_uncertainty_g_per_cm3",
    )
    kwargs = {k: gauge[k] for k in keys if k in gauge}
    for k in ("skeletal_density_g_per_cm3", "skeletal_density_uncertainty_g_per_cm3"):
        if k in pyc:
            kwargs[k] = pyc[k]
    b = porosity_budget(
        crystal_density_g_per_cm3=sample["crystal_density_g_per_cm3"],
        crystal_density_uncertainty_g_per_cm3=sample.get(
            "crystal_density_uncertainty_g_per_cm3", 0.0
        ),
        **kwargs,
    )
    stat = float(gauge.get("porosity_std", 0.0))
    total_u = math.hypot(b.total_porosity_uncertainty, stat)
    rows = [
        _method(
            "gauge",
            "total porosity (eq. 1, rho_xtal)",
            b.total_porosity,
            total_u,
            None,
            bulk_density_g_per_cm3=b.bulk_density_g_per_cm3,
            bulk_density_uncertainty_g_per_cm3=b.bulk_density_uncertainty_g_per_cm3,
            systematic_uncertainty=b.total_porosity_uncertainty,
            statistical_uncertainty=stat,
        )
    ]
    if "skeletal_density_g_per_cm3" in pyc:
        lo = float(pyc.get("probe_diameter_nm", HE_KINETIC_DIAMETER_NM))
        rows.append(
            _method(
                "He pycnometry",
                "accessible porosity (eq. 1, rho_skel)",
                b.accessible_porosity,
                math.hypot(b.accessible_porosity_uncertainty, stat),
                [lo, None],
                closed_porosity=b.closed_porosity,
                closed_porosity_uncertainty=b.closed_porosity_uncertainty,
                closed_solid_fraction=b.closed_solid_fraction,
                skeletal_density_g_per_cm3=b.skeletal_density_g_per_cm3,
            )
        )
    return b, rows


def _mip_options(mip: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(reading options of read_mip_export, washburn options) of a [mip] section."""
    read = {
        k: mip[k]
        for k in ("pressure_unit", "volume_unit", "sample_mass_g", "runs", "decimal")
        if k in mip
    }
    wash = {k: mip[k] for k in ("contact_angle_deg", "surface_tension_n_per_m") if k in mip}
    return read, wash


def _mip(cfg: dict[str, Any], budget: Any, curves: dict[str, Any]) -> tuple[dict, dict] | None:
    """MIP analysis numbers and the methods row (None without a [mip] file)."""
    from microstructure.porosimetry.measured import read_mip_export, read_mip_file
    from microstructure.porosimetry.measured_analysis import analyze_mip
    from microstructure.porosimetry.washburn import washburn_diameter_nm

    mip = cfg.get("mip")
    if not mip or "file" not in mip:
        return None
    read, wash = _mip_options(mip)
    exp = read_mip_export(mip["file"], **read)
    pyc = cfg.get("pycnometry", {})
    blank = read_mip_export(mip["blank"], **read) if "blank" in mip else None
    res = analyze_mip(
        exp,
        crystal_density_g_per_cm3=cfg["sample"]["crystal_density_g_per_cm3"],
        skeletal_density_g_per_cm3=pyc.get("skeletal_density_g_per_cm3"),
        skeletal_density_uncertainty_g_per_cm3=pyc.get(
            "skeletal_density_uncertainty_g_per_cm3", 0.0
        ),
        bulk_volume_mm3=mip.get("bulk_volume_mm3"),
        pore_shape=mip.get("pore_shape", "cylindrical"),
        cone_half_angle_deg=mip.get("cone_half_angle_deg", 45.0),
        min_pressure_mpa=mip.get("min_pressure_mpa"),
        max_pressure_mpa=mip.get("max_pressure_mpa"),
        blank=blank,
        **wash,
    )
    curves["mip_measured"] = read_mip_file(
        mip["file"],
        **read,
        min_pressure_mpa=mip.get("min_pressure_mpa"),
        max_pressure_mpa=mip.get("max_pressure_mpa"),
        label=f"measured MIP ({Path(mip['file']).name})",
        **wash,
    )
    curves["mip_psd"] = (res.psd_diameter_nm, res.psd_dv_dlogd_mm3_per_g)
    lo_p, hi_p = res.pressure_window_mpa
    d_range = [float(washburn_diameter_nm(hi_p, **wash)), float(washburn_diameter_nm(lo_p, **wash))]
    numbers = {"file": mip["file"], "export": exp.summary(), **res.to_dict()}
    numbers.pop("psd_diameter_nm")
    numbers.pop("psd_dv_dlogd_mm3_per_g")
    row = _method(
        "MIP",
        "eps_xtal(Hg) / eps_skel(Hg) / eps_app(Hg) (eq. 3)",
        res.porosity_xtal,
        res.porosity_xtal_uncertainty,
        d_range,
        porosity_skel=_nan_none(res.porosity_skel),
        porosity_skel_uncertainty=_nan_none(res.porosity_skel_uncertainty),
        porosity_app=_nan_none(res.porosity_app),
        porosity_app_uncertainty=_nan_none(res.porosity_app_uncertainty),
        d50_nm=res.d50_nm,
        pore_surface_m2_per_g=res.pore_surface_m2_per_g,
        pore_shape=res.pore_shape,
    )
    return numbers, row


def _physisorption(cfg: dict[str, Any], curves: dict[str, Any], notes: list[str]):
    """BET/BJH numbers (isotherm file through microstructure.physisorption, or the published
    numbers of the config) and the methods row; None without a [physisorption] section."""
    ph = cfg.get("physisorption")
    if not ph:
        return None
    numbers: dict[str, Any] = {}
    size_range = ph.get("pore_size_range_nm", [N2_MOLECULE_DIAMETER_NM, N2_MAX_PORE_NM])
    if "file" in ph:
        try:
            from microstructure import physisorption as phys
        except ImportError:
            raise ValueError(
                "physisorption.file: the physisorption package is not installed in this "
                "build; give the published numbers (bet_area_m2_per_g) instead"
            ) from None
        iso = phys.read_isotherm(ph["file"], manufacturer=ph.get("manufacturer"), fmt=ph.get("fmt"))
        rng = ph.get("p_over_p0_range")
        b = phys.bet(iso, p_over_p0_range=tuple(rng) if rng else None)
        numbers.update(
            file=ph["file"],
            bet_area_m2_per_g=float(b.bet_area_m2_per_g),
            c_constant=float(b.c_constant),
            p_over_p0_range=[float(x) for x in b.p_over_p0_range],
        )
        j = phys.bjh(iso, branch=ph.get("branch", "desorption"))
        d = np.asarray(j.diameter_nm, float)
        curves["bjh_psd"] = (d, np.asarray(j.dv_dlogd_cm3_per_g, float))
        numbers["bjh_d50_nm"] = float(j.bjh_d50_nm)
        numbers["bjh_total_volume_cm3_per_g"] = float(np.max(j.cumulative_volume_cm3_per_g))
        if "pore_size_range_nm" not in ph and d.size:
            size_range = [float(min(d.min(), size_range[0])), float(d.max())]
    for key in ("bet_area_m2_per_g", "c_constant"):
        if key in ph and key not in numbers:
            numbers[key] = ph[key]
    if "bet_area_m2_per_g" in numbers:
        rel = float(ph.get("bet_area_uncertainty_rel", BET_RELATIVE_UNCERTAINTY))
        numbers["bet_area_uncertainty_m2_per_g"] = rel * numbers["bet_area_m2_per_g"]
    else:
        notes.append("physisorption: no BET area (no isotherm file, no published number)")
    row = _method(
        "N2 physisorption",
        "BET surface area, BJH pore volume",
        None,
        None,
        size_range,
        bet_area_m2_per_g=numbers.get("bet_area_m2_per_g"),
        bet_area_uncertainty_m2_per_g=numbers.get("bet_area_uncertainty_m2_per_g"),
    )
    return numbers, row


def read_twin_run(run: str | os.PathLike) -> dict[str, Any]:
    """The simulated MIP of a pipeline run folder: the ``mip`` stage's curve CSV, its
    numbers (porosity, D50, ...) and the voxel size of the run's input.

    Raises
    ------
    ValueError
        The folder holds no finished ``mip`` stage.
    """
    from microstructure.porosimetry.measured import read_curve_csv

    r = Path(run)
    for params in sorted(r.glob("*/params.json")):
        try:
            meta = json.loads(params.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if meta.get("stage") != "mip" or meta.get("status") != "finished":
            continue
        curve_path = params.parent / "mip_curve.csv"
        curve = read_curve_csv(curve_path, label=f"simulated MIP ({r.name})")
        vs = None
        try:
            rep = json.loads((r / "report.json").read_text(encoding="utf-8"))
            vs = rep.get("input", {}).get("voxel_size_nm")
        except (OSError, ValueError, AttributeError):
            pass
        return {
            "curve": curve,
            "curve_csv": str(curve_path),
            "numbers": meta.get("numbers", {}),
            "voxel_size_nm": vs,
        }
    raise ValueError(f"{r}: not a run folder with a finished mip stage (no */params.json of mip)")


def _fibsem(cfg: dict[str, Any], curves: dict[str, Any]):
    """Twin numbers, simulated-vs-measured comparison and the methods row."""
    from microstructure.porosimetry.compare import compare_mip_curves
    from microstructure.porosimetry.measured import read_curve_csv

    fs = cfg.get("fibsem")
    if not fs:
        return None
    numbers: dict[str, Any] = {}
    porosity = fs.get("porosity")
    vs = fs.get("voxel_size_nm")
    sim = None
    if "run" in fs:
        twin = read_twin_run(fs["run"])
        sim = twin["curve"]
        numbers.update(run=fs["run"], curve_csv=twin["curve_csv"])
        n = twin["numbers"]
        porosity = n.get("porosity", porosity) if porosity is None else porosity
        numbers.update(
            {k: n[k] for k in ("d50_nm", "intruded_porosity", "entrapped_fraction") if k in n}
        )
        if vs is None and twin["voxel_size_nm"]:
            vs = float(min(twin["voxel_size_nm"]))
    elif "curve" in fs:
        sim = read_curve_csv(fs["curve"], label=f"simulated MIP ({Path(fs['curve']).name})")
        numbers["curve_csv"] = fs["curve"]
    if sim is not None:
        curves["mip_simulated"] = sim
        numbers.setdefault("d50_nm", sim.d_values()["d50_nm"])
        if "mip_measured" in curves:
            numbers["comparison"] = compare_mip_curves(sim, curves["mip_measured"]).to_dict()
    size_range = fs.get("pore_size_range_nm")
    if size_range is None and vs is not None:
        top = float(sim.diameter_nm.max()) if sim is not None and len(sim) else None
        size_range = [float(vs), top]
    numbers.update(
        porosity=porosity, porosity_uncertainty=fs.get("porosity_uncertainty"), voxel_size_nm=vs
    )
    row = _method(
        "FIB/SEM twin",
        "porosity of the digital twin",
        porosity,
        fs.get("porosity_uncertainty"),
        size_range,
        d50_nm=numbers.get("d50_nm"),
    )
    return numbers, row


def correlative_report(
    config: dict[str, Any] | str | os.PathLike, *, out_dir: str | os.PathLike | None = None
) -> CorrelativeReport:
    """Build the correlative report of one electrode; with ``out_dir`` also write
    ``report.json``, ``report.html`` and the figures (``figures/*.png``) there.

    Parameters
    ----------
    config
        A TOML path (:func:`~microstructure.correlate.config.load_config`) or a checked dict.
    out_dir
        Output folder (created); files are written atomically.
    """
    from microstructure.correlate.config import check_config, load_config

    if isinstance(config, dict):
        cfg = check_config(config, base=Path.cwd())
    else:
        cfg = load_config(config)
    curves: dict[str, Any] = {}
    notes: list[str] = []
    budget, methods = _gauge_and_pycnometry(cfg)
    mip = _mip(cfg, budget, curves)
    phys = _physisorption(cfg, curves, notes)
    fib = _fibsem(cfg, curves)
    for part in (mip, phys, fib):
        if part is not None:
            methods.append(part[1])
    for extra in cfg.get("method", []):
        methods.append(
            _method(
                extra["name"],
                extra.get("note", ""),
                extra.get("porosity"),
                extra.get("porosity_uncertainty"),
                extra.get("pore_size_range_nm"),
            )
        )
    report = CorrelativeReport(
        sample=dict(cfg["sample"]),
        methods=methods,
        porosity_table=_porosity_table(budget, mip, fib),
        mip=None if mip is None else mip[0],
        physisorption=None if phys is None else phys[0],
        fibsem=None if fib is None else fib[0],
        curves=curves,
        notes=notes,
    )
    report.quality = _quality(report)
    if out_dir is not None:
        from microstructure.correlate.output import write_report

        write_report(report, out_dir)
    return report


def _porosity_table(budget: Any, mip: tuple | None, fib: tuple | None) -> dict[str, Any]:
    """One row of Beuse et al. (2021) Table 2 extended with pycnometry and the twin."""
    row: dict[str, Any] = {}
    if budget is not None:
        row.update(
            porosity_gauge=budget.total_porosity,
            closed_porosity=_nan_none(budget.closed_porosity),
            accessible_porosity=_nan_none(budget.accessible_porosity),
        )
    if mip is not None:
        m = mip[0]
        row.update(
            porosity_xtal_hg=m.get("porosity_xtal"),
            porosity_skel_hg=m.get("porosity_skel"),
            porosity_app_hg=m.get("porosity_app"),
            pore_surface_m2_per_g=m.get("pore_surface_m2_per_g"),
        )
    if fib is not None:
        row["porosity_twin"] = fib[0].get("porosity")
    return row


#: methods agree when their porosities differ by at most this many combined standard
#: uncertainties
AGREEMENT_SIGMAS = 2.0
#: the twin's simulated D50 and the measured D50 agree within this factor
D50_FACTOR = 2.0


def _quality(report: CorrelativeReport) -> dict[str, Any]:
    """Consistency checks between the methods (:mod:`microstructure.quality`)."""
    from microstructure.quality import check, quality_block

    by = {m["method"]: m for m in report.methods}
    checks: dict[str, Any] = {}
    g, mip = by.get("gauge"), by.get("MIP")
    if g and mip and g["porosity"] is not None and mip["porosity"] is not None:
        sig = math.hypot(g["porosity_uncertainty"] or 0, mip["porosity_uncertainty"] or 0)
        checks["gauge_vs_mip_sigmas"] = check(
            abs(g["porosity"] - mip["porosity"]) / sig if sig > 0 else float("inf"),
            AGREEMENT_SIGMAS,
            meaning="|eps(gauge) - eps_xtal(Hg)| in combined standard uncertainties",
        )
    he = by.get("He pycnometry")
    if he and mip and mip.get("porosity_app") is not None and report.mip:
        rho_app = report.mip.get("apparent_density_g_per_cm3")
        s_app = report.mip.get("apparent_density_uncertainty_g_per_cm3") or 0.0
        if rho_app is not None:
            checks["apparent_minus_skeletal_density_sigmas"] = check(
                (rho_app - he["skeletal_density_g_per_cm3"]) / max(s_app, 1e-9),
                AGREEMENT_SIGMAS,
                meaning="rho_app(Hg) above rho_skel(He), in standard uncertainties (eq. 2)",
            )
    cmp = (report.fibsem or {}).get("comparison")
    if cmp and cmp.get("d50_ratio"):
        checks["twin_vs_measured_d50_log_factor"] = check(
            abs(math.log10(cmp["d50_ratio"])),
            math.log10(D50_FACTOR),
            meaning=f"|log10(D50 twin / D50 measured)|, limit a factor {D50_FACTOR:g}",
        )
    return quality_block(checks, notes=report.notes)
