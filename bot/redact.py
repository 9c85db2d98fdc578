"""Keep secrets out of everything shown or logged.

DSNs come in two forms (libpq key/value and URI); both may carry a password. Anything built from
a DSN for display goes through `redact_dsn`; free text (driver errors) through `redact_text`,
which also removes the exact secret values pgconn knows about.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "********"

# By position: everything from the user's ':' to the LAST '@' of the URI is the password, so an
# unencoded '@' in it (libpq would stop at the first) cannot leave its tail in view.
_URI_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:/?#@\s]*:)\S*(?=@)", re.I)
_KV_PASSWORD = re.compile(r"""(?P<head>\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s'"]\S*)""", re.I)
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)[^&\s]*", re.I)
_SHORT = 4
_SLACK_TOKEN = re.compile(r"\bx(?:ox[abposr]|app)-[0-9A-Za-z-]+")


def redact_dsn(dsn: str) -> str:
    """The DSN with any password replaced, in whichever form it was written."""
    out = _URI_PASSWORD.sub(lambda m: m.group("head") + MASK, dsn)
    out = _QUERY_PASSWORD.sub(lambda m: m.group("head") + MASK, out)
    return _KV_PASSWORD.sub(lambda m: m.group("head") + MASK, out)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Free text with DSN passwords, Slack tokens and the given secret values masked."""
    out = redact_dsn(text)
    out = _SLACK_TOKEN.sub(MASK, out)
    known = sorted({s for s in secrets if s}, key=len, reverse=True)
    for secret in known:
        if len(secret) >= _SHORT:
            out = out.replace(secret, MASK)
        else:
            # A short password is masked where it stands alone, not inside every word.
            out = re.sub(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", MASK, out)
    return out


def dsn_password(dsn: str | None) -> str | None:
    """The password a DSN carries, if any. None for an unparsable DSN: redaction never fails
    (the configuration reports bad DSNs at load)."""
    if not dsn:
        return None
    from psycopg.conninfo import conninfo_to_dict

    try:
        value = conninfo_to_dict(dsn).get("password")
    except Exception:  # psycopg's error may itself quote the DSN
        return None
    return str(value) if value else None


def redact_for_dsn(text: str, dsn: str, secrets: Iterable[str] = ()) -> str:
    """Free text about a connection to `dsn` (a driver's error): its password and `secrets`
    masked."""
    password = dsn_password(dsn)
    return redact_text(text, [*secrets, *([password] if password else [])])
