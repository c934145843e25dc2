"""CLI verbs `guardgraph audit verify|prove|check-proof` (being built)."""

from __future__ import annotations

import typer

audit_app = typer.Typer(help="Review the audit log.", no_args_is_help=True)
