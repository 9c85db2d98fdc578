"""Text that mentions connection limits without reporting a refusal is not a signal."""

from __future__ import annotations

import pytest

from bot.signals import scan

NOT_SIGNALS = [
    "we hit too many clients yesterday, anyone?",
    "too many connections again on prod :(",
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
    # Other databases' connection limits (MySQL ER_CON_COUNT_ERROR 1040 and
    # ER_TOO_MANY_USER_CONNECTIONS 1203, Redis networking.c, Oracle, SQL Server's SqlClient pool,
    # Amazon Redshift's own wording).
    "SQLSTATE[HY000] [1040] Too many connections",
    "ERROR 1203 (42000): User app already has more than 'max_user_connections' active connections",
    "-ERR max number of clients reached",
    "redis.exceptions.ConnectionError: max number of clients reached",
    "ORA-00020: maximum number of processes (300) exceeded",
    "java.sql.SQLException: Listener refused the connection with the following error:\n"
    "ORA-12516, TNS:listener could not find available handler with matching protocol stack",
    "System.InvalidOperationException: Timeout expired.  The timeout period elapsed prior to "
    "obtaining a connection from the pool.  This may have occurred because all pooled "
    "connections were in use and max pool size was reached.",
    'FATAL:  connection limit "500" exceeded for non-superusers',
    # RDS Proxy in front of MySQL says the same as in front of PostgreSQL, with MySQL's code.
    "Error 9501: Timed-out waiting to acquire database connection",
    # Resource and access failures that are not connection limits.
    "2024-05-01 12:00:00.123 UTC [1234] LOG:  could not accept new connection: Too many open files",
    "accept4() failed (24: Too many open files)",
    'FATAL:  password authentication failed for user "app"',
    'FATAL:  no pg_hba.conf entry for host "10.0.0.7", user "app", database "appdb", SSL off',
    'psql: error: connection to server at "db" (10.0.0.5), port 5432 failed: Connection refused',
    "dial tcp 10.0.0.5:5432: connect: connection refused",
    # Prose about limits that quotes no message, and quoted messages inside code.
    "We keep hitting max_connections, should we raise it to 500 or add PgBouncer?",
    "The role's connection limit is 20 and the app opens 30, so it runs out of clients.",
    'if err.Error() == "sorry, too many clients already" {',
    "expect(err.message).toContain('too many connections for role \"app\"')",
    'raise RuntimeError("sorry, too many clients already")',
    # Bare pooler tokens: settings as often as errors.
    "checkout timeout",
    "Max client connections reached",
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
