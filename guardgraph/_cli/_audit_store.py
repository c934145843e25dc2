"""Private: opening the audit store a verb names, for every `guardgraph audit` verb.

Cheap at import, like every CLI module: the audit log is imported when a store opens.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from guardgraph._cli._console import fail_now
from guardgraph.errors import GuardgraphError

if TYPE_CHECKING:
    from guardgraph import audit

__all__ = ["opened_store"]


@contextmanager
def opened_store(target: str, *, file: Path | None, hint: str, read_only: bool = False,
                 as_json: bool = False) -> "Iterator[audit.AuditStore]":
    """The audit store at ``target``, closed afterwards; when ``file`` is given and is not
    a file, an error with ``hint`` instead of a new, empty log. ``read_only``: the store
    refuses every write and a target that is not an audit log (exit 2), so a reading verb
    never leaves a schema behind."""
    from guardgraph import audit

    if file is not None and not file.is_file():
        fail_now(f"no audit log at {target}", hint=hint, as_json=as_json)
    try:
        store = audit.open_store(target, read_only=read_only)
    except GuardgraphError as exc:
        fail_now(str(exc), as_json=as_json)
    try:
        yield store
    finally:
        store.close()
