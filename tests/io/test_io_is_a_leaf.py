"""``microstructure.io`` is a leaf: its modules import nothing of the package but ``io`` itself
and ``microstructure.volume`` (measured MIP files are read by ``microstructure.porosimetry``)."""

from __future__ import annotations

import ast
from pathlib import Path

import microstructure.io

ALLOWED = ("microstructure.io", "microstructure.volume")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            names.add("microstructure.io")  # relative: inside io
    return names


def test_io_imports_only_itself_and_volume() -> None:
    folder = Path(microstructure.io.__file__).parent
    bad = {
        f"{path.name}: {name}"
        for path in folder.rglob("*.py")
        for name in _imports(path)
        if name.startswith("microstructure") and not name.startswith(ALLOWED)
    }
    assert not bad, sorted(bad)
