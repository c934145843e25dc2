"""guardgraph.specs: the spec language — grammar, parser, AST, type checker, formatter.

The syntax tree lives in :mod:`guardgraph.specs.ast`; diagnostics in
:mod:`guardgraph.specs.diagnostics`. The language reference is ``docs/language.md``.
"""

from guardgraph.specs import ast
from guardgraph.specs.diagnostics import CODES, Code, Diagnostic, Severity

__all__ = ["CODES", "Code", "Diagnostic", "Severity", "ast"]
