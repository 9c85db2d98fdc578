"""SQLite backend: the default, one file at `state_path`, for a single bot process or host."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.errors import StoreError
from bot.store.backend import Cursorish, Store, split_script, statement

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
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA busy_timeout=10000")
            for ddl in (*split_script(statement("schema")), *_AUDIT_GUARDS):
                self._conn.execute(ddl)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the state store at {path}: {exc}") from exc
        self._lock = threading.Lock()

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
        try:
            with self._lock:
                self._conn.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._conn.close()
