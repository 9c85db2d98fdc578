"""Text that mentions connection limits without reporting a refusal is not a signal."""

from __future__ import annotations

import pytest

from bot.signals import scan

NOT_SIGNALS = [
    "we hit too many clients yesterday, anyone?",
    "too many connections again on prod :(",
    "is `sorry, too many clients already` the max_connections one?",
    "The error says sorry, too many clients already, what do I do",
    "ALTER ROLE app CONNECTION LIMIT 20;",
    "ALTER DATABASE appdb CONNECTION LIMIT 100;",
    "SELECT count(*) FROM logs WHERE message LIKE '%too many connections for role%';",
    "SELECT * FROM pg_log WHERE message = 'sorry, too many clients already';",
    "grep -c 'too many connections for database' postgresql.log",
    "ERROR 1040 (HY000): Too many connections",
    "(1040, 'Too many connections')",
    "pymysql.err.OperationalError: (1040, 'Too many connections')",
    "ORA-00018: maximum number of sessions exceeded",
    "ORA-12516: TNS:listener could not find available handler with matching protocol stack",
    "Msg 17809, Level 20, State 1: Could not connect because the maximum number of '5' user "
    "connections has already been reached.",
    "query_wait_timeout = 120",
    "client_login_timeout = 60",
    "SHOW CONFIG; -- query_wait_timeout | 120",
    "max_client_conn = 100",
    "set max_wal_senders higher: number of requested standby connections exceeds it",
    "the database system is starting up soon, please wait",
    "LOG:  database system is ready to accept connections",
    "LOG:  database system is shut down",
    "HikariPool-1 - Connection is not available",
    "Timed out fetching",
    "timeout exceeded when trying to connect",
    "",
    "\n\n\n",
]


@pytest.mark.parametrize("text", NOT_SIGNALS)
def test_not_a_signal(text: str) -> None:
    assert scan(text) == []


def test_chatter_around_a_real_report_keeps_only_the_report() -> None:
    text = "\n".join(
        [
            "we hit too many clients yesterday, anyone?",
            "here is the log:",
            '2024-05-01 12:00:00.123 UTC [1234] FATAL:  too many connections for role "app"',
            "SELECT * FROM logs WHERE message LIKE '%too many connections for role \"app\"%';",
        ]
    )
    (s,) = scan(text)
    assert (s.role, s.count, s.first_line) == ("app", 1, 3)
