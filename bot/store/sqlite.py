"""SQLite backend: the default, one file at `state_path`, for a single bot process or host.

Opening checks the file's integrity (`PRAGMA quick_check`) and says how to recover when it is
damaged. Readiness (`healthy`) checks that the path still names the file that was opened (a
file deleted or replaced while serving would take every later write with it) and that a write
commits (a read-only file or directory, a full disk).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.errors import StoreError
from bot.store.backend import Cursorish, Store, split_script, statement

log = logging.getLogger(__name__)

RECOVER = (
    "Stop pgconn, move the file aside (it can still be read with `sqlite3 FILE .recover`), and "
    'either restore the latest backup to {path} (docs/guarantees.md, "Backing up the store") '
    "or start without it: pgconn creates an empty store, and requests that were pending must "
    "be made again."
)

# Append-only audit log: enforced by the database, not only by the code.
_AUDIT_GUARDS = (
    "CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
)


class _Cursor(Cursorish):
    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur
        self.rowcount = cur.rowcount

    def rows(self) -> list[Mapping[str, Any]]:
        return list(self._cur.fetchall())


class SqliteStore(Store):
    integrity_errors = (sqlite3.IntegrityError,)

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # One connection shared under a lock: writes are serialised by SQLite anyway.
            self._conn = sqlite3.connect(
                path, check_same_thread=False, timeout=10, isolation_level=None
            )
            self._conn.row_factory = sqlite3.Row
            self._check_integrity()
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA busy_timeout=10000")
            for ddl in (*split_script(statement("schema")), *_AUDIT_GUARDS):
                self._conn.execute(ddl)
            self._identity = _identity(path)
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"the state store at {path} is damaged ({exc}). " + RECOVER.format(path=path)
            ) from exc
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the state store at {path}: {exc}") from exc
        self._lock = threading.Lock()
        self._told: str | None = None

    def _check_integrity(self) -> None:
        rows = self._conn.execute("PRAGMA quick_check").fetchall()
        problems = [str(r[0]) for r in rows if str(r[0]) != "ok"]
        if problems:
            raise sqlite3.DatabaseError("; ".join(problems[:3]))

    @contextmanager
    def _run(self, name: str, params: Mapping[str, Any]) -> Iterator[Cursorish]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                cur = self._conn.execute(statement(name), dict(params))
                yield _Cursor(cur)
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def healthy(self) -> bool:
        problem = self.problem()
        if problem != self._told:  # said once per change, not on every probe
            if problem:
                log.error("state store not ready: %s", problem)
            self._told = problem
        return problem is None

    def problem(self) -> str | None:
        """Why the store cannot do its job now, or None."""
        try:
            now = _identity(self.path)
        except OSError:
            return f"{self.path} is gone (deleted or moved while pgconn runs); restart pgconn"
        if now != self._identity:
            return f"{self.path} is another file than the one opened (replaced); restart pgconn"
        try:
            with self._lock:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    self._conn.execute(
                        "INSERT INTO leases (name, holder, expires_at) VALUES "
                        "('pgconn-store-probe', 'readiness', :at) ON CONFLICT (name) "
                        "DO UPDATE SET expires_at = excluded.expires_at",
                        {"at": time.time()},
                    )
                    self._conn.execute("COMMIT")
                except BaseException:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            return f"{self.path} does not take writes: {exc}"
        return None

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _identity(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino
