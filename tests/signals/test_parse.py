"""What counts as the lead-in of a report."""

from __future__ import annotations

import pytest

from bot.signals.formats import wrapper
from bot.signals.parse import _leadin

MSG = "sorry, too many clients already"


@pytest.mark.parametrize(
    ("before", "kind", "vstate"),
    [
        ("FATAL:  ", "sev", None),
        ("2024-05-01 12:00:00 UTC:10.0.0.7(51234):app@appdb:[1234]:FATAL:  ", "sev", None),
        ("FATAL: ", "sev", None),
        ("FATAL:  53300: ", "sev", "53300"),
        ("ВАЖНО:  ", "sev", None),
        ("ÖLÜMCÜL (FATAL):  ", "sev", None),
        ("致命错误:  ", "sev", None),
        ("ERROR:  ", "sev", None),
        ("pq: ", "pq", None),
        ("error: ", "node", None),
        ("server error: ", "node", None),
        ("connection failed: ", "psycopg", None),
        ("server login has been failing, cached error: ", "cached", None),
        ("pooler error: ", "bouncer", None),
        ("closing because: ", "bouncer", None),
        ("server login failed: FATAL ", "login", None),
        ("psycopg2.OperationalError: ", "exc", None),
        ("(asyncpg.exceptions.TooManyConnectionsError) ", "exc", None),
        ("PG::ConnectionBad: ", "exc", None),
        ('{"message":"', "json", None),
        ('  "message": "', "json", None),
    ],
)
def test_leadin(before: str, kind: str, vstate: str | None) -> None:
    lead = _leadin(before + MSG, len(before))
    assert lead is not None
    assert (lead.kind, lead.vstate) == (kind, vstate)


@pytest.mark.parametrize(
    "before",
    [
        "",
        "we saw ",
        "LIKE '%",
        "`",
        "NONFATAL:  ",
        "terror: ",
        "mypq: ",
        "FATAL:",  # no space: not how anything prints it
        '"details":"',
        "the error was ",
    ],
)
def test_not_leadin(before: str) -> None:
    assert _leadin(before + MSG, len(before)) is None


@pytest.mark.parametrize(
    ("prefix", "source"),
    [
        ("sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) ", "sqlalchemy"),
        ("django.db.utils.OperationalError: ", "django"),
        ("psycopg2.OperationalError: ", "psycopg2"),
        ("psycopg.OperationalError: connection failed: ", "psycopg"),
        ("org.postgresql.util.PSQLException: ", "pgjdbc"),
        ("10.0.0.5:5432 (db): server error: ", "pgx"),
        ("pq: ", "lib/pq"),
        ('connection to server at "h" (1.2.3.4), port 5432 failed: ', "libpq"),
        ("pooler error: ", "pgbouncer"),
        ("error: ", "node-postgres"),
        ("2024-05-01 12:00:00.123 UTC [1234] ", None),
    ],
)
def test_wrapper(prefix: str, source: str | None) -> None:
    assert wrapper(prefix) == source
