"""Why pgconn could not connect, in plain words, with the next step for that cause.

Only a refusal for lack of slots calls for the reserved-slots advice; a name that does not
resolve, a port nobody listens on or a rejected password each have their own answer. Pure: it
reads the (already redacted) libpq message and the SQLSTATE.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from bot.names import is_configured_name

# SQLSTATEs of refusals for lack of connection slots.
CAPACITY_SQLSTATES = frozenset({"53300"})


@dataclass(frozen=True, slots=True)
class Cause:
    kind: str  # dns, refused, password, auth, timeout, role, database, not_ready, capacity, other
    answer: str
    next_step: str

    @property
    def capacity(self) -> bool:
        return self.kind == "capacity"

    def note(self) -> str:
        return f"{self.answer} {self.next_step}"


_RULES: tuple[tuple[str, str, str], ...] = (
    (
        "dns",
        r"could not translate host name|Name or service not known|nodename nor servname|"
        r"Temporary failure in name resolution|No address associated with hostname",
        "The host name in its DSN does not resolve (DNS).",
    ),
    (
        "refused",
        r"Connection refused|No such file or directory\s+Is the server running",
        "Nothing accepts connections at that address: the server is down or restarting, or "
        "the DSN's host or port is wrong.",
    ),
    (
        "password",
        r"password authentication failed|no password supplied|fe_sendauth|"
        r"SCRAM authentication|authentication failed for user",
        "The server rejected the monitoring role's password.",
    ),
    (
        "auth",
        r"no pg_hba\.conf entry|pg_hba\.conf rejects",
        "pg_hba.conf on the server has no entry that lets the monitoring role in from here.",
    ),
    (
        "role",
        r'role "[^"]*" does not exist',
        "The monitoring role in the DSN does not exist on this server.",
    ),
    (
        "database",
        r'database "[^"]*" does not exist',
        "The database in the DSN does not exist on this server.",
    ),
    (
        "timeout",
        r"timeout expired|timed out|Connection timed out|No route to host",
        "The server did not answer in time: a network path, a firewall or a hung host.",
    ),
    (
        "not_ready",
        r"the database system is (starting up|shutting down|in recovery)|"
        r"not (yet )?accepting connections",
        "The server is starting, stopping or recovering: not a capacity problem.",
    ),
)

_NEXT = {
    "dns": "Check the host in the DSN and name resolution from where pgconn runs; then `{check}`.",
    "refused": "Check that PostgreSQL runs and listens on the DSN's host and port "
    "(listen_addresses, port), then `{check}`.",
    "password": "Check the password in the DSN (its environment variable or secret), and "
    "that the role's password was not changed; then `{check}`.",
    "auth": "Add a pg_hba.conf line for the monitoring role from pgconn's address, reload the "
    "server, then `{check}`.",
    "role": "Create it (deploy/sql/ has the script) or fix the user in the DSN; then `{check}`.",
    "database": "Fix dbname in the DSN (postgres is usual); then `{check}`.",
    "timeout": "Check the network path to the server and the server itself; then `{check}`.",
    "not_ready": "Wait for it to finish, or check its log; then `{check}`.",
    "other": "Check the server and the DSN; then `{check}`.",
}


def classify(message: str, sqlstate: str | None, cluster: str) -> Cause:
    """`capacity` when the server refused for lack of slots; otherwise the cause it names."""
    # A DSN given on the command line has no name `pgconn check` knows: run the same again.
    check = (
        shlex.join(["pgconn", "check", cluster])
        if is_configured_name(cluster)
        else "pgconn diagnose --dsn DSN"
    )
    if sqlstate in CAPACITY_SQLSTATES or re.search(
        r"too many (clients|connections)|remaining connection slots are reserved|"
        r"connection limit exceeded",
        message,
    ):
        return Cause("capacity", "The server refused the connection for lack of slots.", "")
    for kind, pattern, answer in _RULES:
        if re.search(pattern, message, re.IGNORECASE):
            return Cause(kind, answer, _NEXT[kind].format(cluster=cluster, check=check))
    if sqlstate in ("28P01", "28000"):
        kind = "password" if sqlstate == "28P01" else "auth"
        return Cause(
            kind,
            {k: a for k, _, a in _RULES}[kind],
            _NEXT[kind].format(cluster=cluster, check=check),
        )
    return Cause(
        "other", "The connection failed.", _NEXT["other"].format(cluster=cluster, check=check)
    )
