"""The protective cap at the top of FIB/SEM slices, found so the destriper can leave it out.

In slice-and-view the region of interest lies under a deposited (Pt) cap, often with lines
milled into it; the slices then show a bright band at the top whose lower edge (the
cap/sample interface) is the strongest horizontal edge of the field, and whose milled marks
are vertical lines that do not belong to the sample's curtains. Estimating the curtains
across that interface makes the column statistics mix two materials (and the marks), so
the destriper removes more than it should below the cap. The cap is detected on the row
means of a few sample slices: per slice, the row where the mean of the ``CAP_STEP_ROWS``
rows above exceeds the mean of those below the most, within the top ``CAP_MAX_FRACTION`` of
the field (the topmost step of at least ``CAP_TOPMOST_FRACTION`` of the strongest); a cap
is accepted when, on at least ``CAP_MIN_SLICES`` of the sample slices, that
step is ``CAP_STEP_FACTOR`` times the largest such step further down and the band above is
brighter than ``CAP_BRIGHT_QUANTILE`` of the row means below. The destriper then works on
the rows below the lowest interface found (plus ``CAP_MARGIN_ROWS``) and leaves the rows
above untouched.

References
----------
Beuse, T. et al. (2021). Batteries 7, 70 (the FIB/SEM slice-and-view geometry: cap,
trench, curtains). doi:10.3390/batteries7040070
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CAP_STEP_ROWS",
    "CAP_MAX_FRACTION",
    "CAP_TOPMOST_FRACTION",
    "CAP_STEP_FACTOR",
    "CAP_BRIGHT_QUANTILE",
    "CAP_MIN_SLICES",
    "CAP_MARGIN_ROWS",
    "detect_cap_rows",
]

#: rows averaged on each side of a candidate interface
CAP_STEP_ROWS = 4
#: the interface is searched in this top fraction of the rows
CAP_MAX_FRACTION = 0.5
#: per slice the topmost step of at least this fraction of the strongest is the interface
CAP_TOPMOST_FRACTION = 0.6
#: the interface step must exceed the largest step below it by this factor
CAP_STEP_FACTOR = 1.25
#: the band above must be brighter than this quantile of the row means below
CAP_BRIGHT_QUANTILE = 0.75
#: fraction of the sample slices that must show the cap
CAP_MIN_SLICES = 0.75
#: rows added below the lowest interface found (its blur and the drift between samples)
CAP_MARGIN_ROWS = 2


def _steps(profile: np.ndarray, k: int) -> np.ndarray:
    """``mean(profile[r - k:r]) - mean(profile[r:r + k])`` for ``r = k .. n - k``."""
    c = np.concatenate([[0.0], np.cumsum(profile, dtype=np.float64)])
    r = np.arange(k, profile.shape[0] - k + 1)
    return ((c[r] - c[r - k]) - (c[r + k] - c[r])) / k


def detect_cap_rows(slices: np.ndarray) -> int:
    """Rows at the top of (n, y, x) sample slices covered by a protective cap (0: none).

    Parameters
    ----------
    slices
        A few slices of the stack (vertical-curtain orientation: the cap at the top).

    Returns
    -------
    int
        The lowest cap/sample interface row over the slices plus ``CAP_MARGIN_ROWS``, or 0
        when fewer than ``CAP_MIN_SLICES`` of them show a cap.
    """
    arr = np.asarray(slices, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    n, ny, _ = arr.shape
    k = CAP_STEP_ROWS
    top = int(ny * CAP_MAX_FRACTION)
    if top < 2 * k + 2 or ny < 6 * k:
        return 0
    rows: list[int] = []
    for prof in arr.mean(axis=2):
        st = _steps(prof, k)  # index i <-> interface row i + k
        head = st[: top - k]
        # the topmost step nearly as strong as the strongest (a large particle below the
        # cap can make a step of its own further down)
        i = int(np.flatnonzero(head >= CAP_TOPMOST_FRACTION * head.max())[0])
        while i + 1 < head.size and head[i + 1] > head[i]:
            i += 1
        r = i + k
        below_steps = np.abs(st[r + k :])
        if below_steps.size == 0:
            continue
        strong = head[i] > CAP_STEP_FACTOR * float(below_steps.max())
        bright = prof[:r].mean() > np.quantile(prof[r + k :], CAP_BRIGHT_QUANTILE)
        if strong and bright:
            rows.append(r)
    if len(rows) < CAP_MIN_SLICES * n:
        return 0
    return int(min(ny // 2, max(rows) + CAP_MARGIN_ROWS))
