"""guardgraph.orchestrator: not yet built (see the open issues)."""

__all__: list[str] = []
