"""The ``correlate`` command: the correlative porosity report of one electrode.

``microstructure correlate CONFIG.toml --out DIR [--json]`` reads the config (gauge, He
pycnometry, MIP export, physisorption, FIB/SEM run folder; see
:mod:`microstructure.correlate.config`), makes one call of
:func:`microstructure.correlate.correlative_report` and writes ``DIR/report.json``,
``DIR/report.html`` and ``DIR/figures/*.png``.
"""

from __future__ import annotations

import argparse
from typing import Any

from microstructure.cli._common import _emit


def _pct(p: Any, u: Any) -> str:
    if p is None:
        return "n/a"
    return f"{100 * p:.1f} %" + ("" if u is None else f" +- {100 * u:.1f}")


def cmd_correlate(args: argparse.Namespace) -> int:
    from microstructure.correlate import correlative_report

    report = correlative_report(args.config, out_dir=args.out)
    data = report.to_dict()
    data["out"] = str(args.out)
    data["html"] = str(args.out / "report.html")
    lines = [f"{args.config}: correlative report of {report.sample.get('name', '')!s}"]
    for m in report.methods:
        lo, hi = m["pore_size_min_nm"], m["pore_size_max_nm"]
        rng = "" if lo is None else f", pores {lo:.3g}-{'...' if hi is None else f'{hi:.4g}'} nm"
        lines.append(f"  {m['method']}: {_pct(m['porosity'], m['porosity_uncertainty'])}{rng}")
    lines.append(f"  written to {args.out}/report.html and report.json")
    _emit(args, data, "\n".join(lines))
    return 0


def add_parsers(sub: Any) -> None:
    """Add the ``correlate`` command."""
    from pathlib import Path

    p = sub.add_parser(
        "correlate",
        help="correlative porosity report (gauge, pycnometry, MIP, physisorption, FIB/SEM)",
    )
    p.add_argument("config", metavar="CONFIG", help="correlative report TOML")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_correlate)
