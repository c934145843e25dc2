"""The loaded spec as a value: `Policy`, `load_policy`, and `SpecLoadError` on failure.

A policy is immutable and picklable: a Ray worker or a subprocess gets it by pickling (the
checked AST travels; nothing re-reads files), and compiles its Z3 terms on first use in
its own process. ``sha256`` is over the normalised text of the spec's files (each file as
`guardgraph.specs.format_spec` prints it, in load order), so the same spec read from
another directory, or with other whitespace, has the same identity; a session blob names
it (`Guard.export_session`).

>>> p = Policy.from_text("spec s version 2\\ntool pay(amount: int)\\n")
>>> p.name, p.version, p.tools
('s', 2, ('pay',))
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from guardgraph.guardrails._errors import SpecLoadError
from guardgraph.specs import LoadResult, ast, format_spec, load_file, load_text

if TYPE_CHECKING:
    from guardgraph.guardrails._runtime import Runtime

__all__ = ["Policy", "SpecLoadError", "load_policy"]

_COMBINED = "<combined>"


class Policy:
    """A type-checked spec with its identity (``name``, ``version``, ``sha256``).

    Build with `load_policy`, `Policy.from_text` or `Policy.from_spec`. Two policies are
    equal when their sha256 is.
    """

    __slots__ = ("_lock", "_runtime", "sha256", "spec")

    spec: ast.Spec
    sha256: str

    def __init__(self, spec: ast.Spec, *, sha256: str | None = None) -> None:
        if not isinstance(spec, ast.Spec):
            raise TypeError(f"Policy needs a checked guardgraph.specs.ast.Spec, "
                            f"got {type(spec).__name__}")
        self.spec = spec
        self.sha256 = sha256 if sha256 is not None else _normalised_sha(spec)
        self._lock = threading.Lock()
        self._runtime: Runtime | None = None

    @classmethod
    def from_text(cls, text: str, *, path: str = "<string>") -> Policy:
        """The policy of spec ``text``; `SpecLoadError` with diagnostics on errors."""
        return cls._of(load_text(text, path=path), path)

    @classmethod
    def from_spec(cls, spec: ast.Spec) -> Policy:
        """The policy of an already checked spec (e.g. built with ``declare_tools``)."""
        return cls(spec)

    @classmethod
    def _of(cls, result: LoadResult, path: str) -> Policy:
        if result.spec is None:
            first = result.errors[0] if result.errors else None
            span = first.span if first is not None else None
            where = span.file if span is not None else path
            at = f"{where}:{span.line}:{span.column}" if span is not None else where
            summary = f"{first.code}: {first.message}" if first is not None else "no spec"
            raise SpecLoadError(f"spec {at} did not load: {summary} "
                                f"({len(result.errors)} error(s))", path=where,
                                diagnostics=result.diagnostics, sources=result.sources)
        return cls(result.spec)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> int:
        return self.spec.version

    @property
    def tools(self) -> tuple[str, ...]:
        """The canonical names of the declared tools, in declaration order."""
        return tuple(t.name for t in self.spec.tools)

    def runtime(self) -> Runtime:
        """The compiled form (Z3 terms, fast paths, monitor tracks), built once per
        process on first use."""
        runtime = self._runtime
        if runtime is None:
            with self._lock:
                runtime = self._runtime
                if runtime is None:
                    from guardgraph.guardrails._runtime import Runtime

                    runtime = self._runtime = Runtime(self.spec)
        return runtime

    def __getstate__(self) -> dict[str, Any]:
        return {"spec": self.spec, "sha256": self.sha256}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.spec = state["spec"]
        self.sha256 = state["sha256"]
        self._lock = threading.Lock()
        self._runtime = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Policy) and other.sha256 == self.sha256

    def __hash__(self) -> int:
        return hash(self.sha256)

    def __repr__(self) -> str:
        return f"Policy({self.name!r} version {self.version}, sha256 {self.sha256[:12]})"


def load_policy(*paths: str | os.PathLike[str]) -> Policy:
    """The policy of one spec file, or several combined as if one root file included all.

    Raises `SpecLoadError` naming the file when one is missing or unreadable, and carrying
    the diagnostics when the spec has errors. Never a deny-all guard.
    """
    if not paths:
        raise SpecLoadError("load_policy needs at least one spec file")
    for path in paths:
        name = os.fspath(path)
        try:
            with open(name, "rb") as f:
                f.read(1)
        except OSError as exc:
            raise SpecLoadError(f"cannot read spec file {name}: {exc.strerror or exc}",
                                path=name) from None
    return Policy._of(_load(paths), os.fspath(paths[0]))


def _load(paths: Sequence[str | os.PathLike[str]]) -> LoadResult:
    if len(paths) == 1:
        return load_file(paths[0])
    includes = "".join(f"include {_quote(os.path.abspath(p))}\n" for p in paths)
    root = os.path.join(os.path.dirname(os.path.abspath(paths[0])), _COMBINED)
    return load_text(f"spec combined version 1\n{includes}", path=root)


def _quote(path: str) -> str:
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _normalised_sha(spec: ast.Spec) -> str:
    h = hashlib.sha256()
    for file in spec.files:
        if file.path.endswith(_COMBINED):
            continue  # the synthetic root names absolute paths, which differ per machine
        # Include lines name paths as written; the included files' own text follows.
        text = format_spec(ast.SpecFile(name=file.name, version=file.version,
                                        items=file.items, path=file.path))
        data = text.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()
