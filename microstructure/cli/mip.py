"""The ``mip`` (simulate, read, compare) and ``granulometry`` commands.

Each command reads its inputs, makes one call of the public function
(:func:`microstructure.porosimetry.simulate_mip`, :func:`~microstructure.porosimetry.granulometry`,
...) on a numpy array, or on a Dask array with ``--chunks``, and prints text or JSON; figures are
built as :class:`matplotlib.figure.Figure` and written with :func:`microstructure.plot.save_figure`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.cli._common import (
    CliError,
    _add_chunk_args,
    _add_common,
    _add_reading_options,
    _add_washburn,
    _d_text,
    _densities,
    _emit,
    _Parser,
    _read_labels,
)
from microstructure.porosimetry.measured import PRESSURE_UNITS, RUNS
from microstructure.porosimetry.measured_analysis import CONE_HALF_ANGLE_DEG, PORE_SHAPES
from microstructure.porosity.densities import SKELETAL_DENSITY_UNCERTAINTY_G_PER_CM3


def _chunked_input(args: argparse.Namespace, labels: np.ndarray) -> Any:
    """The labels as a Dask array when ``--chunks`` asks for the chunked path."""
    if not args.chunks:
        return labels
    if args.max_radius_nm is None:
        raise CliError("--chunks needs --max-radius-nm (the largest pore radius considered)")
    import dask.array as da

    return da.from_array(labels, chunks=args.chunks)


def _scheduler(args: argparse.Namespace) -> Any:
    """The Dask scheduler of ``--scheduler`` on the chunked path (nothing in memory)."""
    if not args.chunks:
        return contextlib.nullcontext()
    from microstructure.parallel import dask_scheduler

    return dask_scheduler(args.scheduler)


def _chunk_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "chunks": args.chunks or None,
        "max_radius_nm": args.max_radius_nm,
        "resume_dir": args.resume_dir,
    }


def _write_curve(path: str | os.PathLike, curve: Any) -> Path:
    """Write a curve's contract columns (``curve.columns()``, what its ``to_csv`` writes)
    through the package's atomic writer (previous file intact and the path named on error)."""
    from microstructure.io.tables import write_csv

    return write_csv(path, curve.columns())


def cmd_mip_simulate(args: argparse.Namespace) -> int:
    from microstructure.plot import save_figure
    from microstructure.porosimetry import mip_curve_figure, simulate_mip

    labels, vs = _read_labels(args, "simulated MIP")
    data_in = _chunked_input(args, labels)
    with _scheduler(args):
        result = simulate_mip(
            data_in,
            voxel_size_nm=vs,
            inlet=args.inlet,
            contact_angle_deg=args.contact_angle_deg,
            surface_tension_n_per_m=args.surface_tension_n_per_m,
            thickness_axis=args.thickness_axis,
            top_at=args.top_at,
            batch_size_nm=args.batch_size_nm,
            densities_g_per_cm3=_densities(args.densities),
            extrusion=args.extrusion,
            cbd_porosity=args.cbd_porosity,
            **_chunk_options(args),
        )
    data = {"path": str(args.labels_file), **result.summary()}
    if args.chunks:
        data.update(chunks=args.chunks, max_radius_nm=args.max_radius_nm)
    if args.out:
        data["curve_csv"] = str(_write_curve(args.out, result.curve))
    if args.figure:
        fig = mip_curve_figure(
            result.curve,
            title=str(args.labels_file),
            extrusion=None if result.extrusion is None else result.extrusion.curve,
        )
        data["figure"] = str(save_figure(fig, args.figure))
    lines = [
        f"{args.labels_file}: simulated MIP from {', '.join(result.inlet)}"
        + (
            f" (chunked {args.chunks}^3, radii <= {args.max_radius_nm:g} nm)" if args.chunks else ""
        ),
        f"  porosity {100 * result.porosity:.2f} %, intruded "
        f"{100 * result.curve.total_intruded_fraction:.2f} % of the volume "
        f"({100 * result.accessible_fraction:.1f} % of the pore space)",
        f"  {_d_text(data)} ({len(result.curve)} pressure steps)",
    ]
    if result.extrusion is not None:
        entrapped = result.extrusion.entrapped_fraction
        lines.append(f"  Hg entrapped on extrusion: {100 * entrapped:.1f} %")
    if args.out:
        lines.append(f"  curve written to {args.out}")
    _emit(args, data, "\n".join(lines))
    return 0


def _reading_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Options of :func:`~microstructure.porosimetry.measured.read_mip_export` from the CLI."""
    return {
        "pressure_unit": args.pressure_unit,
        "volume_unit": args.volume_unit,
        "sample_mass_g": args.sample_mass_g,
        "pressure_column": _column(args.pressure_column),
        "volume_column": _column(args.volume_column),
        "runs": args.runs,
        "decimal": args.decimal,
        "sheet": _column(getattr(args, "sheet", None)),
    }


def _column(text: str | None) -> int | str | None:
    """A column option: an index (digits) or (part of) a title."""
    if text is None:
        return None
    return int(text) if text.strip().isdigit() else text


def _extrusion_table(exp: Any, args: argparse.Namespace) -> dict[str, np.ndarray]:
    from microstructure.porosimetry.washburn import washburn_diameter_nm

    p = exp.extrusion_pressure_mpa
    return {
        "pressure_mpa": p,
        "diameter_nm": washburn_diameter_nm(
            p,
            contact_angle_deg=args.contact_angle_deg,
            surface_tension_n_per_m=args.surface_tension_n_per_m,
        ),
        "specific_volume_mm3_per_g": exp.extrusion_volume_mm3_per_g,
    }


def _analysis_numbers(args: argparse.Namespace, exp: Any) -> dict[str, Any]:
    """SOLID-like analysis of ``mip read`` (densities, porosities, sigma_pore, modes)."""
    from microstructure.porosimetry.measured import read_mip_export
    from microstructure.porosimetry.measured_analysis import analyze_mip

    blank = None
    if args.blank:
        blank = read_mip_export(args.blank, runs=args.runs, decimal=args.decimal)
    res = analyze_mip(
        exp,
        crystal_density_g_per_cm3=args.crystal_density_g_per_cm3,
        skeletal_density_g_per_cm3=args.skeletal_density_g_per_cm3,
        skeletal_density_uncertainty_g_per_cm3=args.skeletal_density_uncertainty_g_per_cm3,
        bulk_volume_mm3=args.bulk_volume_mm3,
        pore_shape=args.pore_shape,
        cone_half_angle_deg=args.cone_half_angle_deg,
        min_pressure_mpa=args.min_pressure_mpa,
        max_pressure_mpa=args.max_pressure_mpa,
        blank=blank,
        compressibility_per_mpa=args.compressibility_per_mpa,
        contact_angle_deg=args.contact_angle_deg,
        surface_tension_n_per_m=args.surface_tension_n_per_m,
    )
    out = res.to_dict()
    out.pop("psd_diameter_nm")
    out.pop("psd_dv_dlogd_mm3_per_g")
    return out


def cmd_mip_read(args: argparse.Namespace) -> int:
    from microstructure.io.tables import write_csv
    from microstructure.plot import save_figure
    from microstructure.porosimetry import mip_curve_figure, read_mip_file
    from microstructure.porosimetry.measured import read_mip_export

    reading = _reading_kwargs(args)
    exp = read_mip_export(args.measured, **reading)
    curve = read_mip_file(
        args.measured,
        **reading,
        min_pressure_mpa=args.min_pressure_mpa,
        max_pressure_mpa=args.max_pressure_mpa,
        bulk_density_g_per_cm3=args.bulk_density_g_per_cm3,
        contact_angle_deg=args.contact_angle_deg,
        surface_tension_n_per_m=args.surface_tension_n_per_m,
    )
    d = curve.d_values()
    data: dict[str, Any] = {
        "path": str(args.measured),
        "n_points": len(curve),
        "pressure_min_mpa": float(curve.pressure_mpa.min()),
        "pressure_max_mpa": float(curve.pressure_mpa.max()),
        "diameter_min_nm": float(curve.diameter_nm.min()),
        "diameter_max_nm": float(curve.diameter_nm.max()),
        "intruded_porosity": curve.total_intruded_fraction,
        **d,
        "export": exp.summary(),
        "analysis": _analysis_numbers(args, exp),
    }
    if curve.specific_volume_mm3_per_g is not None:
        data["specific_volume_mm3_per_g"] = float(np.max(curve.specific_volume_mm3_per_g))
    ext = exp.extrusion_pressure_mpa
    data["extrusion"] = {
        "n_points": 0 if ext is None else int(ext.size),
        "hg_entrapment_fraction": exp.entrapment_fraction,
    }
    if args.out:
        data["curve_csv"] = str(_write_curve(args.out, curve))
    if args.extrusion_out:
        if ext is None:
            raise CliError(f"--extrusion-out: {args.measured} holds no extrusion branch")
        data["extrusion"]["csv"] = str(write_csv(args.extrusion_out, _extrusion_table(exp, args)))
    if args.figure:
        fig = mip_curve_figure(curve, title=str(args.measured))
        data["figure"] = str(save_figure(fig, args.figure))
    _emit(args, data, _read_text(args, data, d))
    return 0


def _read_text(args: argparse.Namespace, data: dict[str, Any], d: dict[str, float]) -> str:
    an = data["analysis"]
    lines = [
        f"{args.measured}: {data['n_points']} points ({data['export']['instrument']} export), "
        f"{data['pressure_min_mpa']:.4g}-{data['pressure_max_mpa']:.4g} MPa = "
        f"{data['diameter_max_nm']:.4g}-{data['diameter_min_nm']:.4g} nm",
        f"  {_d_text(d)}; PSD modes {', '.join(f'{m:.4g}' for m in an['modes_nm'])} nm",
    ]
    if "specific_volume_mm3_per_g" in data:
        lines.append(f"  intruded {data['specific_volume_mm3_per_g']:.4g} mm3/g")
    ex = data["export"]
    if str(ex.get("unit_source", "")).startswith("assumed"):
        lines.append(
            f"  no header: units assumed {ex['pressure_unit']} and {ex['volume_unit']}"
            + ("" if ex.get("sample_mass_g") else " per gram")
            + " (give --pressure-unit/--volume-unit/--sample-mass-g)"
        )
    ent = data["extrusion"]["hg_entrapment_fraction"]
    if ent is not None and np.isfinite(ent):
        lines.append(f"  Hg entrapped after extrusion: {100 * ent:.1f} %")
    lines.append(f"  sigma_pore ({an['pore_shape']}): {an['pore_surface_m2_per_g']:.3g} m2/g")
    for key, name in (
        ("porosity_xtal", "xtal"),
        ("porosity_skel", "skel"),
        ("porosity_app", "app"),
    ):
        if an.get(key) is not None:
            lines.append(
                f"  eps_{name}(Hg) = {100 * an[key]:.1f} +- {100 * an[key + '_uncertainty']:.1f} %"
            )
    if an.get("apparent_density_g_per_cm3") is not None:
        lines.append(
            f"  bulk density (Hg) {an['bulk_density_hg_g_per_cm3']:.3f}, apparent density "
            f"{an['apparent_density_g_per_cm3']:.3f} g/cm3"
        )
    return "\n".join(lines)


def compare_mip_files(
    simulated_path: str | os.PathLike,
    measured_path: str | os.PathLike,
    *,
    figure_path: str | os.PathLike | None = None,
    **reading: Any,
) -> tuple[dict[str, Any], str]:
    """The ``mip compare`` command body: a simulated curve (CSV, or another export) against a
    measured curve (CSV or raw instrument export).

    Parameters
    ----------
    simulated_path, measured_path
        Curve CSVs (``mip simulate --out``, ``mip read --out``) or raw instrument exports
        (read with :func:`microstructure.porosimetry.read_mip_file` and ``reading``).
    figure_path
        PNG to write with both cumulative curves and PSDs in diameter space (optional).
    **reading
        Reading options of a raw measured export (``pressure_unit``, ``sample_mass_g``, ...;
        ``None`` values keep the reader's defaults).

    Returns
    -------
    (dict, str)
        The JSON numbers (:meth:`~microstructure.porosimetry.MipComparison.to_dict` plus the
        file names and ``figure`` when written) and the human text.
    """
    from microstructure.plot import save_figure
    from microstructure.porosimetry import (
        compare_mip_curves,
        load_mip_curve,
        mip_comparison_figure,
    )

    sim = load_mip_curve(simulated_path, label=f"simulated ({Path(simulated_path).name})")
    meas = load_mip_curve(
        measured_path,
        label=f"measured ({Path(measured_path).name})",
        **{k: v for k, v in reading.items() if v is not None},
    )
    if len(sim) == 0:
        raise ValueError(f"{simulated_path}: the simulated curve has no rows")
    cmp = compare_mip_curves(sim, meas)
    data = {"simulated": str(simulated_path), "measured": str(measured_path), **cmp.to_dict()}
    text = cmp.text()
    if figure_path is not None:
        data["figure"] = str(save_figure(mip_comparison_figure(sim, meas), figure_path))
        text += f"\n  figure written to {figure_path}"
    return data, text


def cmd_mip_compare(args: argparse.Namespace) -> int:
    data, text = compare_mip_files(
        args.simulated,
        args.measured,
        figure_path=args.out,
        pressure_unit=args.pressure_unit,
        volume_unit=args.volume_unit,
        sample_mass_g=args.sample_mass_g,
        min_pressure_mpa=args.min_pressure_mpa,
        max_pressure_mpa=args.max_pressure_mpa,
        bulk_density_g_per_cm3=args.bulk_density_g_per_cm3,
    )
    _emit(args, data, text)
    return 0


def cmd_granulometry(args: argparse.Namespace) -> int:
    from microstructure.porosimetry.granulometry import granulometry

    labels, vs = _read_labels(args, "granulometry")
    data_in = _chunked_input(args, labels)
    with _scheduler(args):
        result = granulometry(data_in, voxel_size_nm=vs, **_chunk_options(args))
    data = {"path": str(args.labels_file), **result.summary()}
    if args.out:
        data["psd_csv"] = str(_write_curve(args.out, result.curve))
    text = (
        f"{args.labels_file}: granulometry (exact local thickness) of the pore space\n"
        f"  porosity {100 * result.porosity:.2f} %, mean diameter "
        f"{data['mean_diameter_nm']:.4g} nm, {_d_text(data)}"
    )
    _emit(args, data, text)
    return 0


def _add_export_options(q: argparse.ArgumentParser) -> None:
    """Options of an instrument export: columns, runs, decimal mark."""
    q.add_argument("--pressure-column", help="pressure column: index or (part of) its title")
    q.add_argument("--volume-column", help="cumulative volume column: index or title")
    q.add_argument("--runs", default="merge", choices=list(RUNS), help="low/high-pressure runs")
    q.add_argument("--decimal", default="auto", choices=["auto", ".", ","], help="decimal mark")
    q.add_argument(
        "--sheet", help="workbook sheet to read: name or 0-based index (default: intrusion table)"
    )


def add_parsers(sub: Any) -> None:
    """Add the ``mip`` and ``granulometry`` commands to the subparsers ``sub``."""
    p = sub.add_parser("mip", help="simulated and measured mercury intrusion curves")
    mip = p.add_subparsers(dest="mip_command", metavar="ACTION", parser_class=_Parser)
    mip.required = True
    q = mip.add_parser("simulate", help="simulate MIP on a labels volume")
    q.add_argument("labels_file", metavar="LABELS", help="labels volume")
    q.add_argument(
        "--inlet", required=True, help="faces Hg enters from: all, top, all-but-bottom, z-, ..."
    )
    _add_washburn(q)
    q.add_argument("--thickness-axis", default="y", choices=["z", "y", "x"])
    q.add_argument("--top-at", type=int, default=0, choices=[0, -1])
    q.add_argument("--batch-size-nm", type=float, help="diameter step (default: exact radii)")
    q.add_argument("--densities", metavar="PHASE=G_PER_CM3", help="e.g. am=4.76,cbd=1.935")
    q.add_argument("--extrusion", action="store_true", help="also extrude (Hg entrapment)")
    q.add_argument("--cbd-porosity", type=float, help="unresolved CBD nanoporosity (hybrid)")
    _add_chunk_args(q)
    q.add_argument("--out", metavar="CSV", help="write the curve CSV")
    q.add_argument("--figure", metavar="PNG", help="write cumulative curve + PSD figure")
    _add_common(q)
    q.set_defaults(func=cmd_mip_simulate)

    q = mip.add_parser("read", help="read and analyse a measured MIP export")
    q.add_argument(
        "measured", metavar="MEASURED", help="instrument export: text, CSV, .xls/.xlsx workbook"
    )
    q.add_argument("--pressure-unit", choices=sorted(PRESSURE_UNITS))
    _add_reading_options(q)
    _add_export_options(q)
    _add_washburn(q)
    q.add_argument("--crystal-density-g-per-cm3", type=float, help="rho_xtal (eq. 3 total)")
    q.add_argument(
        "--skeletal-density-g-per-cm3", type=float, help="He-pycnometry rho_skel (eq. 3)"
    )
    q.add_argument(
        "--skeletal-density-uncertainty-g-per-cm3",
        type=float,
        default=SKELETAL_DENSITY_UNCERTAINTY_G_PER_CM3,
        help="uncertainty of rho_skel",
    )
    q.add_argument(
        "--bulk-volume-mm3",
        type=float,
        help="Hg bulk volume of the sample (eq. 2 apparent density)",
    )
    q.add_argument("--pore-shape", default="cylindrical", choices=list(PORE_SHAPES))
    q.add_argument("--cone-half-angle-deg", type=float, default=CONE_HALF_ANGLE_DEG)
    q.add_argument("--blank", metavar="FILE", help="empty-cell (blank) run to subtract")
    q.add_argument(
        "--compressibility-per-mpa", type=float, help="solid compressibility to remove (1/MPa)"
    )
    q.add_argument("--out", metavar="CSV", help="write the curve CSV")
    q.add_argument("--extrusion-out", metavar="CSV", help="write the extrusion branch CSV")
    q.add_argument("--figure", metavar="PNG", help="write cumulative curve + PSD figure")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q.set_defaults(func=cmd_mip_read)

    q = mip.add_parser("compare", help="compare a simulated and a measured curve")
    q.add_argument("simulated", metavar="SIMULATED", help="simulated curve CSV")
    q.add_argument("measured", metavar="MEASURED", help="measured curve CSV or instrument export")
    q.add_argument("--pressure-unit", choices=sorted(PRESSURE_UNITS))
    _add_reading_options(q)
    q.add_argument("--out", metavar="PNG", help="write the overlay figure")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q.set_defaults(func=cmd_mip_compare)

    p = sub.add_parser("granulometry", help="pore size distribution by sphere filling")
    p.add_argument("labels_file", metavar="LABELS", help="labels volume")
    p.add_argument("--out", metavar="CSV", help="write the PSD CSV")
    _add_chunk_args(p)
    _add_common(p)
    p.set_defaults(func=cmd_granulometry)
