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


_URI_SCHEMES = ("postgresql://", "postgres://")
_ENCODE_FIX = (
    "percent-encode reserved characters in the user and password ('@' as %40, '/' as %2F, "
    "':' in the user as %3A, '%' as %25), or use the key=value form with password='...'"
)


def dsn_misread(dsn: str) -> str | None:
    """Why a DSN that parses would not connect the way its author meant, or None.

    libpq ends a URI's credentials at the first '@' or '/', so an unencoded '@' in a password
    turns its tail into the host name, and a '/' turns the user into the host. Such a DSN
    would send part of the password to DNS and into error messages, so it is refused. The
    reason never quotes the DSN."""
    if not dsn.lower().startswith(_URI_SCHEMES):
        return None
    rest = dsn.split("://", 1)[1]
    authority = rest.split("/", 1)[0]
    try:
        parsed = conninfo_to_dict(dsn)
    except Exception:  # psycopg's message may quote the DSN; the caller reports unparsable
        return None
    ports = str(parsed.get("port") or "")
    misread = (
        authority.count("@") > 1
        or any("@" in str(parsed.get(key) or "") for key in ("host", "hostaddr", "port", "dbname"))
        or any(p and not p.isdigit() for p in ports.split(","))
    )
    if not misread:
        return None
    return "does not parse the way it reads (libpq would take part of it as the host); " + (
        _ENCODE_FIX
    )
