"""Shared test fixtures.

Third-party validation data lives in ``../shared/validation/`` beside the repository (never
copied into it); tests that need it use :func:`validation_file`, which skips cleanly when the
folder or the file is absent. ``MICROSTRUCTURE_VALIDATION_DIR`` overrides the location.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def validation_dir() -> Path:
    env = os.environ.get("MICROSTRUCTURE_VALIDATION_DIR")
    if env:
        return Path(env)
    return REPO_ROOT.parent / "shared" / "validation"


@pytest.fixture
def validation_file():
    """Return a function name -> Path that skips the test when the file is absent."""

    def _get(name: str) -> Path:
        path = validation_dir() / name
        if not path.is_file():
            pytest.skip(f"validation file {name} not available in {validation_dir()}")
        return path

    return _get
