"""The PostgreSQL store: one log shared by processes on several machines.

Appends lock the single head row (``SELECT ... FOR UPDATE``), so concurrent writers
serialise and sequence numbers stay unique and gapless (also a foreign key from each
record to its predecessor). Rows go in with ``COPY``. psycopg 3 is imported lazily: it is
the ``postgres`` extra.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from guardgraph.audit._canonical import GENESIS_HASH, record_from_body
from guardgraph.audit._chain import (
    assemble,
    default_clock,
    default_id,
    fresh_events,
    seal,
)
from guardgraph.audit._checkpoint import SignedCheckpoint
from guardgraph.audit._merkle import NodeKey, root_keys
from guardgraph.audit._query import QueryFilter
from guardgraph.audit._store import RawRecord, check_options
from guardgraph.audit.events import AuditRecord, Event, EventKind
from guardgraph.errors import AuditStoreError, AuditVerificationError

__all__ = ["PostgresStore"]

_OPTIONS = frozenset({"clock", "id_factory", "schema", "connect_timeout", "read_only"})
_TABLES = ("gg_records", "gg_nodes", "gg_checkpoints", "gg_head")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS gg_records (
    seq BIGINT PRIMARY KEY,
    prev_seq BIGINT REFERENCES gg_records (seq),
    id TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL,
    body BYTEA NOT NULL,
    session TEXT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    decision TEXT,
    tool TEXT,
    rules TEXT NOT NULL,
    ts TEXT NOT NULL,
    idem_key TEXT UNIQUE,
    CHECK ((seq = 0 AND prev_seq IS NULL) OR (seq > 0 AND prev_seq = seq - 1))
);
CREATE INDEX IF NOT EXISTS gg_records_session ON gg_records (session);
CREATE INDEX IF NOT EXISTS gg_records_actor ON gg_records (actor);
CREATE INDEX IF NOT EXISTS gg_records_tool ON gg_records (tool);
CREATE INDEX IF NOT EXISTS gg_records_ts ON gg_records (ts);
CREATE TABLE IF NOT EXISTS gg_nodes (
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE IF NOT EXISTS gg_checkpoints (size BIGINT PRIMARY KEY, note TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gg_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO gg_head (id, size, last_hash) VALUES (1, 0, '{genesis}') ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION gg_append_only() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE OR REPLACE TRIGGER gg_records_append_only BEFORE UPDATE OR DELETE ON gg_records
FOR EACH ROW EXECUTE FUNCTION gg_append_only();
CREATE OR REPLACE TRIGGER gg_nodes_append_only BEFORE UPDATE OR DELETE ON gg_nodes
FOR EACH ROW EXECUTE FUNCTION gg_append_only();
CREATE OR REPLACE TRIGGER gg_checkpoints_append_only BEFORE UPDATE OR DELETE ON gg_checkpoints
FOR EACH ROW EXECUTE FUNCTION gg_append_only();
CREATE OR REPLACE TRIGGER gg_head_no_delete BEFORE DELETE ON gg_head
FOR EACH ROW EXECUTE FUNCTION gg_append_only();
-- TRUNCATE fires no row trigger: each table refuses it with a statement-level one.
CREATE OR REPLACE TRIGGER gg_records_no_truncate BEFORE TRUNCATE ON gg_records
FOR EACH STATEMENT EXECUTE FUNCTION gg_append_only();
CREATE OR REPLACE TRIGGER gg_nodes_no_truncate BEFORE TRUNCATE ON gg_nodes
FOR EACH STATEMENT EXECUTE FUNCTION gg_append_only();
CREATE OR REPLACE TRIGGER gg_checkpoints_no_truncate BEFORE TRUNCATE ON gg_checkpoints
FOR EACH STATEMENT EXECUTE FUNCTION gg_append_only();
CREATE OR REPLACE TRIGGER gg_head_no_truncate BEFORE TRUNCATE ON gg_head
FOR EACH STATEMENT EXECUTE FUNCTION gg_append_only();
""".replace("{genesis}", GENESIS_HASH)

_RECORD_COLUMNS = (
    "seq, prev_seq, id, hash, body, session, actor, kind, decision, tool, rules, ts, idem_key"
)


def _split_target(url: str, schema: str | None) -> tuple[str, str]:
    """Strip our ``schema`` query parameter from the URL; libpq would reject it."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    ours = [v for k, v in query if k == "schema"]
    rest = [(k, v) for k, v in query if k != "schema"]
    name = schema or (ours[-1] if ours else "public")
    return urlunsplit(parts._replace(query=urlencode(rest))), name


class PostgresStore:
    """An audit store in a PostgreSQL schema (``public`` unless ``schema`` is given)."""

    def __init__(self, url: str, **options: Any) -> None:
        check_options("PostgreSQL", options, _OPTIONS)
        try:
            import psycopg
        except ImportError:
            raise AuditStoreError(
                "the PostgreSQL audit store needs psycopg 3: pip install 'guardgraph[postgres]'"
            ) from None
        self._psycopg = psycopg
        self._clock = options.get("clock", default_clock)
        self._new_id = options.get("id_factory", default_id)
        self._url, self.schema = _split_target(url, options.get("schema"))
        self._connect_timeout = int(options.get("connect_timeout", 10))
        self._lock = threading.RLock()
        self.read_only = bool(options.get("read_only", False))
        self._conn = self._connect(create=not self.read_only)
        if self.read_only:
            with self._errors("read"):
                missing = [t for t in _TABLES if self._conn.execute(
                    "SELECT to_regclass(%s)", (f'"{self.schema}".{t}',)).fetchone()[0] is None]
            if missing:
                self._conn.close()
                raise AuditStoreError(
                    f"schema {self.schema} of the PostgreSQL store is not an audit log "
                    f"(no {', '.join(missing)})"
                )
            # Every statement of this session is then refused if it would write.
            self._conn.execute("SET default_transaction_read_only = on")
            return
        with self._errors("create the schema of"), self._conn.transaction():
            # Processes opening a fresh database race on CREATE ... IF NOT EXISTS.
            self._conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema,))
            self._conn.execute(_SCHEMA)

    def _connect(self, *, create: bool = False) -> Any:
        psycopg = self._psycopg
        try:
            conn = psycopg.connect(self._url, connect_timeout=self._connect_timeout)
            conn.autocommit = True  # transactions are explicit: conn.transaction()
            ident = psycopg.sql.Identifier(self.schema)
            if create:  # readers need no CREATE privilege
                conn.execute(psycopg.sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
            conn.execute(psycopg.sql.SQL("SET search_path TO {}").format(ident))
        except psycopg.Error as exc:
            msg = " ".join(str(exc).split())  # libpq's message spans several lines
            raise AuditStoreError(f"cannot connect to the PostgreSQL audit store: {msg}") from None
        return conn

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except self._psycopg.Error as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise AuditStoreError(
                f"cannot {doing} the PostgreSQL audit store (schema {self.schema}): {msg}"
            ) from None

    def append(self, events: Sequence[Event]) -> list[AuditRecord]:
        with self._errors("append to"), self._lock, self._conn.transaction():
            conn = self._conn
            size, prev = conn.execute(
                "SELECT size, last_hash FROM gg_head WHERE id = 1 FOR UPDATE"
            ).fetchone()
            keys = [k for ev in events if (k := ev.idempotency_key) is not None]
            existing: dict[str, AuditRecord] = {}
            if keys:
                for body, h in conn.execute(
                    "SELECT body, hash FROM gg_records WHERE idem_key = ANY(%s)", (keys,)
                ):
                    rec = record_from_body(bytes(body), h)
                    existing[rec.idempotency_key or ""] = rec
            fresh = fresh_events(events, existing)
            frontier = [self._node_map(conn, root_keys(size))[k] for k in root_keys(size)]
            sealed = seal(
                fresh, size=size, prev_hash=prev, frontier=frontier,
                clock=self._clock, new_id=self._new_id,
            )
            if sealed.rows:
                with conn.cursor() as cur:
                    with cur.copy(f"COPY gg_records ({_RECORD_COLUMNS}) FROM STDIN") as cp:
                        for row in sealed.rows:
                            cp.write_row(row)
                    with cur.copy("COPY gg_nodes (level, idx, hash) FROM STDIN") as cp:
                        for node in sealed.nodes:
                            cp.write_row(node)
                conn.execute(
                    "UPDATE gg_head SET size = %s, last_hash = %s WHERE id = 1",
                    (size + len(sealed.rows), sealed.last_hash),
                )
        return assemble(events, sealed.records, existing)

    def _node_map(self, conn: Any, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        if not keys:
            return {}
        levels = [k[0] for k in keys]
        idxs = [k[1] for k in keys]
        got = {
            (int(level), int(idx)): bytes(h)
            for level, idx, h in conn.execute(
                "SELECT n.level, n.idx, n.hash FROM gg_nodes n"
                " JOIN unnest(%s::int[], %s::bigint[]) AS k(level, idx)"
                " ON n.level = k.level AND n.idx = k.idx",
                (levels, idxs),
            )
        }
        for k in keys:
            if k not in got:
                raise AuditStoreError(f"PostgreSQL audit store: Merkle node {k} is missing")
        return got

    def _one(self, sql: str, params: Sequence[Any]) -> AuditRecord | None:
        with self._errors("read"), self._lock:
            row = self._conn.execute(sql, params).fetchone()
        return None if row is None else record_from_body(bytes(row[0]), row[1])

    def get(self, record_id: str) -> AuditRecord | None:
        return self._one("SELECT body, hash FROM gg_records WHERE id = %s", (record_id,))

    def get_by_key(self, idempotency_key: str) -> AuditRecord | None:
        return self._one(
            "SELECT body, hash FROM gg_records WHERE idem_key = %s", (idempotency_key,)
        )

    def ids_with_prefix(self, prefix: str, *, limit: int = 2) -> list[str]:
        # starts_with, not a range: a range would follow the database's collation.
        with self._errors("read"), self._lock:
            rows = self._conn.execute(
                "SELECT id FROM gg_records WHERE starts_with(id, %s) ORDER BY id LIMIT %s",
                (prefix, limit),
            ).fetchall()
        return [i for (i,) in rows]

    def size(self) -> int:
        with self._errors("read"), self._lock:
            (n,) = self._conn.execute("SELECT size FROM gg_head WHERE id = 1").fetchone()
        return int(n)

    def _stream(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        # Its own connection and a server-side cursor: a million rows never sit in memory.
        conn = self._connect()
        try:
            with self._errors("read"), conn.transaction(), conn.cursor(name="gg_stream") as cur:
                cur.itersize = 5000
                cur.execute(sql, params)
                yield from cur
        finally:
            conn.close()

    def iter_raw(self, *, start: int = 0, stop: int | None = None) -> Iterator[RawRecord]:
        end = stop if stop is not None else 2**62
        rows = self._stream(
            "SELECT seq, hash, body FROM gg_records WHERE seq >= %s AND seq < %s ORDER BY seq",
            (start, end),
        )
        return ((int(seq), h, bytes(body)) for seq, h, body in rows)

    def iter_records(self, *, start: int = 0, stop: int | None = None) -> Iterator[AuditRecord]:
        return (record_from_body(body, h) for _, h, body in self.iter_raw(start=start, stop=stop))

    def query(
        self,
        *,
        session: str | None = None,
        actor: str | None = None,
        kind: EventKind | str | None = None,
        decision: str | None = None,
        rule: str | None = None,
        tool: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int | None = None,
    ) -> Iterator[AuditRecord]:
        flt = QueryFilter.make(
            session=session, actor=actor, kind=kind, decision=decision, rule=rule,
            tool=tool, since=since, until=until, limit=limit,
        )
        sql, params = flt.select_sql(mark="%s", contains="strpos({}, {}) > 0")
        return (record_from_body(bytes(body), h) for body, h in self._stream(sql, params))

    def nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        with self._errors("read"), self._lock:
            return self._node_map(self._conn, keys)

    def checkpoints(self) -> list[SignedCheckpoint]:
        with self._errors("read"), self._lock:
            rows = self._conn.execute("SELECT note FROM gg_checkpoints ORDER BY size").fetchall()
        return [SignedCheckpoint.parse(note) for (note,) in rows]

    def get_checkpoint(self, size: int | None = None) -> SignedCheckpoint | None:
        with self._errors("read"), self._lock:
            if size is None:
                row = self._conn.execute(
                    "SELECT note FROM gg_checkpoints ORDER BY size DESC LIMIT 1"
                ).fetchone()
            else:
                row = self._conn.execute(
                    "SELECT note FROM gg_checkpoints WHERE size = %s", (size,)
                ).fetchone()
        return None if row is None else SignedCheckpoint.parse(row[0])

    def add_checkpoint(self, checkpoint: SignedCheckpoint) -> SignedCheckpoint:
        with self._errors("write a checkpoint to"), self._lock:
            self._conn.execute(
                "INSERT INTO gg_checkpoints (size, note) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (checkpoint.size, checkpoint.note),
            )
            (note,) = self._conn.execute(
                "SELECT note FROM gg_checkpoints WHERE size = %s", (checkpoint.size,)
            ).fetchone()
        have = SignedCheckpoint.parse(note)
        if have.root_hash != checkpoint.root_hash:
            raise AuditVerificationError(
                f"a checkpoint of size {checkpoint.size} with another root is stored",
                code="GG505",
            )
        return have

    def close(self) -> None:
        with self._lock:
            self._conn.close()
