"""The record filter behind ``AuditStore.query``: one definition, used by every backend."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from guardgraph.audit._chain import StoredRow, rules_column
from guardgraph.audit.events import AuditRecord, EventKind
from guardgraph.errors import AuditStoreError

__all__ = ["QueryFilter"]


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryFilter:
    session: str | None = None
    actor: str | None = None
    kind: str | None = None
    decision: str | None = None
    rule: str | None = None
    tool: str | None = None
    since: str | None = None
    until: str | None = None
    limit: int | None = None

    @classmethod
    def make(
        cls,
        *,
        session: str | None,
        actor: str | None,
        kind: EventKind | str | None,
        decision: str | None,
        rule: str | None,
        tool: str | None,
        since: str | None,
        until: str | None,
        limit: int | None,
    ) -> QueryFilter:
        if kind is not None:
            try:
                kind = str(EventKind(kind))
            except ValueError:
                choices = ", ".join(k.value for k in EventKind)
                raise AuditStoreError(
                    f"unknown event kind {kind!r}; expected one of {choices}"
                ) from None
        if limit is not None and limit < 0:
            raise AuditStoreError(f"limit must be >= 0, got {limit}")
        return cls(
            session=session, actor=actor, kind=kind, decision=decision, rule=rule,
            tool=tool, since=since, until=until, limit=limit,
        )

    def equalities(self) -> list[tuple[str, str]]:
        """(column, value) pairs for the exact-match filters; columns as every SQL schema
        names them."""
        pairs = [
            ("session", self.session),
            ("actor", self.actor),
            ("kind", self.kind),
            ("decision", self.decision),
            ("tool", self.tool),
        ]
        return [(c, v) for c, v in pairs if v is not None]

    def select_sql(self, *, mark: str, contains: str) -> tuple[str, list[str]]:
        """The SELECT of matching (body, hash) rows in seq order, for a SQL dialect whose
        parameter marker is ``mark`` and whose substring test is ``contains(haystack,
        needle)`` with ``{}`` for the two places, e.g. ``instr({}, {}) > 0``."""
        where: list[str] = []
        params: list[str] = []
        for column, value in self.equalities():
            where.append(f"{column} = {mark}")
            params.append(value)
        if self.rule is not None:
            where.append(contains.format("rules", mark))
            params.append(rules_column([self.rule]))  # framed: whole rule ids only
        if self.since is not None:
            where.append(f"ts >= {mark}")
            params.append(self.since)
        if self.until is not None:
            where.append(f"ts < {mark}")
            params.append(self.until)
        sql = "SELECT body, hash FROM gg_records"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq"
        if self.limit is not None:
            sql += f" LIMIT {int(self.limit)}"
        return sql, params

    def matches(self, row: StoredRow) -> bool:
        for column, value in self.equalities():
            if getattr(row, column) != value:
                return False
        if self.rule is not None and rules_column([self.rule]) not in row.rules:
            return False
        if self.since is not None and row.timestamp < self.since:
            return False
        return not (self.until is not None and row.timestamp >= self.until)

    def limited(self, records: Iterator[AuditRecord]) -> Iterator[AuditRecord]:
        return records if self.limit is None else itertools.islice(records, self.limit)
