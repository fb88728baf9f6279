"""The package's architecture rules (ARCHITECTURE.md, "Rules"), checked on the source with ast.

Nothing of the package is imported: every rule reads ``microstructure/**/*.py`` as text and
walks its syntax tree, so the checks are fast and independent of optional dependencies.

The import graph
----------------
Nodes are the package's modules (``microstructure/a/b.py`` is ``microstructure.a.b``, a package's
``__init__.py`` is the package name ``microstructure.a``). An edge ``A -> B`` is added for every
import statement in ``A`` that executes at run time, at module level *and* inside functions or
methods (a function-level import is a deferred import, not an absent one):

- ``import microstructure.x.y`` -> ``microstructure.x.y``;
- ``from microstructure.x import name`` -> ``microstructure.x.name`` when that is a module (a
  file or a subpackage), else ``microstructure.x`` (the names come from that module, or from the
  package's ``__init__`` when ``x`` is a package);
- relative imports are resolved against the importing module's package the same way;
- ``importlib.import_module("microstructure....")`` with a literal name -> that module.

Imports inside ``if TYPE_CHECKING:`` blocks never execute and are not edges.

Package ``__init__`` files and cycles: importing ``microstructure.x.y`` makes Python run
``microstructure/x/__init__.py`` first, but that implicit step is *not* an edge here. A package
whose ``__init__`` re-exports its submodules (``microstructure.x -> microstructure.x.y``) is
therefore only on a cycle when some module of the cycle imports the ``__init__`` itself, i.e.
names *from the package* (``from microstructure.x import f`` where ``f`` is not a submodule).
So ``x/__init__ -> x.y -> x.z`` is fine, while ``x/__init__ -> x.y`` together with
``x.y -> (from microstructure.x import f)`` is a cycle: ``x.y`` would run half-initialised
``x/__init__``. Every strongly connected component with more than one module is reported with
one concrete cycle and the file:line of each of its edges.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "microstructure"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

MAX_MODULE_LINES = 700
MAX_FUNCTION_LINES = 120

#: packages (and modules) of algorithms and of the layers above them
ALGORITHM_PACKAGES = (
    "preprocess",
    "segment",
    "cbd",
    "porosimetry",
    "porosity",
    "transport",
    "pipeline",
    "cli",
    "napari",
    "workflows",
    "phantom",
)


# ------------------------------------------------------------------------------ source walking
@dataclass(frozen=True)
class Module:
    name: str  #: dotted module name
    path: Path
    is_package: bool  #: an ``__init__.py``
    tree: ast.Module
    text: str

    @property
    def rel(self) -> str:
        return str(self.path.relative_to(ROOT.parent))

    @property
    def package(self) -> str:
        """The package relative imports resolve against."""
        return self.name if self.is_package else self.name.rpartition(".")[0]


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _load_modules() -> dict[str, Module]:
    mods = {}
    for path in sorted(ROOT.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        name, is_pkg = _module_name(path)
        mods[name] = Module(name, path, is_pkg, ast.parse(text, filename=str(path)), text)
    return mods


MODULES = _load_modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int


def _resolve(module: Module, node: ast.ImportFrom) -> str | None:
    """The absolute module named by a ``from ... import`` (None outside the package)."""
    if node.level:
        base = module.package.split(".")
        if node.level > 1:
            base = base[: len(base) - (node.level - 1)]
        name = ".".join(base + ([node.module] if node.module else []))
    else:
        name = node.module or ""
    return name


def _in_package(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


def _known(name: str) -> str:
    """The longest prefix of ``name`` that is a module of the package."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports(module: Module) -> Iterator[tuple[str, int]]:
    """(imported module name, line) for every run-time import of ``module`` (any package)."""
    for node in _runtime_nodes(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            if not base:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield (sub if sub in MODULES else base), node.lineno
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if (
                name == "import_module"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and not node.args[0].value.startswith(".")
            ):
                yield node.args[0].value, node.lineno


def _graph() -> dict[str, list[Edge]]:
    graph: dict[str, list[Edge]] = defaultdict(list)
    for module in MODULES.values():
        seen = set()
        for name, line in _imports(module):
            if not _in_package(name):
                continue
            target = _known(name)
            if target and target != module.name and (target, line) not in seen:
                seen.add((target, line))
                graph[module.name].append(Edge(module.name, target, line))
        graph[module.name].sort(key=lambda e: (e.line, e.target))
    return graph


GRAPH = _graph()


def _strongly_connected(graph: dict[str, list[Edge]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    nodes = sorted(set(graph) | {e.target for edges in graph.values() for e in edges})
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted({e.target for e in graph.get(root, [])})))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted({e.target for e in graph.get(child, [])}))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def _a_cycle(component: list[str], graph: dict[str, list[Edge]]) -> list[str]:
    """A shortest cycle through the first module of a strongly connected component."""
    members = set(component)
    start = component[0]
    prev: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for edge in graph.get(node, []):
            if edge.target not in members:
                continue
            if edge.target == start:
                path = [node]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                return [*reversed(path), start]
            if edge.target not in prev:
                prev[edge.target] = node
                queue.append(edge.target)
    return component


def _rel(name: str) -> str:
    return MODULES[name].rel


# ------------------------------------------------------------------------------------ tests
def test_the_walk_sees_the_package() -> None:
    assert f"{PACKAGE}.volume" in MODULES and f"{PACKAGE}.pipeline.runner" in MODULES
    assert any(e.target == f"{PACKAGE}.volume" for edges in GRAPH.values() for e in edges)


def test_no_import_cycles() -> None:
    problems = []
    for comp in _strongly_connected(GRAPH):
        members = set(comp)
        cycle = _a_cycle(comp, GRAPH)
        edges = [
            f"    {_rel(e.source)}:{e.line} -> {e.target}"
            for src in comp
            for e in GRAPH.get(src, [])
            if e.target in members
        ]
        problems.append(
            f"cycle {' -> '.join(cycle)} (component of {len(comp)} modules; its imports:)\n"
            + "\n".join(edges)
        )
    assert not problems, "import cycles:\n" + "\n".join(problems)


def _matplotlib_problems(module: Module) -> Iterator[str]:
    aliases = set()  # names bound to the matplotlib module
    for node in _runtime_nodes(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "matplotlib.pyplot" or alias.name.startswith("matplotlib.pyplot."):
                    yield f"{module.rel}:{node.lineno}: imports matplotlib.pyplot"
                if alias.name == "matplotlib":
                    aliases.add(alias.asname or "matplotlib")
                elif alias.name.startswith("matplotlib.") and alias.asname is None:
                    aliases.add("matplotlib")
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module == "matplotlib.pyplot" or node.module.startswith("matplotlib.pyplot."):
                yield f"{module.rel}:{node.lineno}: imports from matplotlib.pyplot"
            if node.module == "matplotlib":
                for alias in node.names:
                    if alias.name == "pyplot":
                        yield f"{module.rel}:{node.lineno}: imports matplotlib.pyplot"
                    if alias.name == "use":
                        yield f"{module.rel}:{node.lineno}: imports matplotlib.use"
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "use"
            and isinstance(func.value, ast.Name)
            and func.value.id in aliases
        ):
            yield f"{module.rel}:{node.lineno}: calls matplotlib.use"
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if (
            name in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and str(node.args[0].value).startswith("matplotlib.pyplot")
        ):
            yield f"{module.rel}:{node.lineno}: imports matplotlib.pyplot dynamically"


def test_no_pyplot_and_no_matplotlib_use() -> None:
    problems = [p for m in MODULES.values() for p in _matplotlib_problems(m)]
    # belt and braces: the literal call in any form the ast check could miss (e.g. in a string
    # passed to exec); comments are not code, so strip them first
    for m in MODULES.values():
        for i, line in enumerate(m.text.splitlines(), start=1):
            code = line.split("#", 1)[0]
            if re.search(r"\bmatplotlib\.use\s*\(", code) and not any(
                p.startswith(f"{m.rel}:{i}:") for p in problems
            ):
                problems.append(f"{m.rel}:{i}: matplotlib.use( in the source")
    assert not problems, "pyplot state or matplotlib.use in the package:\n" + "\n".join(problems)


def test_module_size() -> None:
    too_long = [
        f"{m.rel}: {n} lines"
        for m in MODULES.values()
        if (n := len(m.text.splitlines())) > MAX_MODULE_LINES
    ]
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(too_long)


def _examples_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of the docstring's numpydoc ``Examples`` section (run as doctests, documentation
    rather than code: not counted against the function's length)."""
    doc = ast.get_docstring(node, clean=False) or ""
    lines = doc.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.strip() == "Examples" and set(lines[i + 1].strip()) == {"-"}:
            return len(lines) - i
    return 0


def test_function_size() -> None:
    too_long = []
    for m in MODULES.values():
        for node in ast.walk(m.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1 - _examples_lines(node)
                if n > MAX_FUNCTION_LINES:
                    too_long.append(f"{m.rel}:{node.lineno}: {node.name} ({n} lines)")
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(
        sorted(too_long)
    )


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_parallel_sits_below_the_algorithms() -> None:
    banned = tuple(f"{PACKAGE}.{p}" for p in ALGORITHM_PACKAGES)
    problems = [
        f"{_rel(e.source)}:{e.line}: imports {e.target}"
        for src, edges in GRAPH.items()
        if _under(src, f"{PACKAGE}.parallel")
        for e in edges
        if any(_under(e.target, b) for b in banned)
    ]
    assert not problems, "microstructure.parallel imports algorithm packages:\n" + "\n".join(
        problems
    )


def test_io_is_a_leaf() -> None:
    allowed = (f"{PACKAGE}.io", f"{PACKAGE}.volume")
    problems = [
        f"{_rel(e.source)}:{e.line}: imports {e.target}"
        for src, edges in GRAPH.items()
        if _under(src, f"{PACKAGE}.io")
        for e in edges
        if not any(_under(e.target, a) for a in allowed)
    ]
    assert not problems, "microstructure.io imports beyond io and volume:\n" + "\n".join(problems)


def test_argparse_only_in_the_cli() -> None:
    problems = []
    for m in MODULES.values():
        if _under(m.name, f"{PACKAGE}.cli"):
            continue
        for node in _runtime_nodes(m.tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            if any(n == "argparse" or n.startswith("argparse.") for n in names):
                problems.append(f"{m.rel}:{node.lineno}: imports argparse")
    assert not problems, "argparse outside microstructure/cli:\n" + "\n".join(problems)


_SEED_PHRASE = re.compile(r"\bseed\s+00[03]\b", re.IGNORECASE)


def _docstrings(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(
            node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
        ) and (doc := ast.get_docstring(node, clean=False)):
            yield (node.body[0].lineno, doc)


def test_references_use_dois_not_seed_numbers() -> None:
    problems = []
    for m in MODULES.values():
        for line, doc in _docstrings(m.tree):
            for match in _SEED_PHRASE.finditer(doc):
                at = line + doc[: match.start()].count("\n")
                problems.append(f"{m.rel}:{at}: {match.group(0)!r}")
    assert not problems, (
        "docstrings cite 'seed 000/003' instead of the paper (Beuse et al. 2021, "
        "doi:10.3390/batteries7040070; Naumann et al. 2024, doi:10.1021/acsaem.4c00505):\n"
        + "\n".join(problems)
    )
