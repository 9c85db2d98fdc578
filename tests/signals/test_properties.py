"""Properties: no crash on any input; a refusal embedded anywhere in noise is found with its
exact name; a chunked scan equals a whole one. Time is only guarded by pytest-timeout."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.signals import SignalKind, lines, scan, scan_stream, scanner

from . import shapes

K = SignalKind
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# PostgreSQL names: any characters but NUL, at most 63 bytes. A name holding a line break is
# not one a line-based reader can return, and a trailing CR is eaten as a CRLF line end.
names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\n\r"),
    min_size=1,
    max_size=63,
).filter(lambda s: len(s.encode()) <= 63)

noise_line = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"),
    max_size=200,
)
noise = st.lists(noise_line, max_size=20)

FORMATS: dict[str, Callable[[str], str]] = {
    "stderr": shapes.stderr,
    "libpq": lambda m: shapes.libpq14(m).rstrip("\n"),
    "csvlog": shapes.csvlog,
    "jsonlog": shapes.jsonlog,
    "jsonlog-ascii": lambda m: shapes.jsonlog(m, ensure_ascii=True),
    "cloudnativepg": shapes.cloudnativepg,
    "pgx": shapes.pgx,
    "psycopg": shapes.psycopg3,
    "lib/pq": lambda m: shapes.lib_pq(m, "53300"),
}


@pytest.mark.timeout(300)
@PROPERTY
@given(st.text(max_size=5000))
def test_any_text_never_crashes(text: str) -> None:
    for s in scan(text):
        assert isinstance(s.kind, SignalKind)
        assert s.count >= 1
        assert s.first_line >= 1
        assert len(s.excerpt) <= 300


@pytest.mark.timeout(300)
@PROPERTY
@given(st.binary(max_size=5000))
def test_any_bytes_never_crash(data: bytes) -> None:
    scan(data)


@pytest.mark.timeout(300)
@PROPERTY
@given(
    name=names,
    fmt=st.sampled_from(sorted(FORMATS)),
    database=st.booleans(),
    before=noise,
    after=noise,
)
def test_refusal_in_noise_found_with_exact_name(
    name: str, fmt: str, database: bool, before: list[str], after: list[str]
) -> None:
    what = "database" if database else "role"
    line = FORMATS[fmt](f'too many connections for {what} "{name}"')
    text = "\n".join([*before, line, *after])
    got = [
        s
        for s in scan(text)
        if s.kind is (K.DATABASE_LIMIT if database else K.ROLE_LIMIT)
        and (s.database if database else s.role) == name
    ]
    assert got, (line, scan(text))
    assert got[0].first_line <= len(before) + 1


@contextmanager
def tiny_windows() -> Iterator[None]:
    """Windows of a few lines and blocks of any size, so small inputs cross many blocks."""
    with (
        mock.patch.object(lines, "WINDOW_LINES", 4),
        mock.patch.object(lines, "WINDOW_BYTES", 400),
        mock.patch.object(scanner, "WINDOW_LINES", 4),
        mock.patch.object(scanner, "WINDOW_BYTES", 400),
        mock.patch.object(scanner, "MIN_BLOCK", 0),
    ):
        yield


signal_lines = st.sampled_from(
    [
        shapes.stderr('too many connections for role "app"'),
        shapes.csvlog("sorry, too many clients already"),
        shapes.jsonlog('too many connections for database "d"'),
        shapes.pgbouncer_log("query_wait_timeout"),
        shapes.pgbouncer_closing("query_wait_timeout"),
        "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
        "SQL Error: 0, SQLState: 53300",
        shapes.node_printed("sorry, too many clients already", "53300"),
        shapes.stderr(
            "les emplacements de connexions restants sont réservés pour les connexions\n"
            "superutilisateur non relatif à la réplication"
        ),
    ]
)


@pytest.mark.timeout(300)
@PROPERTY
@given(
    parts=st.lists(st.one_of(signal_lines, noise_line), max_size=60),
    cuts=st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=40),
)
def test_chunked_scan_equals_whole_scan(parts: list[str], cuts: list[int]) -> None:
    data = "\n".join(parts).encode()
    chunks = []
    pos = 0
    i = 0
    while pos < len(data):
        size = cuts[i % len(cuts)]
        chunks.append(data[pos : pos + size])
        pos += size
        i += 1
    with tiny_windows():
        assert scan_stream(chunks) == scan(data)
