"""Headless Chromium screenshots of report pages, shared by the report tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def chromium() -> str | None:
    """The Chromium executable, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(
    page: Path, png: Path, *, width: int, height: int, hide_scrollbars: bool = False
) -> subprocess.CompletedProcess:
    """Render ``page`` headless into ``png`` at ``width`` x ``height`` px (a private profile
    beside ``png``, no network)."""
    args = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        *(["--hide-scrollbars"] if hide_scrollbars else []),
        f"--user-data-dir={png.parent / 'profile'}",
        f"--screenshot={png}",
        f"--window-size={width},{height}",
        page.as_uri(),
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)
