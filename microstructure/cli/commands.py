"""The stack, run, porosity, transport and viewer commands."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.cli._common import (
    CliError,
    _add_common,
    _emit,
    _parse_shape,
    _parse_size,
    _read_labels,
)


def _given(args: argparse.Namespace, **names: str) -> dict[str, Any]:
    """``{keyword: value}`` of the options the user gave (``names``: keyword -> option dest).

    Options left out are not passed, so the library function's own default applies (each
    default lives once, in the signature).
    """
    values = {kw: getattr(args, dest) for kw, dest in names.items()}
    return {kw: v for kw, v in values.items() if v is not None}


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
    inst = vol.metadata.get("instrument")
    info["instrument"] = inst
    lines = [
        f"{info['path']} ({info['format']})",
        f"  shape (z, y, x): {tuple(info['shape'])}  dtype {info['dtype']}  {info['size_mb']} MB",
        f"  values: min {info['min']:g}  max {info['max']:g}  mean {info['mean']:.4g}",
    ]
    if vol.voxel_size_nm:
        vs = ", ".join(f"{v:g}" for v in vol.voxel_size_nm)
        ps = " x ".join(f"{v:.3g}" for v in info["physical_size_um"])
        lines.append(f"  voxel size (z, y, x): {vs} nm ({info['voxel_size_origin']}); {ps} um")
    elif "pixel_size_nm" in vol.metadata:
        y, x = vol.metadata["pixel_size_nm"]
        lines.append(
            f"  voxel size: z unknown; y, x = {y:g}, {x:g} nm from the instrument "
            f"(pass --voxel-size-nm Z,{y:g},{x:g})"
        )
    else:
        lines.append("  voxel size: unknown (not in metadata; pass --voxel-size-nm)")
    lines.append(f"  kind: {info['kind']}")
    if inst:
        from microstructure.io.instrument import instrument_summary

        lines.extend("  " + line for line in instrument_summary(inst))
    else:
        lines.append("  instrument: no Thermo/FEI, Zeiss or Tescan metadata found")
    if "phase_fractions" in info:
        fr = "  ".join(f"{k} {v * 100:.2f} %" for k, v in info["phase_fractions"].items())
        lines.append(f"  phases: {fr}")
    _emit(args, info, "\n".join(lines))
    return 0


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
    if args.seed is not None:  # else the parameter file's seed, else the generator's default
        kwargs["seed"] = args.seed
    if args.preset is not None:
        if args.params:
            raise CliError("--preset: give either --preset or --params, not both")
        kwargs["preset"] = args.preset
    if args.shape:
        kwargs["shape"] = _parse_shape(args.shape)
    if args.voxel_size_nm:
        from microstructure.volume import parse_voxel_size

        kwargs["voxel_size_nm"] = parse_voxel_size(args.voxel_size_nm, name="--voxel-size-nm")
    out = Path(args.out_dir)
    if out.exists() and not out.is_dir():
        raise CliError(f"{out}: exists and is not a folder")
    ph = generate_phantom(**kwargs)  # validated (and sized against free memory) first
    out.mkdir(parents=True, exist_ok=True)
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


def _log_line(line: str) -> None:
    """Print a log line on stdout without garbling the progress bars on stderr (they are
    cleared, the line printed, and the bars redrawn: ``tqdm.write``)."""
    from tqdm.auto import tqdm

    tqdm.write(line, file=sys.stdout)
    sys.stdout.flush()


def cmd_workflow(args: argparse.Namespace) -> int:
    from microstructure.workflows.seed003 import run_seed003

    log = None if args.json else _log_line
    report = run_seed003(args.config, args.out, log=log, progress=not args.no_progress)
    text = f"finished: report in {Path(args.out) / 'report.json'}"
    _emit(args, report, text)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from microstructure.parallel import dask_scheduler
    from microstructure.pipeline import load_recipe, run_pipeline
    from microstructure.pipeline.phantom_input import prepare_phantom
    from microstructure.pipeline.run_folder import run_folder_lock
    from microstructure.pipeline.runner import check_chunked_phantom

    log = None if args.json else _log_line
    recipe = load_recipe(args.recipe)
    source = args.input
    if args.phantom_shape and recipe.phantom is None:
        raise CliError(f"--phantom-shape: {args.recipe} has no [phantom] section")
    extra: dict[str, Any] = {}
    if args.zarr_threshold is not None:
        extra["zarr_threshold_bytes"] = _parse_size(args.zarr_threshold, "--zarr-threshold")
    with contextlib.ExitStack() as held:
        if source is None:
            if recipe.phantom is None:
                raise CliError(
                    f"{args.recipe}: give --input STACK (the recipe has no [phantom] section "
                    "that would generate its input)"
                )
            try:
                shape = _parse_shape(args.phantom_shape) if args.phantom_shape else None
            except CliError as exc:  # the parser names --shape (the phantom command's option)
                raise CliError(str(exc).replace("--shape", "--phantom-shape", 1)) from None
            # what cannot run chunked is refused before the phantom is generated
            check_chunked_phantom(recipe, shape=shape, **extra)
            # the phantom is part of the run: generated under the run folder's lock
            Path(args.out).mkdir(parents=True, exist_ok=True)
            held.enter_context(run_folder_lock(args.out))
            source = prepare_phantom(recipe.phantom, args.out, shape=shape, log=log)
        elif recipe.phantom is not None and log is not None:
            log(f"--input given: the recipe's [phantom] section is not used ({args.input})")
        with dask_scheduler(
            args.scheduler, workers=args.workers, memory_limit=args.memory_limit
        ) as client:
            if client is not None and log is not None:
                log(
                    f"dask: {len(client.scheduler_info()['workers'])} worker(s), dashboard at "
                    f"{client.dashboard_link}"
                )
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
    from microstructure.pipeline.summary import summary_lines

    seconds = sum(float(st.get("seconds") or 0.0) for st in report["stages"])
    computed = sum(st.get("status") == "computed" for st in report["stages"])
    text = "\n".join(
        [
            f"finished: {len(report['stages'])} stage(s), {computed} computed in "
            f"{seconds:.1f} s; numbers in {Path(args.out) / 'report.json'}",
            *summary_lines(report, out_dir=args.out),
        ]
    )
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
    options = _given(
        args,
        faces="faces",
        thickness_axis="thickness_axis",
        top_at="top_at",
        cbd_nanoporosity="cbd_nanoporosity",
        surface_method="surface_method",
    )
    report = porosity_report(
        labels,
        voxel_size_nm=vol.voxel_size_nm,
        densities_g_per_cm3=densities,
        surface=not args.no_surface,
        **options,
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


def _signature_default(func: Any, name: str) -> Any:
    """The default of keyword ``name`` in ``func``'s signature."""
    import inspect

    return inspect.signature(func).parameters[name].default


def cmd_mfactor(args: argparse.Namespace) -> int:
    from microstructure.transport import m_factor
    from microstructure.volume import Phase

    labels, vs = _read_labels(args, "the M-factor")
    options: dict[str, Any] = {}
    if args.phases is not None:
        options["phases"] = tuple(int(p) for p in str(args.phases).split(",") if p.strip())
    phases = options.get("phases", _signature_default(m_factor, "phases"))
    results = {}
    lines = [f"{args.labels_file}: M-factor of phases {tuple(phases)}"]
    for axis in args.axis.split(","):
        res = m_factor(
            labels,
            voxel_size_nm=vs,
            axis=axis.strip(),
            relative_diffusivity=None
            if args.cbd_relative_diffusivity is None
            else {int(Phase.CBD): args.cbd_relative_diffusivity},
            **options,
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
    if args.action == "validate":
        return cmd_dfn_validate(args)
    missing = [
        opt
        for opt, value in (
            ("--preset", args.preset),
            ("--c-rate", args.c_rate),
            ("--transport", args.transport),
        )
        if value is None
    ]
    if missing:
        args.dfn_parser.error(f"the following arguments are required: {', '.join(missing)}")
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


def cmd_dfn_validate(args: argparse.Namespace) -> int:
    """``dfn validate``: the validation tables of docs/validation_dfn.md (and the figure)."""
    from microstructure.transport.dfn.validation import validation_figure, validation_tables

    sections = []
    for i, (title, rows, table) in enumerate(validation_tables(quick=args.quick)):
        sections.append({"title": title, "rows": rows})
        if not args.json:
            print(("\n" if i else "") + f"## {title}\n", flush=True)
            print(table, flush=True)
    data: dict[str, Any] = {"sections": sections}
    if args.figure:
        data["figure"] = validation_figure(args.figure)
        if not args.json:
            print(f"\nfigure: {args.figure}")
    if args.json:
        _emit(args, data, "")
    return 0


def open_viewer(path: str | None, *, show: bool = True) -> tuple[Any, Any, Any]:
    """A napari viewer with ``path`` opened by our reader, the stage runner and the MIP dock
    (see :func:`microstructure.napari.viewer.open_viewer`).

    Raises
    ------
    CliError
        When napari (the ``napari`` extra) is not installed.
    """
    try:
        from microstructure.napari.viewer import open_viewer as _open_viewer

        return _open_viewer(path, show=show)
    except ImportError:
        raise CliError(
            "napari is not installed: pip install 'microstructure[napari]' to use view"
        ) from None


def cmd_view(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    open_viewer(str(path))
    import napari

    napari.run()
    return 0


def add_stack_parsers(sub: Any) -> None:
    """Add ``info``, ``phantom``, ``run`` and ``workflow`` to the subparsers ``sub``."""
    p = sub.add_parser("info", help="describe a stack: shape, dtype, voxel size, phases")
    p.add_argument("stack", help="TIFF, folder of TIFF slices, .npy or .zarr")
    _add_common(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("phantom", help="write a synthetic FIB/SEM stack with ground truth")
    p.add_argument("out_dir", help="output folder (fibsem.tif, truth_labels.tif, truth.json)")
    p.add_argument("--shape", metavar="Z,Y,X", help="volume shape in voxels")
    p.add_argument("--seed", type=int, help="random seed (same seed, same files; default 0)")
    p.add_argument(
        "--preset",
        help="acquisition model: default (clean rendering, the bundled sample) or realistic "
        "(shine-through, rim brightening, shading, band-limited noise, dense tilted curtains, "
        "charging, slice jitter, drift with jumps; calibrated on real images)",
    )
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
    p.add_argument(
        "--force",
        action="store_true",
        help="recompute cached stages and remove stage folders not in this recipe",
    )
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


def add_analysis_parsers(sub: Any) -> None:
    """Add ``porosity``, ``composition``, ``mfactor``, ``dfn`` and ``view`` to ``sub``."""
    p = sub.add_parser("porosity", help="porosity metrics of a labels volume")
    p.add_argument("labels_file", metavar="LABELS", help="labels volume")
    # defaults: porosity_report's own (the options left out are not passed)
    p.add_argument("--faces", help="faces that count as open (default all)")
    p.add_argument("--thickness-axis", choices=["z", "y", "x"], help="default y")
    p.add_argument("--top-at", type=int, choices=[0, -1], help="default 0")
    p.add_argument("--densities", metavar="PHASE=G_PER_CM3", help="e.g. am=4.76,cbd=1.935")
    p.add_argument(
        "--cbd-nanoporosity", type=float, help="unresolved CBD porosity (0..1; default 0)"
    )
    p.add_argument(
        "--surface-method",
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

    p = sub.add_parser("mfactor", help="M-factor and tortuosity factor from the image")
    p.add_argument("labels_file", metavar="LABELS", help="labels volume")
    p.add_argument("--axis", required=True, help="z, y or x (or a list: z,y,x)")
    p.add_argument(
        "--phases",
        help="transporting labels, e.g. 0,3 (default: the pore phases, pore and CBD pore)",
    )
    p.add_argument(
        "--cbd-relative-diffusivity",
        type=float,
        help="D_cbd / D of the CBD solid (label 2) when its unresolved nanopores conduct",
    )
    _add_common(p)
    p.set_defaults(func=cmd_mfactor)

    from microstructure.transport.dfn.simulate import TRANSPORT_MODES

    p = sub.add_parser(
        "dfn",
        help="discharge a half cell with a (hierarchical) DFN model; "
        "'dfn validate' prints the validation tables",
    )
    p.add_argument(
        "action",
        nargs="?",
        default="simulate",
        choices=["simulate", "validate"],
        help="simulate one discharge (default; needs --preset, --c-rate, --transport) or "
        "validate: the tables of docs/validation_dfn.md",
    )
    p.add_argument("--preset", help="electrode preset, e.g. cal-3 (simulate)")
    p.add_argument("--c-rate", type=float, help="discharge rate, 1/h (simulate)")
    p.add_argument("--transport", choices=list(TRANSPORT_MODES), help="(simulate)")
    p.add_argument("--out", metavar="CSV", help="write the discharge curve CSV")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the on-disk cache of compiled DFN models "
        "(~/.cache/microstructure/dfn or $MICROSTRUCTURE_CACHE_DIR/dfn; also "
        "MICROSTRUCTURE_DFN_CACHE=0)",
    )
    p.add_argument("--quick", action="store_true", help="validate: skip the mesh convergence")
    p.add_argument("--figure", metavar="PNG", help="validate: also write the discharge figure")
    p.set_defaults(func=cmd_dfn, dfn_parser=p)

    p = sub.add_parser("view", help="open a stack or a run folder in napari")
    p.add_argument("path", metavar="PATH", help="stack, labels volume or run folder")
    p.set_defaults(func=cmd_view)
