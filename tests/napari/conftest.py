"""Headless napari: Qt renders offscreen unless a display (e.g. Xvfb) is set up by the caller."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
