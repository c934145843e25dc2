"""Private: the CLI verbs, one module per area; `guardgraph.cli` composes them.

Every `guardgraph` run imports all of these modules and has typer read every command's
signature, so they stay cheap: at module level only typer and the standard library; the
rest of guardgraph, and rich, is imported inside the functions that use it. They do not use
``from __future__ import annotations``: typer would compile each string annotation again at
every start-up; annotations of names imported only for type checking are quoted instead.
``tests/cli/test_cli_startup.py`` checks what importing the CLI loads.
"""
