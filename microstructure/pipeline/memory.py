"""Peak memory of a block of work, measured by sampling the process's resident set size.

Sampling ``/proc/self/statm`` from a background thread sees every allocation (numpy, numba,
C libraries), unlike ``tracemalloc``; the figure is the peak RSS of the whole process during the
block, so it includes what was resident before (reported separately as ``baseline``).
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from types import TracebackType

__all__ = ["PeakMemory", "current_rss_bytes"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_bytes() -> int:
    """Resident set size of this process in bytes (0 where it cannot be read)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return ru if sys.platform == "darwin" else ru * 1024


class PeakMemory:
    """Context manager: ``with PeakMemory() as pm: ...; pm.peak_bytes, pm.baseline_bytes``."""

    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self.baseline_bytes = 0
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            rss = current_rss_bytes()
            if rss > self.peak_bytes:
                self.peak_bytes = rss
            time.sleep(self.interval_s)

    def __enter__(self) -> PeakMemory:
        self.baseline_bytes = current_rss_bytes()
        self.peak_bytes = self.baseline_bytes
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_bytes = max(self.peak_bytes, current_rss_bytes())

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20

    @property
    def added_mb(self) -> float:
        """Peak above the resident size at entry."""
        return max(0, self.peak_bytes - self.baseline_bytes) / 2**20
