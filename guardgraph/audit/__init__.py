"""guardgraph.audit (being built)."""

__all__: list[str] = []
