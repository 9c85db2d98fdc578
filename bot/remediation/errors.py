"""Why a fix cannot be proposed or run. Every message says what to do next and carries no
secret (driver errors go through `bot.redact` first)."""

from __future__ import annotations

from bot.errors import PgconnError


class RemediationError(PgconnError):
    """Base of the remediation errors; the message is meant for the person who clicked."""


class NotConfiguredError(RemediationError):
    """The cluster has no `admin_dsn`, or nobody may approve: nothing can be requested or run."""


class InvalidActionError(RemediationError):
    """The proposed action is unknown or its parameters are missing or out of range."""


class NothingToDoError(RemediationError):
    """No live session matches the selection now, or the change is already in place."""


class AdminConnectionError(RemediationError):
    """The admin connection could not be opened or a statement on it failed."""
