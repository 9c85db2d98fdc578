"""Every translation PostgreSQL ships, in the formats that carry it, with the severity label
translated as each catalogue translates FATAL (jsonlog never translates it)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.signals import SignalKind, scan
from bot.signals.messages import MESSAGES

from . import shapes
from .reference_texts import MSGSTR

K = SignalKind
ROLE = "app_user"
DATABASE = "shop db"
CURRENT = "10"

# msgid -> (kind, role, database, detail, sqlstate); %s args of fixed-argument messages.
EXPECTED: dict[str, tuple[SignalKind, str | None, str | None, str | None, str]] = {
    "sorry, too many clients already": (K.MAX_CONNECTIONS, None, None, None, "53300"),
    'too many connections for role "%s"': (K.ROLE_LIMIT, ROLE, None, None, "53300"),
    'too many connections for database "%s"': (K.DATABASE_LIMIT, None, DATABASE, None, "53300"),
    "remaining connection slots are reserved for roles with the %s attribute": (
        K.RESERVED_SLOTS,
        None,
        None,
        "superuser",
        "53300",
    ),
    'remaining connection slots are reserved for roles with privileges of the "%s" role': (
        K.RESERVED_SLOTS,
        None,
        None,
        "pg_use_reserved_connections",
        "53300",
    ),
    "remaining connection slots are reserved for non-replication superuser connections": (
        K.RESERVED_SLOTS,
        None,
        None,
        "superuser",
        "53300",
    ),
    'number of requested standby connections exceeds "max_wal_senders" (currently %d)': (
        K.WALSENDER_LIMIT,
        None,
        None,
        CURRENT,
        "53300",
    ),
    "number of requested standby connections exceeds max_wal_senders (currently %d)": (
        K.WALSENDER_LIMIT,
        None,
        None,
        CURRENT,
        "53300",
    ),
    "the database system is starting up": (K.SERVER_NOT_READY, None, None, "starting up", "57P03"),
    "the database system is shutting down": (
        K.SERVER_NOT_READY,
        None,
        None,
        "shutting down",
        "57P03",
    ),
    "the database system is in recovery mode": (
        K.SERVER_NOT_READY,
        None,
        None,
        "in recovery mode",
        "57P03",
    ),
    "the database system is not yet accepting connections": (
        K.SERVER_NOT_READY,
        None,
        None,
        "not yet accepting connections",
        "57P03",
    ),
}
ARGS = {
    "remaining connection slots are reserved for roles with the %s attribute": "SUPERUSER",
    'remaining connection slots are reserved for roles with privileges of the "%s" role': (
        "pg_use_reserved_connections"
    ),
}


def render(msgid: str, msgstr: str) -> str:
    if msgid in ARGS:
        return msgstr.replace("%s", ARGS[msgid], 1)
    name = ROLE if "role" in msgid else DATABASE
    return msgstr.replace("%s", name).replace("%d", CURRENT)


CASES = [
    pytest.param(msgid, lang, text, id=f"{lang}:{msgid[:40]}")
    for msgid in EXPECTED
    for lang, text in {"en": msgid, **MSGSTR[msgid]}.items()
]

FORMATS: dict[str, tuple[Callable[[str, str], str], str]] = {
    "stderr": (lambda m, sev: shapes.stderr(m, sev), "stderr"),
    "debian": (lambda m, sev: shapes.stderr_debian(m, sev), "stderr"),
    "csvlog": (lambda m, sev: shapes.csvlog(m, sev), "csvlog"),
    "jsonlog": (lambda m, _sev: shapes.jsonlog(m), "jsonlog"),
    "jsonlog-ascii": (lambda m, _sev: shapes.jsonlog(m, ensure_ascii=True), "jsonlog"),
    "syslog": (lambda m, sev: shapes.syslog(m, sev), "syslog"),
    "stderr_96": (lambda m, sev: shapes.stderr_96(m, sev), "stderr"),
    "libpq13": (lambda m, sev: shapes.libpq13(m, sev), "libpq"),
    "libpq14": (lambda m, sev: shapes.libpq14(m, sev), "libpq"),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("msgid", "lang", "msgstr"), CASES)
def test_every_translation_in_every_format(msgid: str, lang: str, msgstr: str, fmt: str) -> None:
    build, source = FORMATS[fmt]
    severity = MSGSTR["FATAL"].get(lang, "FATAL")
    text = build(render(msgid, msgstr), severity)
    kind, role, database, detail, sqlstate = EXPECTED[msgid]
    signals = scan(text)
    assert len(signals) == 1, (text, signals)
    s = signals[0]
    assert (s.kind, s.role, s.database, s.detail) == (kind, role, database, detail)
    # csvlog and jsonlog carry the SQLSTATE themselves (53300 here, the right one for limits).
    assert s.sqlstate == ("53300" if fmt in ("csvlog", "jsonlog", "jsonlog-ascii") else sqlstate)
    assert s.source == source
    assert (s.count, s.first_line) == (1, 2 if fmt == "stderr_96" else 1)


@pytest.mark.parametrize(("msgid", "lang", "msgstr"), CASES)
def test_translation_in_the_table(msgid: str, lang: str, msgstr: str) -> None:
    text = msgstr.replace("%s", ARGS[msgid], 1) if msgid in ARGS else msgstr
    assert any(m.lang == lang and m.text == text for m in MESSAGES)


def test_fatal_translations_are_the_lead_in_words() -> None:
    from bot.signals.messages import FATAL_WORDS

    assert set(MSGSTR["FATAL"].values()) | {"FATAL"} == set(FATAL_WORDS)


def test_french_reserved_slots_wrapped_over_two_lines() -> None:
    msg = MSGSTR[
        "remaining connection slots are reserved for non-replication superuser connections"
    ]["fr"]
    assert "\n" in msg
    for text, source in (
        (shapes.stderr(msg), "stderr"),  # continuation line starts with a tab
        (shapes.libpq13(msg), "libpq"),  # the client gets the raw newline
        (shapes.csvlog(msg), "csvlog"),  # a quoted field spanning two physical lines
        (shapes.syslog(msg), "syslog"),  # a second record [3-2] starting with #011
        (shapes.cloud_logging(msg), "cloud_logging"),
    ):
        (s,) = scan(text + "\n" + shapes.stderr("unrelated", "LOG"))
        assert (s.kind, s.detail, s.source, s.first_line) == (
            K.RESERVED_SLOTS,
            "superuser",
            source,
            1,
        ), text


def test_french_walsender_wrapped_over_two_lines() -> None:
    msg = MSGSTR["number of requested standby connections exceeds max_wal_senders (currently %d)"][
        "fr"
    ].replace("%d", "5")
    (s,) = scan(shapes.stderr(msg))
    assert (s.kind, s.detail) == (K.WALSENDER_LIMIT, "5")


def test_japanese_misplaced_quote() -> None:
    msg = 'FATAL:  要求されたスタンバイ接続が"max_wal_senders を超えています" (現在は 3)'
    (s,) = scan(msg)
    assert (s.kind, s.detail) == (K.WALSENDER_LIMIT, "3")


def test_ka_prints_english_for_the_quoted_max_wal_senders() -> None:
    text = shapes.stderr(
        'number of requested standby connections exceeds "max_wal_senders" (currently 4)',
        "ფატალური",
    )
    (s,) = scan(text)
    assert (s.kind, s.detail) == (K.WALSENDER_LIMIT, "4")


def test_old_reserved_wording_84() -> None:
    (s,) = scan(shapes.stderr("connection limit exceeded for non-superusers"))
    assert (s.kind, s.detail, s.sqlstate) == (K.RESERVED_SLOTS, "superuser", "53300")


@pytest.mark.parametrize(
    "msg",
    [
        "remaining connection slots are reserved for superusers",
        "remaining connection slots are reserved for roles with SUPERUSER",
    ],
)
def test_16_development_wordings(msg: str) -> None:
    (s,) = scan(shapes.libpq13(msg))
    assert (s.kind, s.detail) == (K.RESERVED_SLOTS, "superuser")


def test_not_accepting_connections_pg14() -> None:
    text = shapes.libpq14("the database system is not accepting connections") + (
        "DETAIL:  Hot standby mode is disabled.\n"
    )
    (s,) = scan(text)
    assert (s.kind, s.detail, s.sqlstate) == (
        K.SERVER_NOT_READY,
        "not accepting connections",
        "57P03",
    )


# Wordings of the PostgreSQL 15 release catalogues that differ from (or are missing in) the
# master catalogues the reference lists.
NOT_ACCEPTING = "not accepting connections"
RELEASE_15 = [
    (
        "ja",
        "残りの接続スロットはレプリケーションユーザーではないスーパーユーザー用に予約されています",
        K.RESERVED_SLOTS,
        "superuser",
    ),
    ("de", "das Datenbanksystem nimmt keine Verbindungen an", K.SERVER_NOT_READY, NOT_ACCEPTING),
    (
        "fr",
        "le système de bases de données n'accepte pas de connexions",
        K.SERVER_NOT_READY,
        NOT_ACCEPTING,
    ),
    ("ru", "система БД не принимает подключения", K.SERVER_NOT_READY, NOT_ACCEPTING),
    ("ja", "データベースシステムは接続を受け付けていません", K.SERVER_NOT_READY, NOT_ACCEPTING),
]


@pytest.mark.parametrize(("lang", "msg", "kind", "detail"), RELEASE_15)
def test_release_15_catalogue_wordings(lang: str, msg: str, kind: SignalKind, detail: str) -> None:
    severity = MSGSTR["FATAL"].get(lang, "FATAL")
    (s,) = scan(shapes.stderr(msg, severity))
    assert (s.kind, s.detail) == (kind, detail)
