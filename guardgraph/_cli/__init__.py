"""Private: the CLI verbs, one module per area; `guardgraph.cli` composes them."""
