"""The Examples sections of the public docstrings run and print what they say (issue 24).

Every module of the package whose source holds a ``>>>`` example is collected, so an example
added anywhere is checked here.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "microstructure"
OPTIONAL = ("napari", "magicgui", "qtpy")  # modules needing the napari extra may be skipped


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ">>> " in path.read_text(encoding="utf-8"):
            rel = path.relative_to(PACKAGE.parent).with_suffix("")
            names.append(".".join(rel.parts).removesuffix(".__init__"))
    return names


MODULES = _modules_with_examples()


def test_the_main_public_functions_have_examples():
    assert {
        "microstructure.porosimetry.intrusion",
        "microstructure.porosimetry.granulometry",
        "microstructure.transport.mfactor",
        "microstructure.porosity.fractions",
        "microstructure.volume",
    } <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        if any(opt in str(exc) for opt in OPTIONAL):
            pytest.skip(f"{name}: optional dependency missing ({exc})")
        raise
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} example(s) failed (see the output)"
