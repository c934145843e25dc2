"""Loading specs from files: includes, cycles, the content hash, then the type checker.

``include "x.spec"`` resolves relative to the including file. Files are loaded depth-first
in the order the includes are written, the root first; a file reached twice through
different includes (a diamond) is loaded once, at its first place in that order; an
include that leads back to a file still being loaded is a cycle (GG111).

The content hash is SHA-256 over every loaded file's UTF-8 text in load order, each
prefixed with its length as 8 big-endian bytes so that file boundaries are part of what is
hashed. Paths are not hashed: moving a policy's directory keeps its hash.

Nothing here raises for bad input; every problem becomes a diagnostic.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from guardgraph.specs import ast
from guardgraph.specs._checker import check_spec
from guardgraph.specs._declare import Declarations
from guardgraph.specs._parser import parse
from guardgraph.specs.diagnostics import Diagnostic, Severity

__all__ = ["LoadResult", "content_hash", "load_file", "load_text"]

ExtraTools = Sequence[ast.ToolDecl] | Declarations


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadResult:
    """The outcome of loading a spec: the checked Spec (None on any error), every
    diagnostic, and each loaded file's text by the path its spans use (for carets)."""

    spec: ast.Spec | None
    diagnostics: tuple[Diagnostic, ...]
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    @property
    def ok(self) -> bool:
        return self.spec is not None

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.level is Severity.ERROR)


def content_hash(texts: Sequence[str]) -> str:
    """The spec content hash over file texts in load order (see the module docstring).

    >>> content_hash(["spec a version 1\\n"])[:12]
    '89c208a4d133'
    """
    h = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def load_file(path: str | os.PathLike[str], *, extra_tools: ExtraTools = ()) -> LoadResult:
    """Load, resolve includes, and check the spec at ``path``.

    Spans and ``sources`` use ``path`` as given, and included files' paths joined onto
    its directory, so relative input gives relative locations.
    """
    display = os.fspath(path)
    if not isinstance(display, str):
        raise TypeError(f"expected a str path, got {type(display).__name__}")
    loader = _Loader()
    text = loader.read(display, span=None)
    if text is None:
        return loader.result(spec=None)
    loader.visit(display, text, directory=os.path.dirname(display), stack=())
    return loader.finish(extra_tools)


def load_text(
    text: str,
    *,
    path: str = "<string>",
    base_dir: str | os.PathLike[str] | None = None,
    extra_tools: ExtraTools = (),
) -> LoadResult:
    """Load and check spec ``text``; ``path`` names it in diagnostics.

    Includes resolve against ``base_dir``; when it is None, against the directory of
    ``path`` (the current directory for ``"<string>"``).
    """
    if not isinstance(text, str):
        raise TypeError(f"expected spec text as str, got {type(text).__name__}")
    directory = os.fspath(base_dir) if base_dir is not None else _dir_of(path)
    loader = _Loader()
    loader.visit(path, text, directory=directory, stack=())
    return loader.finish(extra_tools)


def _dir_of(path: str) -> str:
    return "" if path.startswith("<") else os.path.dirname(path)


def _key(path: str) -> str:
    # Two routes to one file must meet: compare resolved, case-normalised real paths.
    try:
        return os.path.normcase(os.path.realpath(path))
    except (OSError, ValueError):  # e.g. a NUL byte: `read` reports the path itself
        return path


class _Loader:
    """The mutable state of one load (files, texts, diagnostics); never shared."""

    def __init__(self) -> None:
        self.files: list[ast.SpecFile] = []
        self.texts: list[str] = []
        self.sources: dict[str, str] = {}
        self.diagnostics: list[Diagnostic] = []
        self.loaded: set[str] = set()

    def read(self, path: str, *, span: ast.Span | None) -> str | None:
        """The file's text, or None after reporting why it cannot be had."""
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            self._emit("GG110", f"cannot find `{path}`", span, help=_include_help(span))
            return None
        except IsADirectoryError:
            self._emit("GG112", f"cannot read `{path}`: it is a directory", span)
            return None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            self._emit("GG112", f"cannot read `{path}`: {reason}", span)
            return None
        except ValueError:  # a path the OS cannot name (an embedded NUL byte)
            self._emit("GG112", f"cannot read {path!r}: not a valid file name", span)
            return None
        try:
            # utf-8-sig: a byte-order mark some editors write is not part of the spec.
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            self._emit(
                "GG112",
                f"`{path}` is not UTF-8 (invalid byte 0x{data[exc.start]:02x} on line {line})",
                span,
                help="save the file as UTF-8",
            )
            return None

    def visit(
        self, path: str, text: str, *, directory: str, stack: tuple[tuple[str, str], ...]
    ) -> None:
        key = _key(path) if not path.startswith("<") else path
        self.loaded.add(key)
        self.sources[path] = text
        self.texts.append(text)
        parsed, diagnostics = parse(text, path=path)
        self.diagnostics.extend(diagnostics)
        if parsed is None:
            return
        self.files.append(parsed)
        here = (*stack, (key, path))
        for inc in parsed.includes:
            child = os.path.normpath(os.path.join(directory, inc.path))
            child_key = _key(child)
            keys = [k for k, _ in here]
            if child_key in keys:
                chain = [p for _, p in here[keys.index(child_key) :]] + [child]
                self._emit(
                    "GG111",
                    "include cycle: " + " -> ".join(chain),
                    inc.span,
                    help="move the shared declarations into a file both can include",
                )
                continue
            if child_key in self.loaded:
                continue  # a diamond: already loaded through another include
            child_text = self.read(child, span=inc.span)
            if child_text is not None:
                self.visit(child, child_text, directory=os.path.dirname(child), stack=here)

    def finish(self, extra: ExtraTools) -> LoadResult:
        if any(d.level is Severity.ERROR for d in self.diagnostics) or not self.files:
            return self.result(spec=None)
        if isinstance(extra, Declarations):
            tools, records, enums = extra.tools, extra.records, extra.enums
        else:
            tools, records, enums = tuple(extra), (), ()
        spec, diagnostics = check_spec(
            self.files,
            content_hash=content_hash(self.texts),
            extra_tools=tools,
            extra_records=records,
            extra_enums=enums,
            sources=self.sources,
        )
        self.diagnostics.extend(diagnostics)
        return self.result(spec=spec)

    def result(self, *, spec: ast.Spec | None) -> LoadResult:
        return LoadResult(
            spec=spec,
            diagnostics=tuple(self.diagnostics),
            sources=MappingProxyType(dict(self.sources)),
        )

    def _emit(
        self, code: str, message: str, span: ast.Span | None, *, help: str | None = None
    ) -> None:
        self.diagnostics.append(Diagnostic(code=code, message=message, span=span, help=help))


def _include_help(span: ast.Span | None) -> str | None:
    if span is None:
        return None
    return "an include path is relative to the file that includes it"
