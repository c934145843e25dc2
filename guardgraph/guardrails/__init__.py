"""guardgraph.guardrails (being built)."""

__all__: list[str] = []
