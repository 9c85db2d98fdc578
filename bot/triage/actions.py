"""Fixes offered behind an approval. Params are plain values the remediation layer re-checks."""

from __future__ import annotations

from bot.triage.model import ActionKind, ProposedAction
from bot.triage.sessions import Stuck
from bot.triage.units import human_duration


def _sessions(n: int) -> str:
    return "session" if n == 1 else "sessions"


def _more(n: int) -> str:
    return f"{n} more connection" if n == 1 else f"{n} more connections"


def terminate_stuck(role: str, state: str, min_age_s: int, found: Stuck) -> ProposedAction:
    return ProposedAction(
        kind=ActionKind.TERMINATE,
        title=f"Terminate {role}'s sessions {state} for more than {human_duration(min_age_s)}",
        summary=(
            f"Ends {found.count_text} {state} {_sessions(found.count)} of {role} and frees their "
            "connection "
            "slots; their open transactions, if any, are rolled back."
        ),
        params={"role": role, "state": state, "min_age_s": min_age_s, "pids": found.pids},
    )


def raise_role_limit(role: str, limit: int, new_limit: int) -> ProposedAction:
    return ProposedAction(
        kind=ActionKind.SET_ROLE_CONN_LIMIT,
        title=f"Raise {role}'s CONNECTION LIMIT from {limit} to {new_limit}",
        summary=f"Lets {role} open {_more(new_limit - limit)}; frees none.",
        params={"role": role, "limit": new_limit, "current_limit": limit},
    )


def raise_database_limit(database: str, limit: int, new_limit: int) -> ProposedAction:
    return ProposedAction(
        kind=ActionKind.SET_DATABASE_CONN_LIMIT,
        title=f"Raise database {database}'s CONNECTION LIMIT from {limit} to {new_limit}",
        summary=f"Lets {database} take {_more(new_limit - limit)}; frees none.",
        params={"database": database, "limit": new_limit, "current_limit": limit},
    )


def set_role_idle_tx_timeout(role: str, timeout: str) -> ProposedAction:
    return ProposedAction(
        kind=ActionKind.SET_ROLE_IDLE_TX_TIMEOUT,
        title=f"Set idle_in_transaction_session_timeout = {timeout} for {role}",
        summary=(
            f"New sessions of {role} are ended after {timeout} idle in a transaction; "
            "frees nothing now, keeps it from happening again."
        ),
        params={"role": role, "timeout": timeout},
    )
