"""How pgconn shapes a configured DSN before connecting with it: its own application_name,
session settings in the startup packet (they cost no round trip), and a bounded connect timeout.
"""

from __future__ import annotations

from collections.abc import Mapping

from psycopg.conninfo import conninfo_to_dict, make_conninfo


def pgconn_conninfo(
    dsn: str,
    *,
    application_name: str,
    connect_timeout: int,
    settings: Mapping[str, str] | None = None,
    **params: str,
) -> str:
    """`dsn` with pgconn's name, `settings` as `-c` options after the DSN's own (for a repeated
    `-c` the last one wins), and a connect timeout of at most `connect_timeout` seconds.
    Raises psycopg.ProgrammingError for a DSN that does not parse; callers say which one."""
    given = conninfo_to_dict(dsn)
    given_timeout = given.get("connect_timeout")
    timeout = min(int(str(given_timeout)), connect_timeout) if given_timeout else connect_timeout
    extra = dict(params)
    if settings:
        ours = " ".join(f"-c {name}={value}" for name, value in settings.items())
        existing = given.get("options")
        extra["options"] = f"{existing} {ours}" if existing else ours
    return make_conninfo(
        dsn,
        application_name=application_name,
        connect_timeout=str(
            min(int(str(timeout)), connect_timeout) if timeout else connect_timeout
        ),
        **extra,
    )
