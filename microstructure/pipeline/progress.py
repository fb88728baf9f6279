"""Progress of one pipeline stage: a callable the stage may call, shown as a nested bar.

The runner gives every stage a :class:`StageProgress` as ``ctx.progress``. It is truthy when
progress is shown (so ``disable=not ctx.progress`` keeps working) and callable::

    ctx.progress(0.25)                              # a fraction 0..1
    ctx.progress(3, total=12)                       # step 3 of 12 (absolute, not an increment)
    ctx.progress(3, total=12, message="slab 3/12")  # with a short status text
    ctx.progress(message="solving y")               # only the status text
    step = ctx.progress.counter(total=n_slices)     # a Callable[[int], None] adding n done
    step(1)                                         # (for library functions' ``progress=``)

A stage that never calls it still shows a heartbeat: the nested bar gives the stage's name
and the elapsed time, refreshed every second from a background thread, so a long stage is
never silent. The bar appears only after :data:`PROGRESS_DELAY_S` seconds (short stages stay
quiet) and is removed when the stage ends; the outer "stages" bar stays. Calls are cheap and
thread-safe (a stage may call from worker threads); the display is throttled.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["StageProgress", "PROGRESS_DELAY_S", "HEARTBEAT_S"]

#: seconds a stage runs before its nested progress bar (or heartbeat) appears
PROGRESS_DELAY_S = 1.0
#: seconds between two refreshes of the heartbeat (elapsed time) of a running stage
HEARTBEAT_S = 1.0
_MIN_REDRAW_S = 0.1

_BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}{postfix}"
_HEARTBEAT_FORMAT = "{desc}: running, {elapsed} elapsed{postfix}"


class StageProgress:
    """Progress reporter of one stage (``ctx.progress``): callable, truthy when shown.

    Parameters
    ----------
    enabled
        Show a bar (on a terminal; ``file`` decides where). A disabled reporter still records
        the last state (``fraction``, ``message``, ``calls``) and accepts every call.
    desc
        Name shown in front of the bar (the stage, e.g. ``"[6/11] cbd"``).
    file
        Stream of the bar (default ``sys.stderr``); a bar is drawn only when it is a terminal
        unless ``force_display``.
    force_display
        Draw even when ``file`` is not a terminal (tests, logs).
    delay_s, heartbeat_s
        Seconds before the bar appears, and between two heartbeat refreshes.
    """

    def __init__(
        self,
        enabled: bool = True,
        *,
        desc: str = "stage",
        file: TextIO | None = None,
        force_display: bool = False,
        delay_s: float = PROGRESS_DELAY_S,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self.enabled = bool(enabled)
        self.desc = desc
        self.file = file
        self.force_display = force_display
        self.delay_s = float(delay_s)
        self.heartbeat_s = float(heartbeat_s)
        self.done: float | None = None  #: last step (or fraction) reported
        self.total: float | None = None  #: last total (1.0 for fractions)
        self.message: str | None = None  #: last status text
        self.calls = 0  #: number of calls so far
        self.heartbeats = 0  #: number of heartbeat refreshes drawn
        self._lock = threading.Lock()
        self._bar: Any = None
        self._last_draw = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()

    def __bool__(self) -> bool:
        return self.enabled

    def __repr__(self) -> str:
        return f"StageProgress(enabled={self.enabled}, desc={self.desc!r})"

    @property
    def fraction(self) -> float | None:
        """The last reported fraction done (0..1), None before any step was reported."""
        if self.done is None or not self.total:
            return None
        return min(1.0, max(0.0, self.done / self.total))

    # ------------------------------------------------------------------ the stage's side
    def __call__(
        self, done: float | None = None, total: float | None = None, message: str | None = None
    ) -> None:
        """Report progress: ``done`` of ``total`` steps, or a fraction when ``total`` is None.

        Parameters
        ----------
        done
            Steps finished so far (absolute, not an increment), or with ``total=None`` the
            fraction done (0..1). ``None`` keeps the last value (only ``message`` changes).
        total
            Number of steps; ``None`` when ``done`` is a fraction.
        message
            Short status text shown after the bar (``None`` keeps the last one).

        Raises
        ------
        ValueError
            For a negative or non-finite ``done`` or a ``total`` that is not positive.
        """
        if done is not None:
            d = float(done)
            if not math.isfinite(d) or d < 0:
                raise ValueError(f"progress: done must be a finite number >= 0, got {done!r}")
            if total is None:
                t = 1.0
                d = min(d, 1.0)
            else:
                t = float(total)
                if not math.isfinite(t) or t <= 0:
                    raise ValueError(f"progress: total must be > 0, got {total!r}")
                d = min(d, t)
        with self._lock:
            self.calls += 1
            if done is not None:
                self.done, self.total = d, t
            if message is not None:
                self.message = str(message)
            self._draw(force=False)

    def counter(self, total: int, message: str | None = None) -> Callable[[int], None]:
        """A ``Callable[[int], None]`` that adds its argument to the steps done (of ``total``),
        for library functions taking ``progress=`` callbacks that report increments."""
        count = [0]
        lock = threading.Lock()

        def step(n: int = 1) -> None:
            with lock:
                count[0] += int(n)
                value = count[0]
            self(value, total=total, message=message)

        self(0, total=total, message=message)
        return step

    # ------------------------------------------------------------------ the runner's side
    def start(self) -> StageProgress:
        """Start the heartbeat thread (the runner calls it before the stage runs)."""
        self._started = time.monotonic()
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._beat, name="stage-progress", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop the heartbeat and remove the bar (the runner calls it when the stage ends)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def __enter__(self) -> StageProgress:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            with self._lock:
                if self._draw(force=True):
                    self.heartbeats += 1

    def _display_allowed(self) -> bool:
        if not self.enabled:
            return False
        if time.monotonic() - self._started < self.delay_s:
            return False
        if self.force_display:
            return True
        stream = self.file if self.file is not None else sys.stderr
        isatty = getattr(stream, "isatty", None)
        return bool(isatty and isatty())

    def _draw(self, *, force: bool) -> bool:
        """Create or update the bar (lock held); True when something was drawn."""
        if not self._display_allowed():
            return False
        now = time.monotonic()
        if not force and now - self._last_draw < _MIN_REDRAW_S:
            return False
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=None,
                desc=self.desc,
                file=self.file if self.file is not None else sys.stderr,
                leave=False,
                position=1,
                bar_format=_HEARTBEAT_FORMAT,
                mininterval=0.0,
                disable=False,
            )
            # the elapsed time counts from the stage's start, not from the bar's appearance
            self._bar.start_t = self._bar._time() - (now - self._started)
        bar = self._bar
        if self.done is not None and self.total:
            bar.bar_format = _BAR_FORMAT
            bar.total = self.total
            bar.n = self.done
        bar.set_postfix_str(self.message or "", refresh=False)
        bar.refresh()
        self._last_draw = now
        return True
