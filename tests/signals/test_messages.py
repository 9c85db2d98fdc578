"""The message table is well-formed, and is the only source of needles and matchers."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.signals import SignalKind
from bot.signals.messages import CACHED_ERROR, MESSAGES, Message
from bot.signals.parse import MATCHERS
from bot.signals.template import needle

K = SignalKind


def test_no_duplicates() -> None:
    counts = Counter((m.lang, m.text) for m in MESSAGES)
    assert [k for k, n in counts.items() if n > 1] == []


def test_every_kind_has_messages() -> None:
    assert {m.kind for m in MESSAGES} == set(SignalKind)


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: f"{m.lang}:{m.text[:30]}")
def test_default_sqlstate(message: Message) -> None:
    # What each producer sends with its own refusals (see the source cited in the table).
    expected = {
        "postgres": "57P03" if message.kind is K.SERVER_NOT_READY else "53300",
        "pgbouncer": "08P01",
        "supavisor": "XX000",
        "pgpool": "53300",
        "odyssey": "53300",
        "pgdog": "58000",
        "pgcat": "58000",
    }.get(message.producer)
    assert message.sqlstate == expected


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: f"{m.lang}:{m.text[:30]}")
def test_needle_is_a_piece_of_the_first_line(message: Message) -> None:
    n = needle(message)
    assert len(n.encode()) >= 6
    assert n in message.text.split("\n", 1)[0]


def test_matchers_follow_the_table() -> None:
    assert [m.message for m in MATCHERS] == list(MESSAGES)
    assert MESSAGES[CACHED_ERROR].text == "server login has been failing, cached error:"


def test_variants() -> None:
    variants = {(m.kind, m.variant) for m in MESSAGES}
    assert {v for k, v in variants if k is K.RESERVED_SLOTS} == {
        "superuser",
        "pg_use_reserved_connections",
    }
    assert {v for k, v in variants if k is K.SERVER_NOT_READY} == {
        "starting up",
        "shutting down",
        "in recovery mode",
        "not yet accepting connections",
        "not accepting connections",
    }
    client_limits = {(m.pooler, m.variant) for m in MESSAGES if m.kind is K.POOLER_CLIENT_LIMIT}
    assert {v for p, v in client_limits if p == "pgbouncer"} == {
        "max_client_conn",
        "max_db_client_connections",
        "max_user_client_connections",
    }
    assert {p for p, _ in client_limits} == {
        "pgbouncer",
        "supavisor",
        "pgpool",
        "odyssey",
        "rds_proxy",
        "neon",
    }
    waits = {(m.pooler, m.variant) for m in MESSAGES if m.kind is K.POOLER_WAIT_TIMEOUT}
    assert {v for p, v in waits if p == "pgbouncer"} == {
        "query_wait_timeout",
        "client_login_timeout",
        "server_login_retry",
    }
    assert {p for p, _ in waits} == {
        "pgbouncer",
        "supavisor",
        "pgdog",
        "pgcat",
        "odyssey",
        "rds_proxy",
        "neon",
    }
    assert {v for k, v in variants if k is K.APP_POOL_TIMEOUT} == {
        "sqlalchemy",
        "hikaricp",
        "rails",
        "prisma",
        "psycopg_pool",
        "knex",
        "sequelize",
        "npgsql",
        "sqlx",
        "dbconnection",
        "hibernate",
        "asyncpg",
        "pg-pool",
    }


def test_pooler_messages_name_their_pooler() -> None:
    for m in MESSAGES:
        if m.kind in (K.POOLER_CLIENT_LIMIT, K.POOLER_WAIT_TIMEOUT):
            assert m.pooler == m.producer, m.text
        else:
            assert m.pooler is None, m.text


def test_every_matcher_compiles() -> None:
    # Matchers compile on first use; every one of them must compile.
    for mt in MATCHERS:
        assert mt.match("", 0) is None or mt.message.text == ""
