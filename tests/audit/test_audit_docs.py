"""docs/audit-records.md is the written schema: it names every kind, every payload field
and whether the field is required, exactly as guardgraph/audit/events.py defines them."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import guardgraph.audit as audit
from guardgraph.audit.events import PAYLOAD_TYPES, EventKind

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit-records.md"


def _sections() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^### ", text, flags=re.M)[1:]
    return {p.split(" ", 1)[0]: p for p in parts}


def test_every_kind_has_a_section_naming_its_class() -> None:
    sections = _sections()
    assert set(sections) == {k.value for k in EventKind}
    for kind, cls in PAYLOAD_TYPES.items():
        assert f"`{cls.__name__}`" in sections[kind.value].splitlines()[0]


def test_every_field_is_documented_with_whether_it_is_required() -> None:
    sections = _sections()
    for kind, cls in PAYLOAD_TYPES.items():
        rows = {m.group(1): m.group(2) for m in re.finditer(
            r"^\| `(\w+)` \|.*\| (.+?) \|$", sections[kind.value], flags=re.M)}
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        assert list(rows) == names, kind
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            required = (f.default is dataclasses.MISSING
                        and f.default_factory is dataclasses.MISSING)
            assert (rows[f.name] == "required") == required, (kind, f.name)


def test_the_public_surface_is_small_and_every_name_resolves() -> None:
    assert len(audit.__all__) <= 42
    for name in audit.__all__:
        assert getattr(audit, name) is not None


def test_no_import_cycle_inside_the_audit_package() -> None:
    import itertools

    import grimp

    graph = grimp.build_graph("guardgraph")
    modules = sorted(m for m in graph.modules if m.startswith("guardgraph.audit."))
    cycles = [(a, b) for a, b in itertools.combinations(modules, 2)
              if graph.chain_exists(importer=a, imported=b)
              and graph.chain_exists(importer=b, imported=a)]
    assert cycles == []
