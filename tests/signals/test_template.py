"""Template compilation: quoted names, escapes, whitespace, truncation."""

from __future__ import annotations

import pytest

from bot.signals.messages import Message
from bot.signals.model import SignalKind
from bot.signals.template import TRAILER, Matcher, json_escaped, needle, utf8_len

ROLE = Matcher(Message(SignalKind.ROLE_LIMIT, 'too many connections for role "%s"'))
KO = Matcher(Message(SignalKind.ROLE_LIMIT, '"%s" 롤의 최대 동시 접속수를 초과했습니다', "ko"))
FR = Matcher(Message(SignalKind.ROLE_LIMIT, "trop de connexions pour le rôle « %s »", "fr"))
WAL = Matcher(
    Message(
        SignalKind.WALSENDER_LIMIT,
        "le nombre de connexions demandées par le serveur en attente dépasse\n"
        "max_wal_senders (actuellement %d)",
        "fr",
    )
)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('too many connections for role "app"', "app"),
        ('too many connections for role \\"app\\"', "app"),
        ('too many connections for role \\"a\\"b\\"', 'a"b'),
        ('too many connections for role \\"m\\u00fcller\\"', "müller"),
        ('too many connections for role "a"b"', 'a"b'),
        ('too many connections for role "a" (SQLSTATE 53300)', "a"),
        ('too many connections for role "a" and "b" yesterday', "a"),
    ],
)
def test_role_name(text: str, name: str) -> None:
    found = ROLE.match(text, 0)
    assert found is not None
    assert found.name == name


def test_name_before_the_literal() -> None:
    text = '"a"b" 롤의 최대 동시 접속수를 초과했습니다'
    found = KO.match(text, 0)
    assert found is not None
    assert found.name == 'a"b'
    assert list(KO.starts(text)) == [0, 2, 4]


def test_typographic_quotes_with_no_break_spaces() -> None:
    found = FR.match("trop de connexions pour le rôle «\u00a0app\u00a0»", 0)
    assert found is not None
    assert found.name == "app"


def test_wrapped_message_whitespace_tolerant() -> None:
    for sep in ("\n", "\n\t", "\\n", " "):
        text = (
            "le nombre de connexions demandées par le serveur en attente dépasse"
            f"{sep}max_wal_senders (actuellement 7)"
        )
        found = WAL.match(text, 0)
        assert found is not None
        assert found.values == {"n": "7"}


def test_too_long_name() -> None:
    assert ROLE.match('too many connections for role "' + "x" * 64 + '"', 0) is None


def test_prefix_of_a_truncated_message() -> None:
    assert ROLE.prefix_of('too many connections for role "abcdefghij')
    assert not ROLE.prefix_of("too many")
    assert not ROLE.prefix_of("sorry, too many clients already")


def test_needle_and_escaped_forms() -> None:
    assert needle(ROLE.message) == "too many connections for role"
    assert needle(KO.message) == "롤의 최대 동시 접속수를 초과했습니다"
    assert json_escaped("too many") is None
    escaped = json_escaped("für")
    assert escaped == "f\\u00fcr"


def test_utf8_len_counts_replacement_as_one_byte() -> None:
    assert utf8_len("é") == 2
    assert utf8_len("\ufffd\ufffd") == 2


@pytest.mark.parametrize(
    "after",
    ["", "\n", " (SQLSTATE 53300)", " (53300)", " (age=120s)", "\\n", "'", '"}', ").", ". Next"],
)
def test_trailers(after: str) -> None:
    assert TRAILER.match(after, 0)


@pytest.mark.parametrize("after", [" yesterday", "b", "_x"])
def test_not_trailers(after: str) -> None:
    assert not TRAILER.match(after, 0)
