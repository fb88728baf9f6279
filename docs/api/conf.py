"""Sphinx configuration of the API reference, built from the package's numpydoc docstrings.

Build (from the repository root; needs the ``docs`` extra)::

    pip install -e ".[docs]" && python -m sphinx -b html docs/api docs/_build/api

One page per subpackage is generated at build time from the package itself, so a new public
module appears without editing these files.
"""

from __future__ import annotations

import pkgutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import microstructure  # noqa: E402

project = "microstructure"
version = release = microstructure.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_typehints = "description"
autodoc_mock_imports = ["napari", "magicgui", "qtpy", "superqt"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
suppress_warnings = ["autodoc.import_object"]

GENERATED = Path(__file__).resolve().parent / "generated"
#: Subpackages documented (the command-line layer is documented by ``--help`` instead).
SECTIONS = [
    "preprocess",
    "segment",
    "cbd",
    "porosimetry",
    "porosity",
    "physisorption",
    "correlate",
    "transport",
    "phantom",
    "pipeline",
    "io",
    "parallel",
    "napari",
    "workflows",
]


def _public_modules(package: str) -> list[str]:
    try:
        pkg = __import__(package, fromlist=["__path__"])
    except ImportError:
        return []
    names = [package]
    for info in pkgutil.walk_packages(getattr(pkg, "__path__", []), package + "."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def _write_pages() -> None:
    GENERATED.mkdir(exist_ok=True)
    top = [
        "microstructure.volume",
        "microstructure.faces",
        "microstructure.quality",
        "microstructure.plot",
    ]
    pages = {"core": top}
    for sec in SECTIONS:
        mods = _public_modules(f"microstructure.{sec}")
        if mods:
            pages[sec] = mods
    for sec, mods in pages.items():
        lines = [sec, "=" * len(sec), ""]
        for mod in mods:
            lines += [mod, "-" * len(mod), "", f".. automodule:: {mod}"]
            if mod == f"microstructure.{sec}":  # a package re-exports its modules' names
                lines.append("   :no-members:")
            lines.append("")
        (GENERATED / f"{sec}.rst").write_text("\n".join(lines), encoding="utf-8")
    toc = [
        "API reference",
        "=============",
        "",
        "Generated from the docstrings (numpydoc style, units in parameter names).",
        "",
        ".. toctree::",
        "   :maxdepth: 2",
        "",
    ]
    toc += [f"   generated/{sec}" for sec in pages]
    (Path(__file__).resolve().parent / "index.rst").write_text(
        "\n".join(toc) + "\n", encoding="utf-8"
    )


_write_pages()
master_doc = "index"
