"""The ``microstructure`` command (see the command-line contract in the architecture notes).

Every command prints human text by default and one JSON object with ``--json``. Errors go to
stderr as one line naming the file or parameter, with a non-zero exit; with ``--json`` the same
line is also printed on stdout as one JSON object ``{"error": "...", "exit_code": N}`` (usage
errors, failures and interrupts alike); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from microstructure import __version__
from microstructure.cli import cbd_calibrate, commands, correlate, mip, sorption
from microstructure.cli._common import JSON_ERRORS, PROG, CliError, _Parser, emit_error
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
    sorption.add_parsers(sub)
    correlate.add_parsers(sub)
    cbd_calibrate.add_parsers(sub)
    for extra in _EXTRA_COMMANDS:
        extra(sub)
    return parser


#: Later modules append functions (subparsers) -> None adding their commands.
_EXTRA_COMMANDS: list[Callable[[Any], None]] = []


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"{PROG}: warning: {message}", file=sys.stderr)


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""


#: packages whose Python code must not be interrupted by an exception: numba's compiler and
#: llvmlite's ctypes callbacks (an exception raised there is swallowed by the callback, or
#: leaves LLVM half-built and the process may crash, numba/numba#2324)
_DEFER_IN = ("numba", "llvmlite")
_REDELIVER_S = 0.05


def _in_compiler(frame: Any) -> bool:
    """True when ``frame`` or a caller belongs to :data:`_DEFER_IN`."""
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).split(".")[0] in _DEFER_IN:
            return True
        frame = frame.f_back
    return False


def _interrupt_handler(state: dict[str, Any]) -> Callable[[int, Any], None]:
    def handler(signum: int, frame: Any) -> None:
        if state.get("signal"):
            # already unwinding: let the cleanup (temporary files) finish; one more signal of
            # this kind then ends the process the default way
            signal.signal(signum, signal.SIG_DFL)
            return
        if _in_compiler(frame):
            # inside numba's compiler: deliver the signal again shortly, once out of it
            state["deferred"] = signum
            timer = threading.Timer(_REDELIVER_S, os.kill, (os.getpid(), signum))
            timer.daemon = True
            state["timer"] = timer
            timer.start()
            return
        state["signal"] = signum
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    return handler


def _install_handlers(state: dict[str, Any]) -> dict[int, Any]:
    """SIGINT and SIGTERM raise in the main thread; returns the previous handlers."""
    previous = {}
    handler = _interrupt_handler(state)
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread, or not allowed: keep the default
            pass
    return previous


def _interrupt_signal(exc: BaseException, state: dict[str, Any]) -> int | None:
    """The signal number when ``exc`` is (or wraps) an interrupt, else None.

    C extensions (numba, SciPy) may turn a ``KeyboardInterrupt`` raised inside them into a
    ``SystemError`` whose ``__context__``/``__cause__`` is the interrupt; once a signal has
    been received, any error is treated as the interrupt.
    """
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, Terminated):
            return int(signal.SIGTERM)
        if isinstance(e, KeyboardInterrupt):
            return int(state.get("signal") or signal.SIGINT)
        e = e.__cause__ or e.__context__
    return state.get("signal") or None


def _report_interrupt(signum: int) -> int:
    what = "interrupted"
    if signum != signal.SIGINT:
        what += f" ({signal.Signals(signum).name})"
    emit_error(what, exit_code=128 + int(signum), prefix=f"{PROG}: ")
    return 128 + int(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``microstructure`` console script.

    Exit codes: 0 success, 1 error (one line on stderr), 2 usage, 130 on SIGINT and 143 on
    SIGTERM (one line ``microstructure: interrupted``; every output file is written atomically,
    so none is left half-written).
    """
    words = list(sys.argv[1:] if argv is None else argv)
    token = JSON_ERRORS.set("--json" in words)
    try:
        parser = build_parser()
        args = parser.parse_args(words)
        if not getattr(args, "command", None):
            parser.print_help()
            return 2
        warnings.showwarning = _one_line_warning
        state: dict[str, Any] = {}
        previous = _install_handlers(state)
        try:
            code = _run(args, state)
            missed = state.get("signal") or state.get("deferred")
            if missed and code != 128 + int(missed):
                # a signal received while the command finished (deferred out of the compiler,
                # or swallowed by a C callback): the command still ends as interrupted
                state["signal"] = missed
                return _report_interrupt(int(missed))
            return code
        except KeyboardInterrupt:  # a signal whose handler ran only after _run returned
            return 128 + int(state.get("signal") or signal.SIGINT)
        finally:
            if state.get("timer") is not None:
                state["timer"].cancel()
            _restore_handlers(previous, state)
    finally:
        JSON_ERRORS.reset(token)


def _restore_handlers(previous: dict[int, Any], state: dict[str, Any]) -> None:
    """Put the previous handlers back; once a signal was received, a late duplicate delivered
    while restoring is ignored instead of escaping as an unhandled ``KeyboardInterrupt``
    (which would end the interpreter by SIGINT, exit -2, instead of 130)."""
    for sig, handler in previous.items():
        try:
            signal.signal(sig, handler)
        except KeyboardInterrupt:
            if not state.get("signal"):
                raise
            signal.signal(sig, handler)


def _run(args: argparse.Namespace, state: dict[str, Any]) -> int:
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt as exc:
        return _report_interrupt(_interrupt_signal(exc, state) or signal.SIGINT)
    except (CliError, ValueError, FileNotFoundError, OSError) as exc:
        signum = _interrupt_signal(exc, state)
        if signum:
            return _report_interrupt(signum)
        if args.debug:
            raise
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        emit_error(msg, exit_code=1)
        return 1
    except Exception as exc:  # unexpected: still one line, with a hint
        signum = _interrupt_signal(exc, state)
        if signum:
            return _report_interrupt(signum)
        if args.debug:
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        emit_error(
            f"unexpected {type(exc).__name__}: {first} (rerun with --debug and report it)",
            exit_code=1,
        )
        return 1
