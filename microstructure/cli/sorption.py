"""The ``bet``, ``tplot`` and ``bjh`` commands (gas physisorption isotherms).

Each command reads an isotherm (:func:`microstructure.physisorption.read_isotherm`), makes one
call of the analysis (:func:`~microstructure.physisorption.bet`,
:func:`~microstructure.physisorption.tplot`, :func:`~microstructure.physisorption.bjh`) and
prints text or one JSON object; ``--out`` writes a figure (``.png``/``.svg``/``.pdf``) or, for
``bjh``, the distribution as CSV.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from microstructure.cli._common import CliError, _emit


def _range(text: str | None, option: str) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise CliError(f"{option}: expected two numbers A,B, got {text!r}") from None
    if not lo < hi:
        raise CliError(f"{option}: expected A < B, got {text!r}")
    return lo, hi


def _read(args: argparse.Namespace) -> Any:
    from microstructure.physisorption import read_isotherm

    return read_isotherm(args.isotherm, manufacturer=args.manufacturer, fmt=args.fmt)


def _header(iso: Any) -> dict[str, Any]:
    return {
        "path": str(iso.source),
        "material": iso.material,
        "adsorbate": iso.adsorbate,
        "sample_mass_g": iso.sample_mass_g,
    }


def _figure_path(args: argparse.Namespace) -> Path | None:
    if not args.out:
        return None
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise CliError(f"--out: expected a .png, .svg or .pdf figure, got {args.out!r}")
    return out


def _save(draw: Any, out: Path) -> str:
    from microstructure.plot import new_figure, save_figure

    fig = new_figure(figsize=(5.5, 4.2))
    draw(fig.add_subplot(1, 1, 1))
    fig.tight_layout()
    return str(save_figure(fig, out))


def _flags(result: Any) -> list[str]:
    return [f"  warning: {f}" for f in result.quality.get("flags", [])]


def cmd_bet(args: argparse.Namespace) -> int:
    from microstructure.physisorption import bet
    from microstructure.physisorption.plotting import bet_axes

    out = _figure_path(args)
    iso = _read(args)
    result = bet(
        iso,
        p_over_p0_range=_range(args.p_over_p0_range, "--p-over-p0-range"),
        cross_section_nm2=args.cross_section_nm2,
    )
    data = {**result.summary(), **_header(iso)}
    if "bet_area_m2_per_g" in iso.stated:
        data["stated_bet_area_m2_per_g"] = iso.stated["bet_area_m2_per_g"]
    if out:
        data["figure"] = _save(lambda ax: bet_axes(result, ax), out)
    lo, hi = result.p_over_p0_range
    lines = [
        f"{iso.name}: BET ({iso.adsorbate}, {result.cross_section_nm2:g} nm2)",
        f"  area {result.bet_area_m2_per_g:.4g} m2/g, C {result.c_constant:.4g}, "
        f"monolayer {result.monolayer_cm3_per_g:.4g} cm3(STP)/g "
        f"({result.monolayer_mmol_per_g:.4g} mmol/g)",
        f"  p/p0 {lo:.3f}-{hi:.3f} ({result.n_points} points, {result.window}), r2 {result.r2:.5f}",
        *_flags(result),
    ]
    if "stated_bet_area_m2_per_g" in data:
        lines.append(f"  the instrument report states {data['stated_bet_area_m2_per_g']:.4g} m2/g")
    _emit(args, data, "\n".join(lines))
    return 0


def cmd_tplot(args: argparse.Namespace) -> int:
    from microstructure.physisorption import tplot
    from microstructure.physisorption.plotting import tplot_axes

    out = _figure_path(args)
    iso = _read(args)
    result = tplot(
        iso,
        thickness=args.thickness,
        p_over_p0_range=_range(args.p_over_p0_range, "--p-over-p0-range"),
    )
    data = {**result.summary(), **_header(iso)}
    for key in ("external_area_m2_per_g", "micropore_area_m2_per_g", "micropore_volume_cm3_per_g"):
        if key in iso.stated:
            data[f"stated_{key}"] = iso.stated[key]
    if out:
        data["figure"] = _save(lambda ax: tplot_axes(result, ax), out)
    lo, hi = result.t_range_nm
    lines = [
        f"{iso.name}: t-plot ({result.thickness})",
        f"  external area {result.external_area_m2_per_g:.4g} m2/g, micropore area "
        f"{result.micropore_area_m2_per_g:.4g} m2/g (BET {result.bet_area_m2_per_g:.4g}), "
        f"micropore volume {result.micropore_volume_cm3_per_g:.4g} cm3/g",
        f"  t {lo:.3f}-{hi:.3f} nm ({result.n_points} points), r2 {result.r2:.5f}",
        *_flags(result),
    ]
    if "stated_external_area_m2_per_g" in data:
        lines.append(
            f"  the instrument report states external {data['stated_external_area_m2_per_g']:.4g}"
            " m2/g (with its own thickness curve)"
        )
    _emit(args, data, "\n".join(lines))
    return 0


def cmd_bjh(args: argparse.Namespace) -> int:
    from microstructure.physisorption import bjh, hysteresis
    from microstructure.physisorption.plotting import bjh_axes

    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in (".csv", ".png", ".svg", ".pdf"):
        raise CliError(f"--out: expected a .csv table or a .png/.svg/.pdf figure, got {args.out!r}")
    iso = _read(args)
    result = bjh(iso, branch=args.branch, thickness=args.thickness)
    loop = hysteresis(iso)
    data = {**result.summary(), **_header(iso), "hysteresis": loop.summary()}
    if out is not None and out.suffix.lower() == ".csv":
        from microstructure.io.tables import write_csv

        data["psd_csv"] = str(write_csv(out, result.columns()))
    elif out is not None:
        data["figure"] = _save(lambda ax: bjh_axes(result, ax), out)
    if not loop.found:
        loop_text = f"no hysteresis loop (isotherm type {loop.isotherm_type})"
    else:
        where = (
            f"closing at p/p0 {loop.closure_p_over_p0:.2f}"
            if loop.closed
            else f"still open at the lowest p/p0 {loop.closure_p_over_p0:.2f} (low-pressure "
            "hysteresis)"
        )
        loop_text = (
            f"{loop.iupac_type} hysteresis loop {where} (isotherm type {loop.isotherm_type})"
        )
    lines = [
        f"{iso.name}: BJH, {result.branch} branch ({result.thickness})",
        f"  D50 {result.bjh_d50_nm:.4g} nm, mode {result.mode_nm:.4g} nm, pore volume "
        f"{result.total_volume_cm3_per_g:.4g} cm3/g, pore area {result.total_area_m2_per_g:.4g} "
        "m2/g",
        f"  {loop_text}",
        *_flags(result),
    ]
    _emit(args, data, "\n".join(lines))
    return 0


def _add_reading(q: argparse.ArgumentParser) -> None:
    from microstructure.physisorption.reading import SUPPORTED_FORMATS

    q.add_argument("isotherm", metavar="ISOTHERM", help="isotherm file (instrument export or CSV)")
    q.add_argument(
        "--manufacturer",
        choices=sorted(SUPPORTED_FORMATS),
        help="instrument (default: from the extension and content)",
    )
    q.add_argument(
        "--format",
        dest="fmt",
        metavar="FMT",
        help="export format: xl, txt-raw, csv, dat, xls (default: detected)",
    )
    q.add_argument("--json", action="store_true", help="print one JSON object")


def add_parsers(sub: Any) -> None:
    """Add the ``bet``, ``tplot`` and ``bjh`` commands to the microstructure parser."""
    from microstructure.physisorption.thickness import DEFAULT_THICKNESS, THICKNESS_CURVES

    q = sub.add_parser("bet", help="BET surface area of a gas isotherm (Rouquerol window)")
    _add_reading(q)
    q.add_argument("--p-over-p0-range", metavar="A,B", help="fit window (default: Rouquerol)")
    q.add_argument("--cross-section-nm2", type=float, help="molecular area (default: adsorptive)")
    q.add_argument("--out", metavar="FIGURE", help="write the BET plot (.png/.svg/.pdf)")
    q.set_defaults(func=cmd_bet)

    q = sub.add_parser("tplot", help="t-plot: external and micropore area, micropore volume")
    _add_reading(q)
    q.add_argument(
        "--thickness",
        choices=sorted(THICKNESS_CURVES),
        default=DEFAULT_THICKNESS,
        help=f"thickness curve (default {DEFAULT_THICKNESS})",
    )
    q.add_argument("--p-over-p0-range", metavar="A,B", help="fit window (default: t 0.35-0.5 nm)")
    q.add_argument("--out", metavar="FIGURE", help="write the t-plot (.png/.svg/.pdf)")
    q.set_defaults(func=cmd_tplot)

    q = sub.add_parser("bjh", help="BJH pore size distribution and hysteresis loop")
    _add_reading(q)
    q.add_argument("--branch", choices=["desorption", "adsorption"], default="desorption")
    q.add_argument(
        "--thickness",
        choices=sorted(THICKNESS_CURVES),
        default=DEFAULT_THICKNESS,
        help=f"thickness curve (default {DEFAULT_THICKNESS})",
    )
    q.add_argument("--out", metavar="CSV|FIGURE", help="write the PSD as .csv or a figure")
    q.set_defaults(func=cmd_bjh)
