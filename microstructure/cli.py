"""The ``microstructure`` command (see the command-line contract in the architecture notes).

Every command prints human text by default and one JSON object with ``--json``. Errors go to
stderr as one line naming the file or parameter, with a non-zero exit; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from microstructure import __version__

__all__ = ["main", "build_parser"]

PROG = "microstructure"


class CliError(Exception):
    """An error with a one-line message for the user."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line instead of usage + message
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    from microstructure.io.tables import to_jsonable

    if getattr(args, "json", False):
        print(json.dumps(to_jsonable(data)))
    else:
        print(text)


def _add_common(p: argparse.ArgumentParser, *, voxel: bool = True, labels: bool = True) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")
    if voxel:
        p.add_argument(
            "--voxel-size-nm",
            metavar="V",
            help="voxel size in nm: one value or Z,Y,X (overrides the file metadata)",
        )
    if labels:
        p.add_argument("--labels", metavar="MAP", help="label map, e.g. pore=0,am=85,cbd=170")


# --------------------------------------------------------------------------- commands


def cmd_info(args: argparse.Namespace) -> int:
    from microstructure.io import read_volume
    from microstructure.volume import PHASE_NAMES

    vol = read_volume(args.stack, voxel_size_nm=args.voxel_size_nm, labels=args.labels)
    d = vol.data
    info: dict[str, Any] = {
        "path": str(args.stack),
        "format": vol.metadata.get("format"),
        "shape": list(vol.shape),
        "dtype": str(d.dtype),
        "voxels": int(d.size),
        "size_mb": round(d.nbytes / 2**20, 2),
        "min": float(d.min()),
        "max": float(d.max()),
        "mean": float(d.mean()),
        "voxel_size_nm": list(vol.voxel_size_nm) if vol.voxel_size_nm else None,
        "voxel_size_origin": vol.metadata.get("voxel_size_origin"),
        "physical_size_um": list(vol.physical_size_um()) if vol.voxel_size_nm else None,
        "kind": "labels" if vol.is_labels else "grayscale",
    }
    if vol.is_labels:
        counts = np.bincount(d.ravel(), minlength=4)
        info["phase_fractions"] = {PHASE_NAMES[i]: counts[i] / d.size for i in range(4)}
    lines = [
        f"{info['path']} ({info['format']})",
        f"  shape (z, y, x): {tuple(info['shape'])}  dtype {info['dtype']}  {info['size_mb']} MB",
        f"  values: min {info['min']:g}  max {info['max']:g}  mean {info['mean']:.4g}",
    ]
    if vol.voxel_size_nm:
        vs = ", ".join(f"{v:g}" for v in vol.voxel_size_nm)
        ps = " x ".join(f"{v:.3g}" for v in info["physical_size_um"])
        lines.append(f"  voxel size (z, y, x): {vs} nm ({info['voxel_size_origin']}); {ps} um")
    else:
        lines.append("  voxel size: unknown (not in metadata; pass --voxel-size-nm)")
    lines.append(f"  kind: {info['kind']}")
    if "phase_fractions" in info:
        fr = "  ".join(f"{k} {v * 100:.2f} %" for k, v in info["phase_fractions"].items())
        lines.append(f"  phases: {fr}")
    _emit(args, info, "\n".join(lines))
    return 0


def _parse_shape(text: str) -> tuple[int, int, int]:
    try:
        vals = [int(v) for v in text.split(",")]
    except ValueError:
        raise CliError(f"--shape: expected Z,Y,X integers, got {text!r}") from None
    if len(vals) != 3 or min(vals) < 1:
        raise CliError(f"--shape: expected three positive integers Z,Y,X, got {text!r}")
    return (vals[0], vals[1], vals[2])


def _phantom_params(path: str) -> dict[str, Any]:
    """Generator keywords from a TOML file (a [phantom] table or top-level keys)."""
    from microstructure.pipeline.phantom_input import load_phantom_params

    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such parameter file (--params)")
    return load_phantom_params(path)


def cmd_phantom(args: argparse.Namespace) -> int:
    from microstructure.phantom import generate_phantom, save_phantom

    kwargs: dict[str, Any] = {}
    if args.params:
        kwargs.update(_phantom_params(args.params))
    kwargs["seed"] = args.seed if args.seed is not None else kwargs.get("seed", 0)
    if args.shape:
        kwargs["shape"] = _parse_shape(args.shape)
    if args.voxel_size_nm:
        from microstructure.volume import parse_voxel_size

        kwargs["voxel_size_nm"] = parse_voxel_size(args.voxel_size_nm, name="--voxel-size-nm")
    out = Path(args.out_dir)
    if out.exists() and not out.is_dir():
        raise CliError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    ph = generate_phantom(**kwargs)
    files = save_phantom(out, ph, renderings=args.renderings)
    truth = ph.truth
    data = {"out_dir": str(out), "files": {k: str(v) for k, v in files.items()}, "truth": truth}
    fr = truth.get("phase_fractions", {})
    text = (
        f"phantom written to {out}: "
        + ", ".join(Path(v).name for v in files.values())
        + "\n  shape "
        + str(tuple(ph.labels.shape))
        + "  phases: "
        + "  ".join(f"{k} {v * 100:.2f} %" for k, v in fr.items())
    )
    _emit(args, data, text)
    return 0


def cmd_workflow(args: argparse.Namespace) -> int:
    from microstructure.workflows.seed003 import run_seed003

    log = None if args.json else (lambda line: print(line, flush=True))
    report = run_seed003(args.config, args.out, log=log, progress=not args.no_progress)
    text = f"finished: report in {Path(args.out) / 'report.json'}"
    _emit(args, report, text)
    return 0


def _parse_size(text: str, option: str) -> int:
    """Bytes of a size such as ``2GiB``, ``1500MB`` or ``0`` (CliError otherwise)."""
    from dask.utils import parse_bytes

    try:
        value = int(parse_bytes(text))
    except (ValueError, TypeError):
        raise CliError(f"{option}: expected a size such as 2GiB, 512MB or 0, got {text!r}") from (
            None
        )
    if value < 0:
        raise CliError(f"{option}: must be >= 0, got {text!r}")
    return value


def cmd_run(args: argparse.Namespace) -> int:
    from microstructure.parallel import dask_scheduler
    from microstructure.pipeline import load_recipe, run_pipeline
    from microstructure.pipeline.phantom_input import prepare_phantom

    log = None if args.json else (lambda line: print(line, flush=True))
    recipe = load_recipe(args.recipe)
    source = args.input
    if args.phantom_shape and recipe.phantom is None:
        raise CliError(f"--phantom-shape: {args.recipe} has no [phantom] section")
    if source is None:
        if recipe.phantom is None:
            raise CliError(
                f"{args.recipe}: give --input STACK (the recipe has no [phantom] section that "
                "would generate its input)"
            )
        shape = _parse_shape(args.phantom_shape) if args.phantom_shape else None
        source = prepare_phantom(recipe.phantom, args.out, shape=shape, log=log)
    elif recipe.phantom is not None and log is not None:
        log(f"--input given: the recipe's [phantom] section is not used ({args.input})")
    extra: dict[str, Any] = {}
    if args.zarr_threshold is not None:
        extra["zarr_threshold_bytes"] = _parse_size(args.zarr_threshold, "--zarr-threshold")
    with dask_scheduler(
        args.scheduler, workers=args.workers, memory_limit=args.memory_limit
    ) as client:
        if client is not None and log is not None:
            log(f"dask: {len(client.scheduler_info()['workers'])} worker(s), dashboard at "
                f"{client.dashboard_link}")
        report = run_pipeline(
            recipe,
            source,
            args.out,
            voxel_size_nm=args.voxel_size_nm,
            labels=args.labels,
            force=args.force,
            progress=not args.no_progress,
            log=log,
            **extra,
        )
    text = f"finished: {len(report['stages'])} stage(s); report in {Path(args.out) / 'report.json'}"
    _emit(args, report, text)
    return 0


def cmd_porosity(args: argparse.Namespace) -> int:
    from microstructure.io import read_volume
    from microstructure.porosity import format_porosity_report, porosity_report
    from microstructure.volume import check_labels

    vol = read_volume(args.labels_file, voxel_size_nm=args.voxel_size_nm, labels=args.labels)
    labels = check_labels(vol.data, name=str(args.labels_file))
    densities = None
    if args.densities:
        from microstructure.cbd.composition import parse_named_values

        densities = {
            k.lower(): v for k, v in parse_named_values(args.densities, name="--densities").items()
        }
    report = porosity_report(
        labels,
        voxel_size_nm=vol.voxel_size_nm,
        faces=args.faces,
        thickness_axis=args.thickness_axis,
        top_at=args.top_at,
        densities_g_per_cm3=densities,
        cbd_nanoporosity=args.cbd_nanoporosity,
        surface=not args.no_surface,
        surface_method=args.surface_method,
    )
    report = {"path": str(args.labels_file), **report}
    _emit(args, report, f"{args.labels_file}\n" + format_porosity_report(report))
    return 0


def cmd_composition(args: argparse.Namespace) -> int:
    from microstructure.cbd.composition import composition, parse_named_values

    mass = parse_named_values(args.mass_fractions, name="--mass-fractions")
    dens = parse_named_values(args.densities, name="--densities")
    kwargs: dict[str, Any] = {"normalize": args.normalize}
    if args.cbd is not None:  # "" means: no CBD grouping
        kwargs["cbd"] = tuple(c.strip() for c in args.cbd.split(",") if c.strip())
    result = composition(mass, dens, **kwargs)
    _emit(args, result.to_dict(), result.format())
    return 0


def _read_labels(
    args: argparse.Namespace, what: str
) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Read LABELS with the voxel size required, mapped to our phase codes."""
    from microstructure.io import read_volume
    from microstructure.volume import check_labels

    vol = read_volume(args.labels_file, voxel_size_nm=args.voxel_size_nm, labels=args.labels)
    labels = check_labels(vol.data, name=str(args.labels_file))
    return labels, vol.require_voxel_size(what)


def _densities(text: str | None) -> dict[str, float] | None:
    if not text:
        return None
    from microstructure.cbd.composition import parse_named_values

    return {k.lower(): v for k, v in parse_named_values(text, name="--densities").items()}


def _d_text(d: dict[str, Any]) -> str:
    parts = [f"{k[:-3].upper()} {d[k]:.4g} nm" for k in ("d10_nm", "d50_nm", "d90_nm") if k in d]
    return ", ".join(parts)


def cmd_mip_simulate(args: argparse.Namespace) -> int:
    from microstructure.porosimetry import plot_mip_curve, simulate_mip

    labels, vs = _read_labels(args, "simulated MIP")
    if args.chunks:
        return _mip_simulate_chunked(args, labels, vs)
    result = simulate_mip(
        labels,
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
    )
    data = {"path": str(args.labels_file), **result.summary()}
    if args.out:
        data["curve_csv"] = str(result.to_csv(args.out))
    if args.figure:
        data["figure"] = str(plot_mip_curve(result.curve, args.figure, title=str(args.labels_file)))
    lines = [
        f"{args.labels_file}: simulated MIP from {', '.join(result.inlet)}",
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


def _mip_simulate_chunked(
    args: argparse.Namespace, labels: np.ndarray, vs: tuple[float, float, float]
) -> int:
    from microstructure.parallel import dask_scheduler, invasion_radius_chunked
    from microstructure.porosimetry import curve_from_radii, plot_mip_curve

    if args.max_radius_nm is None:
        raise CliError("--chunks needs --max-radius-nm (the largest pore radius considered)")
    if args.extrusion or args.cbd_porosity is not None or args.densities or args.batch_size_nm:
        raise CliError(
            "--chunks: extrusion, --cbd-porosity, --densities and --batch-size-nm are only "
            "available in memory (drop --chunks)"
        )
    pore = (labels == 0) | (labels == 3)
    with dask_scheduler(args.scheduler):
        inv = invasion_radius_chunked(
            pore,
            voxel_size_nm=vs,
            max_radius_nm=args.max_radius_nm,
            inlet=args.inlet,
            thickness_axis=args.thickness_axis,
            top_at=args.top_at,
            chunks=args.chunks,
            resume_dir=args.resume_dir,
        )
    radii = inv[inv > 0]
    curve = curve_from_radii(
        radii,
        pore_volume=float(pore.sum()),
        sample_volume=float(pore.size),
        contact_angle_deg=args.contact_angle_deg,
        surface_tension_n_per_m=args.surface_tension_n_per_m,
        label=f"simulated ({Path(args.labels_file).name}, chunked)",
    )
    data: dict[str, Any] = {
        "path": str(args.labels_file),
        "chunks": args.chunks,
        "max_radius_nm": args.max_radius_nm,
        "porosity": float(pore.mean()),
        "intruded_porosity": curve.total_intruded_fraction,
        **curve.d_values(),
    }
    if args.out:
        data["curve_csv"] = str(curve.to_csv(args.out))
    if args.figure:
        data["figure"] = str(plot_mip_curve(curve, args.figure, title=str(args.labels_file)))
    text = (
        f"{args.labels_file}: simulated MIP (chunked {args.chunks}^3, radii <= "
        f"{args.max_radius_nm:g} nm)\n  intruded {100 * curve.total_intruded_fraction:.2f} % "
        f"of the volume, {_d_text(data)}"
    )
    _emit(args, data, text)
    return 0


def cmd_mip_read(args: argparse.Namespace) -> int:
    from microstructure.io.mip_files import read_mip_file
    from microstructure.porosimetry import plot_mip_curve

    curve = read_mip_file(
        args.measured,
        pressure_unit=args.pressure_unit,
        volume_unit=args.volume_unit,
        sample_mass_g=args.sample_mass_g,
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
    }
    if curve.specific_volume_mm3_per_g is not None:
        data["specific_volume_mm3_per_g"] = float(np.max(curve.specific_volume_mm3_per_g))
    if args.out:
        data["curve_csv"] = str(curve.to_csv(args.out))
    if args.figure:
        data["figure"] = str(plot_mip_curve(curve, args.figure, title=str(args.measured)))
    lines = [
        f"{args.measured}: {len(curve)} points, {data['pressure_min_mpa']:.4g}-"
        f"{data['pressure_max_mpa']:.4g} MPa = {data['diameter_max_nm']:.4g}-"
        f"{data['diameter_min_nm']:.4g} nm",
        f"  {_d_text(d)}",
    ]
    if "specific_volume_mm3_per_g" in data:
        lines.append(f"  intruded {data['specific_volume_mm3_per_g']:.4g} mm3/g")
    _emit(args, data, "\n".join(lines))
    return 0


def cmd_mip_compare(args: argparse.Namespace) -> int:
    from microstructure.io.mip_files import load_mip_curve
    from microstructure.porosimetry import compare_mip_curves, plot_mip_comparison

    sim = load_mip_curve(args.simulated, label=f"simulated ({Path(args.simulated).name})")
    reading = {
        "pressure_unit": args.pressure_unit,
        "volume_unit": args.volume_unit,
        "sample_mass_g": args.sample_mass_g,
        "min_pressure_mpa": args.min_pressure_mpa,
        "max_pressure_mpa": args.max_pressure_mpa,
        "bulk_density_g_per_cm3": args.bulk_density_g_per_cm3,
    }
    meas = load_mip_curve(
        args.measured,
        label=f"measured ({Path(args.measured).name})",
        **{k: v for k, v in reading.items() if v is not None},
    )
    cmp = compare_mip_curves(sim, meas)
    data = {"simulated": str(args.simulated), "measured": str(args.measured), **cmp.to_dict()}
    text = cmp.text()
    if args.out:
        data["figure"] = str(plot_mip_comparison(sim, meas, args.out))
        text += f"\n  figure written to {args.out}"
    _emit(args, data, text)
    return 0


def cmd_granulometry(args: argparse.Namespace) -> int:
    from microstructure.porosimetry import granulometry

    labels, vs = _read_labels(args, "granulometry")
    if args.chunks:
        from microstructure.parallel import dask_scheduler, granulometry_chunked

        if args.max_radius_nm is None:
            raise CliError("--chunks needs --max-radius-nm (the largest pore radius considered)")
        with dask_scheduler(args.scheduler):
            result = granulometry_chunked(
                labels,
                voxel_size_nm=vs,
                max_radius_nm=args.max_radius_nm,
                chunks=args.chunks,
                resume_dir=args.resume_dir,
            )
    else:
        result = granulometry(labels, voxel_size_nm=vs)
    data = {"path": str(args.labels_file), **result.summary()}
    if args.out:
        data["psd_csv"] = str(result.to_csv(args.out))
    text = (
        f"{args.labels_file}: granulometry (exact local thickness) of the pore space\n"
        f"  porosity {100 * result.porosity:.2f} %, mean diameter "
        f"{data['mean_diameter_nm']:.4g} nm, {_d_text(data)}"
    )
    _emit(args, data, text)
    return 0


def cmd_mfactor(args: argparse.Namespace) -> int:
    from microstructure.transport import m_factor

    labels, vs = _read_labels(args, "the M-factor")
    phases = tuple(int(p) for p in str(args.phases).split(",") if p.strip())
    results = {}
    lines = [f"{args.labels_file}: M-factor of phases {phases}"]
    for axis in args.axis.split(","):
        res = m_factor(
            labels,
            voxel_size_nm=vs,
            axis=axis.strip(),
            phases=phases,
            relative_diffusivity=None
            if args.cbd_relative_diffusivity is None
            else {2: args.cbd_relative_diffusivity},
        )
        results[res.axis] = res.to_dict()
        tau = "inf" if not res.percolating else f"{res.tortuosity_factor:.4g}"
        lines.append(
            f"  {res.axis}: M {res.m_factor:.4g}, tortuosity factor {tau}, porosity "
            f"{res.porosity:.4g}" + (f" ({res.message})" if res.message else "")
        )
    if len(results) == 1:
        data = {"path": str(args.labels_file), **next(iter(results.values()))}
    else:
        data = {"path": str(args.labels_file), "axes": results}
    _emit(args, data, "\n".join(lines))
    return 0


def cmd_dfn(args: argparse.Namespace) -> int:
    from microstructure.transport.dfn import simulate_discharge

    result = simulate_discharge(
        args.preset,
        c_rate=args.c_rate,
        transport=args.transport,
        disk_cache=False if args.no_cache else None,
    )
    data = result.to_json_dict()
    data.update({"preset": args.preset, "c_rate": args.c_rate, "transport": args.transport})
    if args.out:
        result.to_csv(args.out)
        data["curve_csv"] = str(args.out)
    text = (
        f"DFN {args.preset}, {args.c_rate:g}C, {args.transport} transport: "
        f"{result.capacity_mah:.4g} mAh/cm2, {result.energy_density_wh_per_kg:.4g} Wh/kg of "
        "coating, "
        f"end voltage {float(result.voltage_v[-1]):.3f} V"
    )
    _emit(args, data, text)
    return 0


def open_viewer(path: str | None, *, show: bool = True) -> tuple[Any, Any, Any]:
    """A napari viewer with ``path`` opened by our reader, the stage runner and the MIP dock.

    Returns
    -------
    (viewer, stage runner widget, MIP dock widget)

    Raises
    ------
    CliError
        When napari (the ``napari`` extra) is not installed.
    """
    try:
        import napari
    except ImportError:
        raise CliError(
            "napari is not installed: pip install 'microstructure[napari]' to use view"
        ) from None
    from microstructure.napari.mip_dock import MipDock
    from microstructure.napari.reader import read_layers
    from microstructure.napari.widgets import StageRunner

    viewer = napari.Viewer(show=show, title="microstructure")
    if path is not None:
        from napari.layers import Layer

        from microstructure.napari.reader import _to_napari

        for data, meta, kind in _to_napari(read_layers(path)):
            viewer.add_layer(Layer.create(data, meta, kind))
    runner = StageRunner(viewer)
    dock = MipDock(viewer)
    runner.mip_dock = dock
    viewer.window.add_dock_widget(runner, name="Run stage", area="right")
    viewer.window.add_dock_widget(dock, name="MIP curves", area="bottom")
    return viewer, runner, dock


def cmd_view(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    open_viewer(str(path))
    import napari

    napari.run()
    return 0


# --------------------------------------------------------------------------- parser


def _add_reading_options(q: argparse.ArgumentParser) -> None:
    """Options for reading a raw measured MIP export (besides --pressure-unit)."""
    q.add_argument("--volume-unit", choices=["ml", "mm3"])
    q.add_argument("--sample-mass-g", type=float, help="sample mass for absolute volumes")
    q.add_argument("--min-pressure-mpa", type=float, help="lower end of the pressure window")
    q.add_argument("--max-pressure-mpa", type=float, help="upper end of the pressure window")
    q.add_argument(
        "--bulk-density-g-per-cm3", type=float, help="sample bulk density (intruded fraction)"
    )


def _add_chunk_args(p: argparse.ArgumentParser) -> None:
    """Options of the chunked (Dask + Zarr) path of a porosimetry command."""
    p.add_argument(
        "--chunks", type=int, help="run chunk by chunk (Dask + Zarr) with chunks of this size"
    )
    p.add_argument("--max-radius-nm", type=float, help="with --chunks: largest radius considered")
    p.add_argument(
        "--resume-dir",
        metavar="DIR",
        help="with --chunks: resumable work folder; after an interruption the same command "
        "recomputes only the unfinished chunks",
    )
    p.add_argument("--scheduler", default="threads", help="with --chunks: Dask scheduler")


def _add_washburn(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--contact-angle-deg", type=float, default=140.0, help="Hg contact angle (default 140)"
    )
    p.add_argument(
        "--surface-tension-n-per-m",
        type=float,
        default=0.48,
        help="Hg surface tension in N/m (default 0.48)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="FIB/SEM tomography of battery electrodes: porosity, simulated MIP, "
        "M-factors, DFN.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("info", help="describe a stack: shape, dtype, voxel size, phases")
    p.add_argument("stack", help="TIFF, folder of TIFF slices, .npy or .zarr")
    _add_common(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("phantom", help="write a synthetic FIB/SEM stack with ground truth")
    p.add_argument("out_dir", help="output folder (fibsem.tif, truth_labels.tif, truth.json)")
    p.add_argument("--shape", metavar="Z,Y,X", help="volume shape in voxels")
    p.add_argument("--seed", type=int, help="random seed (same seed, same files; default 0)")
    p.add_argument(
        "--params",
        metavar="TOML",
        help="generator parameters (a [phantom] table), e.g. pipelines/seed000_phantom.toml",
    )
    p.add_argument(
        "--renderings",
        action="store_true",
        help="also write the artefact-free renderings (clean, stripe_free, noise_free, curtain)",
    )
    _add_common(p, labels=False)
    p.set_defaults(func=cmd_phantom)

    p = sub.add_parser("run", help="run a recipe on a stack (or on the phantom it generates)")
    p.add_argument("recipe", help="recipe TOML file, e.g. pipelines/fibsem_nmc622.toml")
    p.add_argument(
        "--input",
        help="input stack (required unless the recipe has a [phantom] section, which then "
        "generates it into OUT/00-phantom/)",
    )
    p.add_argument(
        "--phantom-shape",
        metavar="Z,Y,X",
        help="shape of the generated phantom (reduced sizes for a quick look; same voxel size)",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--force", action="store_true", help="recompute cached stages")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--scheduler",
        default="threads",
        help="where chunked (Dask) work runs: threads, processes, synchronous, local (a "
        "dask.distributed LocalCluster of worker processes) or a dask.distributed scheduler "
        "address (tcp://host:8786)",
    )
    p.add_argument(
        "--workers", type=int, help="with --scheduler local: worker processes (default: cores)"
    )
    p.add_argument(
        "--memory-limit",
        metavar="SIZE",
        help="memory of one worker (2GiB, 1500MB); chunked stages size their slabs to fit. "
        "With --scheduler local the cluster enforces it; not with an address (the cluster's "
        "own limits are used)",
    )
    p.add_argument(
        "--zarr-threshold",
        metavar="SIZE",
        help="stage volumes larger than this are stored as Zarr and the stages that can run "
        "chunked do so (default 2GiB; 0 = always)",
    )
    _add_common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "workflow",
        help="run a seed study that is not a volume pipeline (pipelines/seed003_hierarchical.toml)",
    )
    p.add_argument("config", help="workflow TOML, e.g. pipelines/seed003_hierarchical.toml")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_common(p, voxel=False, labels=False)
    p.set_defaults(func=cmd_workflow)

    p = sub.add_parser("porosity", help="porosity metrics of a labels volume")
    p.add_argument("labels_file", metavar="LABELS", help="labels volume")
    p.add_argument("--faces", default="all", help="faces that count as open (default all)")
    p.add_argument("--thickness-axis", default="y", choices=["z", "y", "x"])
    p.add_argument("--top-at", type=int, default=0, choices=[0, -1])
    p.add_argument("--densities", metavar="PHASE=G_PER_CM3", help="e.g. am=4.76,cbd=1.935")
    p.add_argument(
        "--cbd-nanoporosity", type=float, default=0.0, help="unresolved CBD porosity (0..1)"
    )
    p.add_argument(
        "--surface-method",
        default="crofton",
        choices=["crofton", "mesh"],
        help="interface areas: crofton (fast, a few %% high on curved surfaces) or mesh "
        "(smoothed marching cubes, ~1 %%, 10-30x slower)",
    )
    p.add_argument("--no-surface", action="store_true", help="skip surface areas")
    _add_common(p)
    p.set_defaults(func=cmd_porosity)

    p = sub.add_parser("composition", help="electrode recipe: mass fractions to volume fractions")
    p.add_argument("--mass-fractions", required=True, help="e.g. AM=0.95,CB=0.02,PVdF=0.03")
    p.add_argument("--densities", required=True, help="g/cm3, e.g. AM=4.76,CB=2.25,PVdF=1.77")
    p.add_argument(
        "--cbd", default=None, help="components forming the CBD (default CB,PVdF; '' for none)"
    )
    p.add_argument(
        "--normalize", action="store_true", help="rescale mass fractions that do not sum to 1"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_composition)

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

    q = mip.add_parser("read", help="read a measured MIP export (pressure, cumulative volume)")
    q.add_argument("measured", metavar="MEASURED", help="instrument text export")
    q.add_argument("--pressure-unit", choices=["psi", "mpa", "kpa", "pa", "bar"])
    _add_reading_options(q)
    _add_washburn(q)
    q.add_argument("--out", metavar="CSV", help="write the curve CSV")
    q.add_argument("--figure", metavar="PNG", help="write cumulative curve + PSD figure")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q.set_defaults(func=cmd_mip_read)

    q = mip.add_parser("compare", help="compare a simulated and a measured curve")
    q.add_argument("simulated", metavar="SIMULATED", help="simulated curve CSV")
    q.add_argument("measured", metavar="MEASURED", help="measured curve CSV or instrument export")
    q.add_argument("--pressure-unit", choices=["psi", "mpa", "kpa", "pa", "bar"])
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

    p = sub.add_parser("mfactor", help="M-factor and tortuosity factor from the image")
    p.add_argument("labels_file", metavar="LABELS", help="labels volume")
    p.add_argument("--axis", required=True, help="z, y or x (or a list: z,y,x)")
    p.add_argument("--phases", default="0,3", help="transporting labels (default 0,3)")
    p.add_argument(
        "--cbd-relative-diffusivity",
        type=float,
        help="D_cbd / D of the CBD solid (label 2) when its unresolved nanopores conduct",
    )
    _add_common(p)
    p.set_defaults(func=cmd_mfactor)

    p = sub.add_parser("dfn", help="discharge a half cell with a (hierarchical) DFN model")
    p.add_argument("--preset", required=True, help="electrode preset, e.g. cal-3")
    p.add_argument("--c-rate", type=float, required=True, help="discharge rate, 1/h")
    p.add_argument("--transport", required=True, choices=["combined", "intergranular"])
    p.add_argument("--out", metavar="CSV", help="write the discharge curve CSV")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the on-disk cache of compiled DFN models "
        "(~/.cache/microstructure/dfn or $MICROSTRUCTURE_CACHE_DIR/dfn; also "
        "MICROSTRUCTURE_DFN_CACHE=0)",
    )
    p.set_defaults(func=cmd_dfn)

    p = sub.add_parser("view", help="open a stack or a run folder in napari")
    p.add_argument("path", metavar="PATH", help="stack, labels volume or run folder")
    p.set_defaults(func=cmd_view)

    for extra in _EXTRA_COMMANDS:
        extra(sub)
    return parser


#: Later modules append functions (subparsers) -> None adding their commands.
_EXTRA_COMMANDS: list[Callable[[Any], None]] = []


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``microstructure`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    warnings.showwarning = _one_line_warning
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except (CliError, ValueError, FileNotFoundError, OSError) as exc:
        if args.debug:
            raise
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"{PROG}: error: {msg}", file=sys.stderr)
        return 1
    except Exception as exc:  # unexpected: still one line, with a hint
        if args.debug:
            raise
        print(
            f"{PROG}: error: unexpected {type(exc).__name__}: {exc} (rerun with --debug "
            "and report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
