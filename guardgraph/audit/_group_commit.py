"""Group commit: concurrent callers share one durable transaction (leader/follower).

The first caller to arrive leads: it commits everything queued in one ``append``. Callers
that arrive meanwhile queue up; when the leader is done it wakes the callers it committed
and hands leadership to the first caller still queued, which commits the next group. A
caller returns only when its own events are committed, so durability costs one commit per
group instead of one per record, and only the threads concerned are woken.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from guardgraph.audit.events import AuditRecord, Event
from guardgraph.errors import AuditCheckpointError, AuditStoreError

__all__ = ["GroupCommit"]


class _Pending:
    """One caller's events in the group-commit queue, and how its turn ended."""

    __slots__ = ("after_error", "done", "error", "events", "leader", "result", "wake")

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.result: list[AuditRecord] = []
        self.error: BaseException | None = None
        self.after_error: Exception | None = None  # ``after`` failed once this was committed
        self.done = False
        self.leader = False  # this caller commits the next group
        self.wake = threading.Event()  # set when done, or when promoted to leader


class GroupCommit:
    """Serialises ``append`` calls from many threads into grouped transactions.

    ``append`` writes one atomic batch; ``after`` runs on each committed group, in log
    order, before the next group starts (sinks, checkpoints).
    """

    def __init__(
        self,
        append: Callable[[list[Event]], list[AuditRecord]],
        after: Callable[[list[AuditRecord]], None],
        *,
        max_batch: int,
    ) -> None:
        self._append = append
        self._after = after
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._writing = False  # a leader is committing; when False the queue is empty

    def submit(self, prepared: list[Event]) -> list[AuditRecord]:
        """Commit ``prepared`` atomically (with whatever else is queued); returns after the
        commit, or raises the error that refused these events."""
        mine = _Pending(prepared)
        with self._lock:
            self._queue.append(mine)
            if not self._writing:
                self._writing = mine.leader = True
        if not mine.leader:
            mine.wake.wait()
        if mine.leader:
            self._lead(mine)
        if mine.error is not None:
            raise mine.error
        if mine.after_error is not None:
            first, last = mine.result[0].seq, mine.result[-1].seq
            raise AuditCheckpointError(
                f"records {first}..{last} are committed, but signing the checkpoint after "
                f"them failed: {mine.after_error}; do not write them again (err.records holds "
                "them)", records=tuple(mine.result),
            ) from mine.after_error
        return mine.result

    def _take(self) -> list[_Pending]:
        batch: list[_Pending] = []
        count = 0
        queue = self._queue
        while queue and (not batch or count + len(queue[0].events) <= self._max_batch):
            p = queue.pop(0)
            batch.append(p)
            count += len(p.events)
        return batch

    def _lead(self, mine: _Pending) -> None:
        with self._lock:
            batch = self._take()
        records: list[AuditRecord] = []
        try:
            records = self._commit(batch)
        finally:
            for p in batch:
                if not p.done:  # interrupted (BaseException): nobody may wait forever
                    p.error = p.error or AuditStoreError("the group commit was interrupted")
                    p.done = True
                p.wake.set()
            try:
                if records:
                    self._after(records)  # in log order, before the next group
            except Exception as exc:
                # The records are durable: the failure is reported as what it is, never as
                # a failed append a caller would retry (and so duplicate).
                if mine.error is None and mine.result:
                    mine.after_error = exc
            finally:
                with self._lock:
                    if self._queue:
                        nxt = self._queue[0]
                        nxt.leader = True
                        nxt.wake.set()
                    else:
                        self._writing = False

    def _commit(self, batch: list[_Pending]) -> list[AuditRecord]:
        """Append the group; returns its records (empty when it failed)."""
        try:
            records = self._append([ev for p in batch for ev in p.events])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
                batch[0].done = True
                return []
            # One bad event must not fail its neighbours: retry each caller on its own.
            return [r for p in batch for r in self._commit([p])]
        i = 0
        for p in batch:
            p.result = records[i : i + len(p.events)]
            i += len(p.events)
            p.done = True
        return records

