"""The SQLite store (WAL): the embedded default.

Appends take the database write lock with ``BEGIN IMMEDIATE``, so writers in several
threads and processes serialise and the chain never forks; triggers keep the sequence
gapless and refuse updates and deletes (a guard against accidents: whoever holds the file
can drop them, which is why verification relies on hashes and signatures, not triggers).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

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

__all__ = ["SqliteStore"]

_OPTIONS = frozenset({"clock", "id_factory", "synchronous", "timeout", "read_only"})
_TABLES = ("gg_checkpoints", "gg_nodes", "gg_records")
_CHUNK = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS gg_records (
    seq INTEGER PRIMARY KEY,
    prev_seq INTEGER REFERENCES gg_records (seq),
    id TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL,
    body BLOB NOT NULL,
    session TEXT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    decision TEXT,
    tool TEXT,
    rules TEXT NOT NULL,
    ts TEXT NOT NULL,
    idem_key TEXT UNIQUE,
    -- gapless: every record but the first references its predecessor (foreign key)
    CHECK ((seq = 0 AND prev_seq IS NULL) OR (seq > 0 AND prev_seq = seq - 1))
);
CREATE INDEX IF NOT EXISTS gg_records_session ON gg_records (session);
CREATE INDEX IF NOT EXISTS gg_records_actor ON gg_records (actor);
CREATE INDEX IF NOT EXISTS gg_records_tool ON gg_records (tool);
CREATE INDEX IF NOT EXISTS gg_records_ts ON gg_records (ts);
CREATE TABLE IF NOT EXISTS gg_nodes (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gg_checkpoints (
    size INTEGER PRIMARY KEY,
    note TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS gg_records_no_update BEFORE UPDATE ON gg_records
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS gg_records_no_delete BEFORE DELETE ON gg_records
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS gg_nodes_no_update BEFORE UPDATE ON gg_nodes
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS gg_nodes_no_delete BEFORE DELETE ON gg_nodes
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS gg_checkpoints_no_update BEFORE UPDATE ON gg_checkpoints
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS gg_checkpoints_no_delete BEFORE DELETE ON gg_checkpoints
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

_INSERT_RECORD = (
    "INSERT INTO gg_records (seq, prev_seq, id, hash, body, session, actor, kind, decision,"
    " tool, rules, ts, idem_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class SqliteStore:
    """An audit store in one SQLite file, in WAL mode."""

    def __init__(self, path: Path, **options: Any) -> None:
        check_options("SQLite", options, _OPTIONS)
        self.path = path
        self._clock = options.get("clock", default_clock)
        self._new_id = options.get("id_factory", default_id)
        sync = str(options.get("synchronous", "full")).upper()
        if sync not in {"FULL", "NORMAL"}:
            raise AuditStoreError(f"synchronous must be 'full' or 'normal', got {sync.lower()!r}")
        self._sync = sync
        self._timeout = float(options.get("timeout", 60.0))
        self.read_only = bool(options.get("read_only", False))
        self._lock = threading.RLock()
        if path.is_dir():
            raise AuditStoreError(f"audit store {path} is a directory, not a database file")
        if self.read_only and not path.is_file():
            raise AuditStoreError(f"no audit log at {path}")
        with self._errors("open"):
            self._conn = self._connect()
        try:
            with self._errors("open"):
                if self.read_only:
                    self._check_tables()
                else:
                    # One script, one write transaction: processes opening a new file race
                    # safely.
                    self._conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
        except BaseException:
            self._conn.close()
            raise

    def _check_tables(self) -> None:
        found = {name for (name,) in self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = [t for t in _TABLES if t not in found]
        if missing:
            what = "an empty file" if self.path.stat().st_size == 0 else (
                "a SQLite database without the tables " + ", ".join(missing))
            raise AuditStoreError(f"{self.path} is not an audit log ({what})")

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            # mode=ro: SQLite refuses every write, so a reader can never add a schema, a
            # trigger or a journal mode to a file that was not an audit log.
            uri = f"file:{quote(str(self.path.absolute()))}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, timeout=self._timeout, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            return conn
        conn = sqlite3.connect(
            self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._sync}")
        conn.execute("PRAGMA foreign_keys=ON")  # the gapless-sequence constraint
        return conn

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if "file is not a database" in str(exc):
                raise AuditStoreError(
                    f"{self.path} is not an audit log (not a SQLite database)"
                ) from None
            raise AuditStoreError(f"cannot {doing} audit store {self.path}: {exc}") from None
        except sqlite3.Error as exc:
            raise AuditStoreError(f"cannot {doing} audit store {self.path}: {exc}") from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding SQLite's write lock from its first statement."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def append(self, events: Sequence[Event]) -> list[AuditRecord]:
        with self._errors("append to"), self._write() as conn:
            keys = [k for ev in events if (k := ev.idempotency_key) is not None]
            existing = self._by_keys(conn, keys) if keys else {}
            fresh = fresh_events(events, existing)
            row = conn.execute(
                "SELECT seq, hash FROM gg_records ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            size, prev = (row[0] + 1, row[1]) if row else (0, GENESIS_HASH)
            frontier = self._node_list(conn, root_keys(size))
            sealed = seal(
                fresh, size=size, prev_hash=prev, frontier=frontier,
                clock=self._clock, new_id=self._new_id,
            )
            conn.executemany(_INSERT_RECORD, sealed.rows)
            conn.executemany(
                "INSERT INTO gg_nodes (level, idx, hash) VALUES (?, ?, ?)", sealed.nodes
            )
        return assemble(events, sealed.records, existing)

    def _by_keys(self, conn: sqlite3.Connection, keys: list[str]) -> dict[str, AuditRecord]:
        out: dict[str, AuditRecord] = {}
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            marks = ",".join("?" * len(part))
            for body, h in conn.execute(
                f"SELECT body, hash FROM gg_records WHERE idem_key IN ({marks})", part
            ):
                rec = record_from_body(body, h)
                if rec.idempotency_key is not None:
                    out[rec.idempotency_key] = rec
        return out

    def _node_list(self, conn: sqlite3.Connection, keys: Sequence[NodeKey]) -> list[bytes]:
        out: list[bytes] = []
        for level, idx in keys:
            row = conn.execute(
                "SELECT hash FROM gg_nodes WHERE level = ? AND idx = ?", (level, idx)
            ).fetchone()
            if row is None:
                raise AuditStoreError(
                    f"audit store {self.path}: Merkle node ({level}, {idx}) is missing"
                )
            out.append(bytes(row[0]))
        return out

    def _one(self, sql: str, params: Sequence[Any]) -> AuditRecord | None:
        with self._errors("read"), self._lock:
            row = self._conn.execute(sql, params).fetchone()
        return None if row is None else record_from_body(row[0], row[1])

    def get(self, record_id: str) -> AuditRecord | None:
        return self._one("SELECT body, hash FROM gg_records WHERE id = ?", (record_id,))

    def get_by_key(self, idempotency_key: str) -> AuditRecord | None:
        return self._one(
            "SELECT body, hash FROM gg_records WHERE idem_key = ?", (idempotency_key,)
        )

    def ids_with_prefix(self, prefix: str, *, limit: int = 2) -> list[str]:
        if not prefix:
            sql, params = "SELECT id FROM gg_records ORDER BY id LIMIT ?", (limit,)
        else:
            # A range on the unique index: text compares as UTF-8 bytes (BINARY), so the ids
            # that start with the prefix are exactly those in [prefix, its successor).
            upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
            sql = "SELECT id FROM gg_records WHERE id >= ? AND id < ? ORDER BY id LIMIT ?"
            params = (prefix, upper, limit)  # type: ignore[assignment]
        with self._errors("read"), self._lock:
            return [i for (i,) in self._conn.execute(sql, params)]

    def size(self) -> int:
        with self._errors("read"), self._lock:
            (n,) = self._conn.execute("SELECT COALESCE(MAX(seq) + 1, 0) FROM gg_records").fetchone()
        return int(n)

    def _stream(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        # A reader of its own: a WAL snapshot that appends in other threads never disturb.
        with self._errors("read"):
            conn = self._reader()
        try:
            with self._errors("read"):
                conn.execute("BEGIN")
                cur = conn.execute(sql, params)
                while rows := cur.fetchmany(_CHUNK):
                    yield from rows
        finally:
            conn.close()

    def _reader(self) -> sqlite3.Connection:
        uri = f"file:{quote(str(self.path.absolute()))}?mode={'ro' if self.read_only else 'rw'}"
        return sqlite3.connect(uri, uri=True, timeout=self._timeout, isolation_level=None)

    def iter_raw(self, *, start: int = 0, stop: int | None = None) -> Iterator[RawRecord]:
        end = stop if stop is not None else 2**62
        sql = "SELECT seq, hash, body FROM gg_records WHERE seq >= ? AND seq < ? ORDER BY seq"
        return self._stream(sql, (start, end))

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
        sql, params = flt.select_sql(mark="?", contains="instr({}, {}) > 0")
        return (record_from_body(body, h) for body, h in self._stream(sql, params))

    def nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        with self._errors("read"), self._lock:
            return dict(zip(keys, self._node_list(self._conn, keys), strict=True))

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
                    "SELECT note FROM gg_checkpoints WHERE size = ?", (size,)
                ).fetchone()
        return None if row is None else SignedCheckpoint.parse(row[0])

    def add_checkpoint(self, checkpoint: SignedCheckpoint) -> SignedCheckpoint:
        with self._errors("write a checkpoint to"), self._write() as conn:
            row = conn.execute(
                "SELECT note FROM gg_checkpoints WHERE size = ?", (checkpoint.size,)
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO gg_checkpoints (size, note) VALUES (?, ?)",
                    (checkpoint.size, checkpoint.note),
                )
                return checkpoint
        have = SignedCheckpoint.parse(row[0])
        if have.root_hash != checkpoint.root_hash:
            raise AuditVerificationError(
                f"a checkpoint of size {checkpoint.size} with another root is stored",
                code="GG505",
            )
        return have

    def close(self) -> None:
        with self._lock:
            self._conn.close()
