"""guardgraph.specs: the spec language — grammar, parser, AST, type checker, formatter.

The syntax tree lives in :mod:`guardgraph.specs.ast`; diagnostics in
:mod:`guardgraph.specs.diagnostics`. The language reference is ``docs/language.md``.
"""

from guardgraph.specs import ast
from guardgraph.specs._checker import Types, check_spec, type_of
from guardgraph.specs._context import CONTEXT_NAMES, CONTEXT_ROOTS, ROUTE_ONLY
from guardgraph.specs._declare import Declarations, declarations_to_text, declare_tools
from guardgraph.specs._format import format_expr, format_spec, format_type, format_value
from guardgraph.specs._loader import LoadResult, content_hash, load_file, load_text
from guardgraph.specs._parser import parse
from guardgraph.specs._render import render_concise, render_human, render_json
from guardgraph.specs._types import literal_text
from guardgraph.specs.diagnostics import CODES, Code, Diagnostic, Severity

__all__ = [
    "CODES",
    "CONTEXT_NAMES",
    "CONTEXT_ROOTS",
    "ROUTE_ONLY",
    "Code",
    "Declarations",
    "Diagnostic",
    "LoadResult",
    "Severity",
    "Types",
    "ast",
    "check_spec",
    "content_hash",
    "declarations_to_text",
    "declare_tools",
    "format_expr",
    "format_spec",
    "format_type",
    "format_value",
    "literal_text",
    "load_file",
    "load_text",
    "parse",
    "render_concise",
    "render_human",
    "render_json",
    "type_of",
]
