"""The module graph has no import cycles, beyond what the import-linter contracts check.

``lint-imports`` (run by ``make check`` and ``make test``) keeps the layers between top-level
packages; this test keeps every module, inside a package too, out of import cycles, which is
what lets a module be read (and moved) on its own. Imports under ``TYPE_CHECKING`` are left out:
they never run.
"""

from __future__ import annotations

import grimp


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    """The finder itself reports a two-module cycle and ignores a chain."""
    graph = grimp.ImportGraph()
    for name in ("a", "b", "c", "d"):
        graph.add_module(name)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="a")
    graph.add_import(importer="c", imported="d")
    assert _cycles(graph) == [["a", "b"]]


def test_no_module_imports_itself_through_others() -> None:
    """No module of civicstack is part of an import cycle."""
    graph = grimp.build_graph("civicstack", exclude_type_checking_imports=True)
    # The one declared exception of the import-linter contracts (pyproject.toml): the core's
    # civicstack.log re-exports DurableLog from the store lazily, on first use.
    graph.remove_import(importer="civicstack.log", imported="civicstack.stores.log.durable")
    assert _cycles(graph) == []
