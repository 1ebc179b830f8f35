"""No import cycle anywhere in gateway/ or adapters/, found from the source itself.

import-linter checks the layers; this test does not trust it (or any import hook) and reads every module with
``ast``: imports inside functions count, relative imports are resolved, ``from pkg import name`` counts as an
import of the submodule ``pkg.name`` when there is one, and importing ``a.b.c`` runs ``a/__init__`` and
``a/b/__init__`` first, so it counts as importing those packages too. Generated code (gateway/api) is left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "adapters")
GENERATED = "gateway.api"


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join(parts)
            if name == GENERATED or name.startswith(GENERATED + "."):
                continue
            out[name] = path
    return out


def _targets(name: str, target: str, modules: dict[str, Path]) -> set[str]:
    """``target`` and the packages Python initialises to reach it, less those that contain ``name``: a module
    inside ``a.b`` runs only once ``a.b`` is being initialised, so reaching a sibling through it is no cycle.
    Naming ``a.b`` itself (``from a.b import X`` where X is not a submodule) is an import of ``a.b``."""
    parts = target.split(".")
    chain = {".".join(parts[:i]) for i in range(1, len(parts))}
    containing = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    return ((chain - containing) | {target}) & modules.keys()


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found |= _targets(name, alias.name, modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules]
            for sub in subs:
                found |= _targets(name, sub, modules)
            if len(subs) < len(node.names):
                found |= _targets(name, target, modules)
            else:
                found |= _targets(name, target, modules) - {target}
    found.discard(name)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
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
                result.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return result


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_the_finder_sees_an_import_inside_a_function() -> None:
    modules = {"p": Path("p/__init__.py"), "p.a": Path("p/a.py"), "p.b": Path("p/b.py")}
    graph = {"p.a": {"p.b"}, "p.b": {"p.a"}, "p": set()}
    assert _cycles(graph) == [["p.a", "p.b"]]
    assert _cycles({"p.a": {"p.b"}, "p.b": set()}) == []
    assert modules


def test_the_finder_resolves_relative_and_from_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "p"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from . import b\n")
    (pkg / "b.py").write_text("from p.a import f\n")
    modules = {"p": pkg / "__init__.py", "p.a": pkg / "a.py", "p.b": pkg / "b.py"}
    graph = {n: _imports(n, p, modules) for n, p in modules.items()}
    assert graph["p.a"] == {"p.b"}
    assert graph["p.b"] == {"p.a"}
    assert _cycles(graph) == [["p.a", "p.b"]]


def test_no_import_cycles_in_gateway_or_adapters() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)
