"""The package's layers, as imports: no import circle anywhere, and the core never imports web/.

Imports are read from the source (``ast``), lazy ones inside functions included (a circle hidden
in a function is still a circle), ``if TYPE_CHECKING:`` blocks excluded (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

from .helpers import REPO

PACKAGE = REPO / "omniscope_jupyter"
#: Layers below the web layer: none of them may import ``omniscope_jupyter.web``.
CORE_LAYERS = ("core", "sandbox", "scan", "marketplace", "store")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of the package that ``name`` imports."""
    is_package = path.name == "__init__.py"
    base = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                target = ".".join([*anchor, *(node.module or "").split(".")]).strip(".")
            else:
                target = node.module or ""
            # ``from pkg import submodule`` needs the submodule; ``from pkg import name``, pkg.
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in known else target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {m for m in found if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_the_graph_sees_lazy_imports() -> None:
    graph = _graph()
    # __init__ imports the extension inside a function: the reader must see it.
    assert "omniscope_jupyter.web.extension" in graph["omniscope_jupyter"]
    assert "omniscope_jupyter.core.system" in graph["omniscope_jupyter.config"]


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle() -> None:
    assert _cycles(_graph()) == []


def test_the_core_imports_nothing_from_web() -> None:
    graph = _graph()
    offenders = {
        module: sorted(m for m in targets if m.startswith("omniscope_jupyter.web"))
        for module, targets in graph.items()
        if module.split(".")[1:2] and module.split(".")[1] in CORE_LAYERS
    }
    assert {m: t for m, t in offenders.items() if t} == {}


def test_only_the_web_layer_imports_tornado() -> None:
    """Handlers are thin: tornado stays in web/ (the core is usable without a server)."""
    users = sorted(
        name
        for name, path in _modules().items()
        if not name.startswith("omniscope_jupyter.web")
        and any(
            isinstance(node, (ast.Import, ast.ImportFrom))
            and any(
                (getattr(node, "module", None) or alias.name).startswith(("tornado", "jupyter_server"))
                for alias in node.names
            )
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        )
    )
    assert users == []
