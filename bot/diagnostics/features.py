"""Name the session state an idle backend still carries, from its last command and its locks.

Under transaction pooling a server connection goes to the next client with whatever the last
one left: channels it LISTENs on, session settings (SET), prepared statements, advisory locks
taken with the session-level functions. Only what the server shows is seen: the first command
of the backend's last query text, and advisory locks held while idle (which can only be
session-level, since no transaction is open). Prepared statements of the extended protocol
never appear as PREPARE and cannot be seen this way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from bot.diagnostics.model import SessionFeature

_NAME = r'("(?:[^"]|"")+"|[\w$.]+)'
_LISTEN = re.compile(rf"^\s*listen\s+{_NAME}", re.I)
_PREPARE = re.compile(rf"^\s*prepare\s+(?!transaction\b){_NAME}", re.I)
# SET LOCAL, SET TRANSACTION and SET CONSTRAINTS end with the transaction: not session state.
_SET = re.compile(
    r"^\s*set\s+(?:(session\s+authorization|session\s+characteristics)\b|"
    r"(?:session\s+)?(?!local\b|transaction\b|constraints\b)(time\s+zone|" + _NAME[1:-1] + "))",
    re.I,
)


def _unquote(name: str) -> str:
    if name.startswith('"') and name.endswith('"'):
        return name[1:-1].replace('""', '"')
    return name.lower()


def classify(query: str | None) -> tuple[str, str | None] | None:
    """(`kind`, name) for a LISTEN, session SET or PREPARE command; None for anything else."""
    if not query:
        return None
    if m := _LISTEN.match(query):
        return "listen", _unquote(m[1])
    if m := _PREPARE.match(query):
        return "prepare", _unquote(m[1])
    if m := _SET.match(query):
        name = " ".join((m[1] or m[2]).split())
        if name.lower() == "time zone":
            return "set", "timezone"
        return "set", _unquote(name) if name.startswith('"') else name.lower()
    return None


def session_features(
    rows: Sequence[Any], role_names: Mapping[int, str], db_names: Mapping[int, str]
) -> tuple[SessionFeature, ...]:
    """Typed features from session_features.sql rows (pid, usesysid, datid, query, advisory)."""
    found: list[SessionFeature] = []
    for r in rows:
        role = role_names.get(r.usesysid)
        database = db_names.get(r.datid)
        command = classify(r.query)
        if command is not None:
            found.append(SessionFeature(r.pid, role, database, command[0], command[1]))
        if r.advisory:
            found.append(SessionFeature(r.pid, role, database, "advisory_lock", None))
    return tuple(found)
