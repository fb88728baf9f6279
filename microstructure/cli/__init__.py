"""The ``microstructure`` command (see the command-line contract in the architecture notes).

Every command prints human text by default and one JSON object with ``--json``. Errors go to
stderr as one line naming the file or parameter, with a non-zero exit; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from microstructure import __version__
from microstructure.cli import commands, mip
from microstructure.cli._common import PROG, CliError, _Parser
from microstructure.cli.commands import _phantom_params, open_viewer

__all__ = ["main", "build_parser", "CliError", "open_viewer"]
__all__ += ["_phantom_params"]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="FIB/SEM tomography of battery electrodes: porosity, simulated MIP, "
        "M-factors, DFN.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.add_stack_parsers(sub)
    commands.add_analysis_parsers(sub)
    mip.add_parsers(sub)
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
