"""Headless napari: a virtual X display (Xvfb) when one can be started, else Qt offscreen.

Image layers in a real ``napari.Viewer`` need an OpenGL context, which Qt's ``offscreen``
platform does not give; Xvfb (``apt-get install xvfb``) does. When no display is set and
``Xvfb`` is on the PATH, this starts one for the test session (and stops it at exit) and uses
Qt's ``xcb`` platform; otherwise Qt renders offscreen and the tests that need OpenGL skip.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover
        proc.kill()


def _start_xvfb() -> subprocess.Popen | None:
    if os.environ.get("DISPLAY") or shutil.which("Xvfb") is None:
        return None
    for n in range(91, 140):
        if Path(f"/tmp/.X{n}-lock").exists():
            continue
        proc = subprocess.Popen(
            ["Xvfb", f":{n}", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(50):
            if Path(f"/tmp/.X11-unix/X{n}").exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        if proc.poll() is None and Path(f"/tmp/.X11-unix/X{n}").exists():
            os.environ["DISPLAY"] = f":{n}"
            atexit.register(_stop, proc)
            return proc
        proc.terminate()
    return None


if _start_xvfb() is not None:
    os.environ["QT_QPA_PLATFORM"] = "xcb"
elif not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def gl_display() -> None:
    """Skip a test that needs OpenGL (image layers in a real viewer) without a display."""
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen" or not os.environ.get("DISPLAY"):
        pytest.skip("needs an X display for OpenGL: apt-get install xvfb (started by conftest)")
