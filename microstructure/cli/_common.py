"""Shared pieces of the command layer: one-line errors, JSON/text output, common options."""

from __future__ import annotations

import argparse
import contextvars
import json
import sys
from typing import Any, NoReturn

import numpy as np

PROG = "microstructure"


class CliError(Exception):
    """An error with a one-line message for the user."""


#: True while a command line that asked for ``--json`` is parsed and run: errors (usage errors
#: included) are then also printed as one JSON object ``{"error": "..."}`` on stdout
JSON_ERRORS: contextvars.ContextVar[bool] = contextvars.ContextVar("json_errors", default=False)


def emit_error(
    message: str, *, exit_code: int, prefix: str = f"{PROG}: error: ", as_json: bool | None = None
) -> None:
    """Print an error: one line on stderr and, with ``--json``, one JSON object on stdout.

    Parameters
    ----------
    message
        What went wrong, naming the file or parameter (only its first line is printed).
    exit_code
        The exit code that follows (in the JSON object as ``"exit_code"``).
    prefix
        Put before ``message`` on stderr (``"microstructure: error: "``).
    as_json
        Also print ``{"error": message, "exit_code": exit_code}`` on stdout; default: whether
        the command line asked for ``--json`` (:data:`JSON_ERRORS`).
    """
    line = message.splitlines()[0] if message else "error"
    print(f"{prefix}{line}", file=sys.stderr, flush=True)
    if JSON_ERRORS.get() if as_json is None else as_json:
        print(json.dumps({"error": line, "exit_code": int(exit_code)}), flush=True)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line instead of usage + message
        emit_error(f"{message} (see --help)", exit_code=2, prefix=f"{self.prog}: error: ")
        self.exit(2)


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


def _parse_shape(text: str) -> tuple[int, int, int]:
    try:
        vals = [int(v) for v in text.split(",")]
    except ValueError:
        raise CliError(f"--shape: expected Z,Y,X integers, got {text!r}") from None
    if len(vals) != 3 or min(vals) < 1:
        raise CliError(f"--shape: expected three positive integers Z,Y,X, got {text!r}")
    return (vals[0], vals[1], vals[2])


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


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (``--chunks 0`` is an error, not "in memory")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _add_reading_options(q: argparse.ArgumentParser) -> None:
    """Options for reading a raw measured MIP export (besides --pressure-unit)."""
    from microstructure.porosimetry.measured import VOLUME_UNITS

    q.add_argument("--volume-unit", choices=sorted(VOLUME_UNITS))
    q.add_argument("--sample-mass-g", type=float, help="sample mass for absolute volumes")
    q.add_argument("--min-pressure-mpa", type=float, help="lower end of the pressure window")
    q.add_argument("--max-pressure-mpa", type=float, help="upper end of the pressure window")
    q.add_argument(
        "--bulk-density-g-per-cm3", type=float, help="sample bulk density (intruded fraction)"
    )


def _add_chunk_args(p: argparse.ArgumentParser) -> None:
    """Options of the chunked (Dask + Zarr) path of a porosimetry command."""
    p.add_argument(
        "--chunks",
        type=_positive_int,
        help="run chunk by chunk (Dask + Zarr) with chunks of this size (voxels, >= 1)",
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
    """Washburn options; defaults from :mod:`microstructure.porosimetry.washburn`."""
    from microstructure.porosimetry.washburn import CONTACT_ANGLE_DEG, SURFACE_TENSION_N_PER_M

    p.add_argument(
        "--contact-angle-deg",
        type=float,
        default=CONTACT_ANGLE_DEG,
        help=f"Hg contact angle in deg (default {CONTACT_ANGLE_DEG:g})",
    )
    p.add_argument(
        "--surface-tension-n-per-m",
        type=float,
        default=SURFACE_TENSION_N_PER_M,
        help=f"Hg surface tension in N/m (default {SURFACE_TENSION_N_PER_M:g})",
    )
