"""The exception tree. Library errors are converted at the boundary (`raise ... from exc`).

Every message says what happened and what to do next, and never carries a secret: DSNs are
shown through `bot.redact.redact_dsn`, never as given.
"""

from __future__ import annotations

from bot.words import plural


class PgconnError(Exception):
    """Base of every error pgconn raises on purpose."""


class ConfigError(PgconnError):
    """The configuration file is missing, unreadable or invalid.

    `problems` lists every problem found, each prefixed with its path in the file
    (e.g. `clusters.prod.dsn: required`), so all of them can be fixed in one go.
    """

    def __init__(self, problems: list[str], source: str = "config") -> None:
        self.problems = problems
        self.source = source
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {plural(len(problems), 'problem')}:\n{lines}")


class UnknownClusterError(PgconnError):
    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        hint = ", ".join(known) if known else "none configured"
        super().__init__(f"unknown cluster {name!r}; configured clusters: {hint}")


class DiagnosticsError(PgconnError):
    """Live diagnostics could not be taken (connection refused, timeout, permission)."""


class CannotConnectError(DiagnosticsError):
    """The diagnostics connection was refused. `sqlstate` is set when the server said why."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        self.sqlstate = sqlstate
        super().__init__(message)


class DeadlineError(DiagnosticsError):
    """A server did not answer within pgconn's client-side deadline (frozen process, storage
    hang, partition): the query was cancelled and the connection abandoned."""

    def __init__(self, seconds: float, what: str = "the server") -> None:
        self.seconds = seconds
        super().__init__(f"{what} did not answer within {seconds:g} s")


class PoolerError(DiagnosticsError):
    """PgBouncer's admin console could not be read (refused, unreachable, not a console user).
    The message is safe to show: passwords are masked."""


class PlaybookError(PgconnError):
    """A playbook file is invalid; raised at start-up with the file and the problem."""


class ThrowawayClusterError(PgconnError):
    """A throwaway PostgreSQL server (demo, tests) could not be created or started."""


class StoreError(PgconnError):
    """The state store (SQLite file or PostgreSQL database) cannot be opened or used."""
