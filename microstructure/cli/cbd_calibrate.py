"""``microstructure cbd calibrate LABELS MEASURED --out DIR``: fit the CBD model to a measured
mercury intrusion curve (:func:`microstructure.cbd.calibrate.calibrate_cbd`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from microstructure.cli._common import CliError


def _pairs(text: str | None, name: str) -> dict[str, tuple[float, float]]:
    """``"cbd_porosity=0.45:0.55,nanopore_mean_nm=60:250"`` -> bounds."""
    out: dict[str, tuple[float, float]] = {}
    if not text:
        return out
    for item in text.split(","):
        key, _, rng = item.partition("=")
        lo, _, hi = rng.partition(":")
        try:
            out[key.strip()] = (float(lo), float(hi))
        except ValueError:
            raise CliError(f"{name}: expected NAME=LOW:HIGH, got {item!r}") from None
    return out


def _run(args: Any) -> int:
    from microstructure.cbd.calibrate import DEFAULT_FREE
    from microstructure.io import read_volume
    from microstructure.porosimetry.measured import load_mip_curve

    out = Path(args.out)
    vol = read_volume(args.labels, voxel_size_nm=args.voxel_size_nm)
    vs = vol.voxel_size_nm
    if vs is None:
        raise CliError(f"{args.labels}: no voxel size in the file; give --voxel-size-nm")
    measured = load_mip_curve(args.measured)
    free = tuple(f.strip() for f in args.free.split(",")) if args.free else DEFAULT_FREE

    def tick(n: int, best: float) -> None:
        if not args.json:
            print(f"  simulation {n}: best objective {best:.4f}", file=sys.stderr, flush=True)

    try:
        res = _calibrate(args, vol, vs, measured, free, tick)
    except ValueError as exc:
        raise CliError(f"cbd calibrate ({args.labels}, {args.measured}): {exc}") from None
    _write(args, out, res)
    return 0


def _calibrate(args: Any, vol: Any, vs: Any, measured: Any, free: Any, tick: Any) -> Any:
    import numpy as np

    from microstructure.cbd.calibrate import calibrate_cbd

    return calibrate_cbd(
        np.asarray(vol.data),
        measured,
        voxel_size_nm=vs,
        cbd_to_am_volume_ratio=args.cbd_to_am_volume_ratio,
        free=free,
        bounds=_pairs(args.bounds, "--bounds"),
        distribution=args.distribution,
        inlet=args.inlet,
        max_evaluations=args.max_evaluations,
        global_samples=args.global_samples,
        max_voxels=args.max_voxels,
        **({} if args.psd_weight is None else {"psd_weight": args.psd_weight}),
        d50_weight=args.d50_weight,
        whole_steps=args.whole_steps,
        seed=args.seed,
        progress=tick,
    )


def _write(args: Any, out: Path, res: Any) -> None:
    from microstructure.cbd.calibrate import calibration_figure
    from microstructure.io.tables import to_jsonable, write_csv, write_json
    from microstructure.plot import save_figure

    out.mkdir(parents=True, exist_ok=True)
    numbers = res.to_dict()
    numbers["labels"] = str(args.labels)
    numbers["measured"] = str(args.measured)
    write_json(out / "calibration.json", numbers)
    m = res.misfit
    write_csv(
        out / "calibration_curves.csv",
        {
            "diameter_nm": m["diameter_nm"],
            "measured_fraction": m["measured"],
            "fitted_fraction": m["simulated"],
        },
    )
    save_figure(calibration_figure(res), out / "calibration_overlay.png")
    if args.json:
        print(json.dumps(to_jsonable(numbers)))
    else:
        for name in res.free:
            v = res.sensitivity[name]
            sens = f"sensitivity +- {v:.2g}" if v < float("inf") else "not determined"
            print(f"{name}: {res.parameters[name]:.4g} ({sens})")
        print(
            f"misfit: max {m['max_abs']:.4f}, RMS {m['rms']:.4f}, area "
            f"{m['area_decades']:.4f} decades, PSD {m['psd_difference']:.3f}, D50 "
            f"{m['d50_simulated_nm']:.4g} vs {m['d50_measured_nm']:.4g} nm; two realisations "
            f"differ by {res.realisation_misfit['max_abs']:.4f}; {res.evaluations} "
            f"simulations in {res.seconds:.0f} s -> {out}"
        )
        for flag in numbers["quality"]["flags"]:
            print(f"  quality: {flag}")


def add_parsers(sub: Any) -> None:
    """Add this module's subcommands to the microstructure parser."""
    p = sub.add_parser("cbd", help="carbon-binder domain tools")
    csub = p.add_subparsers(dest="cbd_command", required=True)
    c = csub.add_parser(
        "calibrate",
        help="fit the CBD model (void size, CBD porosity, nanopore diameters, contact angle) "
        "to a measured MIP curve: Latin hypercube + bounded Nelder-Mead, common random "
        "numbers; writes calibration.json, calibration_curves.csv, calibration_overlay.png",
    )
    c.add_argument("labels", help="AM/pore labels volume (e.g. the segment stage's volume.tif)")
    c.add_argument("measured", help="measured MIP curve (curve CSV or instrument export)")
    c.add_argument("--out", required=True, help="output folder")
    c.add_argument(
        "--cbd-to-am-volume-ratio",
        type=float,
        default=11.46 / 88.54,
        help="solid CBD / AM volume from the recipe (default Table 1 of "
        "doi:10.3390/batteries7040070: 11.46/88.54)",
    )
    c.add_argument("--free", default=None, help="comma-separated parameters to fit")
    c.add_argument("--bounds", default=None, help="NAME=LOW:HIGH,... e.g. cbd_porosity=0.45:0.55")
    c.add_argument("--distribution", default="contact", choices=("contact", "random", "surface"))
    c.add_argument("--inlet", default="all-but-bottom", help="mercury inlet faces")
    c.add_argument(
        "--max-evaluations",
        type=int,
        default=80,
        help="simulations of the local stage; with the void or angle free, half again for "
        "their profile and about the same for the gas scan",
    )
    c.add_argument(
        "--global-samples",
        type=int,
        default=None,
        help="Latin hypercube points of the global stage (default 10 per free parameter)",
    )
    c.add_argument(
        "--max-voxels",
        type=int,
        default=None,
        help="search on a crop of at most this many voxels (whole thickness, pore fraction "
        "closest to the whole volume's); the "
        "fitted values are then simulated once on the whole volume",
    )
    c.add_argument(
        "--psd-weight",
        type=float,
        default=None,
        help="weight of the PSD term (volume in other 0.1-decade bins) beside the area "
        "between the cumulative curves (default: DEFAULT_PSD_WEIGHT of "
        "microstructure.cbd.calibrate, 0.5)",
    )
    c.add_argument(
        "--d50-weight",
        type=float,
        default=0.0,
        help="weight of the D50 term (|log10| of the ratio of the simulated and measured D50 "
        "in the resolved range) beside the shape terms (default 0: the shape alone)",
    )
    c.add_argument(
        "--whole-steps",
        type=int,
        default=0,
        help="with --max-voxels and --d50-weight: whole-volume simulations that re-fit one "
        "parameter (CBD porosity, else nanopore mean, else void) to the D50 (default 0)",
    )
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--voxel-size-nm", type=float, default=None)
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.set_defaults(func=_run)
