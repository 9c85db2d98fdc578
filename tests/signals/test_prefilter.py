"""The prefilter backends agree with each other and with a plain substring search; forcing
the `re` fallback gives the same signals."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator

import pytest

from bot.signals import SignalKind, prefilter, scan
from bot.signals.messages import MESSAGES
from bot.signals.template import needle, needle_forms

from . import shapes
from .test_scanner import incident_log

AVAILABLE = [
    b
    for b in prefilter.BACKENDS
    if b == "re" or importlib.util.find_spec("hyperscan" if b == "hyperscan" else b) is not None
] + ["literal"]


@pytest.fixture
def forced_re() -> Iterator[None]:
    prefilter.use("re")
    try:
        yield
    finally:
        prefilter.use(None)  # back to the default: the fastest backend, literal for pastes


def reference_lines(data: bytes) -> list[tuple[int, int, frozenset[int]]]:
    """Candidate lines found the slow, obvious way."""
    out = []
    pos = 0
    for line in data.split(b"\n"):
        ids: set[int] = set()
        for k, n in enumerate(prefilter.NEEDLES):
            if n in line:
                ids |= prefilter.NEEDLE_IDS[k]
        if ids:
            out.append((pos, pos + len(line), frozenset(ids)))
        pos += len(line) + 1
    return out


SAMPLES = [
    pytest.param(incident_log()[0].encode(), id="incident log"),
    pytest.param(b"", id="empty"),
    pytest.param(b"no newline at end FATAL:  sorry, too many clients already", id="no newline"),
    pytest.param(
        b"\n\n" + "ВАЖНО:  извините, уже слишком много клиентов\n".encode() * 3, id="russian"
    ),
    pytest.param(
        shapes.jsonlog('too many connections for role "x"', ensure_ascii=True).encode(),
        id="jsonlog",
    ),
    pytest.param(
        shapes.jsonlog("извините, уже слишком много клиентов", ensure_ascii=True).encode(),
        id="jsonlog escaped non-ascii",
    ),
    pytest.param(b"too many connections for role " * 1000, id="repeated needle"),
    pytest.param(b"\xff\xfe\x00 sorry, too many clients already \x00\n\x80", id="binary"),
]


@pytest.mark.parametrize("backend", AVAILABLE)
@pytest.mark.parametrize("data", SAMPLES)
def test_backend_finds_exactly_the_lines_holding_a_needle(backend: str, data: bytes) -> None:
    got = [(c.start, c.end, c.ids) for c in prefilter.build(backend).lines(data)]
    assert got == reference_lines(data)


def test_needles_come_from_the_message_table() -> None:
    expected = {needle(m).encode() for m in MESSAGES}
    assert expected <= set(prefilter.NEEDLES)
    for k, n in enumerate(prefilter.NEEDLES):
        for i in prefilter.NEEDLE_IDS[k]:
            forms = needle_forms(MESSAGES[i])
            assert n.decode() in forms or n.startswith(b"\\u") or b"\\u" in n


def test_cjk_needles_have_both_punctuation_widths() -> None:
    (zh,) = [m for m in MESSAGES if m.lang == "zh_CN" and m.kind is SignalKind.MAX_CONNECTIONS]
    assert needle_forms(zh) == ("对不起, 已经有太多的客户", "对不起，已经有太多的客户")
    assert "对不起，已经有太多的客户".encode() in prefilter.NEEDLES


def test_every_message_is_found_by_its_needle() -> None:
    for i, m in enumerate(MESSAGES):
        rendered = re.sub(r"%\(\w+\)[df]|%d", "7", m.text).replace("%(url)s", "http://x")
        rendered = rendered.replace("%s", "n")
        (c,) = prefilter.build("re").lines(rendered.encode())
        assert i in c.ids, m.text


@pytest.mark.usefixtures("forced_re")
def test_forced_re_fallback_gives_the_same_signals() -> None:
    assert prefilter.active().name == "re"
    text, _ = incident_log()
    via_re = scan(text)
    prefilter.use(None)
    assert scan(text) == via_re


@pytest.mark.usefixtures("forced_re")
@pytest.mark.parametrize(
    "text",
    [
        shapes.csvlog('too many connections for role "a""b"'),
        shapes.jsonlog('слишком много подключений для роли "x"', ensure_ascii=True),
        shapes.pgbouncer_log(
            "server login has been failing, cached error: sorry, too many clients already "
            "(server_login_retry)"
        ),
        shapes.stderr("trop de connexions pour le rôle « app »", "FATAL"),
    ],
)
def test_forced_re_fallback_cases(text: str) -> None:
    got = scan(text)
    prefilter.use(None)
    assert got == scan(text)
    assert got


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="unknown prefilter backend"):
        prefilter.build("grep")


def test_late_matches_are_merged_into_their_lines() -> None:
    data = b"a sorry, too many clients already\nb\nc query_wait_timeout\n"
    lines = prefilter.build("re").lines(data)
    first, second = lines
    k = prefilter.NEEDLES.index(b"query_wait_timeout")
    j = prefilter.NEEDLES.index(b"sorry, too many clients already")
    # A match reported out of order, for the first line and for a line not seen yet.
    merged = prefilter._merge(data, [second], [(first.end, j), (second.end, k)])
    assert [(c.start, c.end, c.ids) for c in merged] == [
        (first.start, first.end, prefilter.NEEDLE_IDS[j]),
        (second.start, second.end, prefilter.NEEDLE_IDS[k]),
    ]


def test_small_pastes_use_the_literal_backend_unless_one_is_forced() -> None:
    prefilter.use(None)
    assert prefilter.for_size(prefilter.SMALL_BYTES).name == "literal"
    assert prefilter.for_size(prefilter.SMALL_BYTES + 1).name != "literal"
    prefilter.use("re")
    try:
        assert prefilter.for_size(10).name == "re"
    finally:
        prefilter.use(None)
    assert prefilter.for_size(10).name == "literal"
