"""CLI verbs `guardgraph audit query|trace|report` (being built)."""

from __future__ import annotations

import typer


def register(audit_app: typer.Typer) -> None:
    """Add the review commands to the `audit` group."""
