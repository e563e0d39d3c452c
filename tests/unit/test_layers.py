"""Imports point down: walked with `ast` over src/mixcore, so a new upward import fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

SRC = REPO / "src" / "mixcore"
DOMAIN_AND_SERVICES = ("mixes", "providers", "costs", "store", "catalog", "leaderboards")
EDGES = ("mixcore.api", "mixcore.local", "mixcore.cli")
LAPTOP_ONLY = ("mixcore.local", "mixcore.cli")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at the top, inside functions or under TYPE_CHECKING alike."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("mixcore")}


MODULES = {module_name(p): imports_of(p) for p in sorted(SRC.rglob("*.py"))}


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("package", DOMAIN_AND_SERVICES)
def test_domain_and_services_never_import_the_edges(package: str) -> None:
    upward = {module: sorted(i for i in imported if under(i, EDGES))
              for module, imported in MODULES.items() if module.startswith(f"mixcore.{package}")}
    assert {m: i for m, i in upward.items() if i} == {}


def test_runtime_code_never_imports_laptop_only_code() -> None:
    runtime = {m: i for m, i in MODULES.items() if not under(m, LAPTOP_ONLY)}
    offending = {m: sorted(i for i in imported if under(i, LAPTOP_ONLY)) for m, imported in runtime.items()}
    assert {m: i for m, i in offending.items() if i} == {}


def test_mixes_has_no_import_cycle() -> None:
    graph = {m: {i for i in imported if i in MODULES and i.startswith("mixcore.mixes.") and i != m}
             for m, imported in MODULES.items() if m.startswith("mixcore.mixes.")}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> list[str] | None:
        if module in visiting:
            return [*visiting[visiting.index(module):], module]
        if module in done:
            return None
        visiting.append(module)
        for target in sorted(graph[module]):
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(module)
        return None

    cycles = [cycle for module in sorted(graph) if (cycle := visit(module))]
    assert cycles == []


def test_the_walk_sees_the_imports_it_judges() -> None:
    # The checks above are only as good as the walk: it must see a known import of each kind.
    assert "mixcore.mixes.chain" in MODULES["mixcore.mixes.gateway"]
    assert "mixcore.api.streaming" in MODULES["mixcore.api.chat"]
    assert "mixcore.local.demo_providers" in MODULES["mixcore.local.stack"]
