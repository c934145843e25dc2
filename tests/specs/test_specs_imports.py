"""The language's modules import one another without cycles (issue #10: `_builtins` and
`_history` <-> `_infer`, `_lintpairs` <-> `lint`). TYPE_CHECKING imports count: a cycle
hidden behind one still couples the modules."""

from __future__ import annotations

import grimp
import pytest

OWN = ("guardgraph.specs", "guardgraph.guardrails.lint", "guardgraph.guardrails.diff",
       "guardgraph.guardrails._lintpairs", "guardgraph.guardrails._session",
       "guardgraph.guardrails._search", "guardgraph.guardrails._translate",
       "guardgraph.guardrails._compile", "guardgraph.guardrails._fastpath",
       "guardgraph.guardrails._witness", "guardgraph.guardrails._inputs",
       "guardgraph.guardrails._explain", "guardgraph.guardrails._z3sorts",
       "guardgraph.guardrails._trivial", "guardgraph.guardrails._pyregex")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("guardgraph", include_external_packages=False)


def _modules(graph: grimp.ImportGraph) -> list[str]:
    return sorted(m for m in graph.modules
                  if m.startswith(OWN) and m != "guardgraph.specs")


def test_no_module_of_the_language_is_in_an_import_cycle(graph: grimp.ImportGraph) -> None:
    cycles = []
    for module in _modules(graph):
        for imported in graph.find_modules_directly_imported_by(module):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back is not None and imported != "guardgraph.specs":
                cycles.append((module, *back))
    assert not cycles, cycles
