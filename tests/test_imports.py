"""The import graph of `src/`, built with `ast`: no cycles, and no import hidden in a function
to get round one.

Two kinds of import are not edges of the graph, and each is held to what it is for:
- `if TYPE_CHECKING:` imports exist for mypy only. They are allowed for the GraphQL types'
  mutual references (a schema is a cyclic graph, Python modules are not), and only for names
  that the module uses through `strawberry.lazy` on that same module, which resolves them
  when the schema is built, not at import.
- Function-local imports of the project's own modules are allowed only in the command line,
  where each subcommand imports what it needs so that `continuity token` does not load the
  GraphQL stack (see `src/continuity/cli.py`). Third-party imports may be local to keep an
  optional or heavy dependency off the import path (a comment says which).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
FIRST_PARTY = ("continuity", "gql", "services")
LOCAL_IMPORTS_ALLOWED = {"continuity.cli"}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in FIRST_PARTY:
        for path in (SRC / package).rglob("*.py"):
            parts = list(path.relative_to(SRC).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _target(name: str) -> str | None:
    """The project module an imported dotted name lives in (a package's `__init__` for a name
    the package itself defines), or None for a third-party name."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    assert node.level == 0, "relative imports are not used in src/"
    return [f"{node.module}.{alias.name}" for alias in node.names]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Imports(ast.NodeVisitor):
    """Every import of one module, sorted by where it stands."""

    def __init__(self) -> None:
        self.runtime: list[tuple[int, str]] = []
        self.type_checking: list[tuple[int, ast.ImportFrom | ast.Import]] = []
        self.local: list[tuple[int, str]] = []
        self._depth = 0
        self._typing_only = 0

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node):
            self._typing_only += 1
            for child in node.body:
                self.visit(child)
            self._typing_only -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if self._typing_only:
            self.type_checking.append((node.lineno, node))
            return
        for name in _imported(node):
            self.runtime.append((node.lineno, name))
            if self._depth:
                self.local.append((node.lineno, name))

    visit_Import = _import
    visit_ImportFrom = _import


def _parsed() -> Iterator[tuple[str, ast.Module, _Imports]]:
    for module, path in sorted(MODULES.items()):
        tree = ast.parse(path.read_text(), str(path))
        imports = _Imports()
        imports.visit(tree)
        yield module, tree, imports


PARSED = list(_parsed())


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for module, _, imports in PARSED:
        for _, name in imports.runtime:
            target = _target(name)
            if target is not None and target != module:
                graph[module].add(target)
        # Importing `a.b.c` runs the packages `a` and `a.b` first.
        parts = module.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if parent in graph:
                graph[module].add(parent)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_every_package_and_its_edges() -> None:
    graph = _graph()
    assert {"gql.app", "services.film.scenes", "services.db.database", "continuity.cli"} <= graph.keys()
    assert "services.db.database" in graph["services.film.scenes"]
    assert "gql.transport" in graph["gql.app"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_one_that_imports_it_back() -> None:
    cycles = _cycles(_graph())
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_services_import_no_graphql() -> None:
    offenders = [
        f"{module}:{line} imports {name}"
        for module, _, imports in PARSED
        if module.startswith("services")
        for line, name in imports.runtime
        if name.split(".")[0] in {"gql", "strawberry", "graphql"}
    ]
    assert offenders == []


def test_no_function_local_import_of_the_project_outside_the_command_line() -> None:
    offenders = [
        f"{module}:{line} imports {name} inside a function"
        for module, _, imports in PARSED
        if module not in LOCAL_IMPORTS_ALLOWED
        for line, name in imports.local
        if _target(name) is not None
    ]
    assert offenders == []


def _lazy_targets(tree: ast.Module) -> dict[str, str]:
    """`Name -> module` for every `Annotated["Name", strawberry.lazy("module")]` in a module."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "Annotated"):
            continue
        if not isinstance(node.slice, ast.Tuple) or len(node.slice.elts) != 2:
            continue
        name, marker = node.slice.elts
        if (
            isinstance(name, ast.Constant)
            and isinstance(marker, ast.Call)
            and isinstance(marker.func, ast.Attribute)
            and marker.func.attr == "lazy"
            and marker.args
            and isinstance(marker.args[0], ast.Constant)
        ):
            found[str(name.value)] = str(marker.args[0].value)
    return found


def test_type_checking_imports_only_name_lazy_graphql_types() -> None:
    offenders = []
    for module, tree, imports in PARSED:
        lazy = _lazy_targets(tree)
        for line, node in imports.type_checking:
            if not isinstance(node, ast.ImportFrom):
                offenders.append(f"{module}:{line}: import under TYPE_CHECKING")
                continue
            for alias in node.names:
                if _target(f"{node.module}.{alias.name}") is None:
                    continue
                if lazy.get(alias.asname or alias.name) != node.module:
                    offenders.append(
                        f"{module}:{line}: {alias.name} from {node.module} is imported for mypy only "
                        "but not used through strawberry.lazy on that module: import it normally"
                    )
    assert offenders == []
