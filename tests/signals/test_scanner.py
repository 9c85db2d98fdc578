"""Counting, ordering, line numbers and excerpts; the chunked stream; plain and gzip files."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from bot.signals import SignalKind, scan, scan_file, scan_stream, scanner
from bot.signals.lines import WINDOW_BYTES, WINDOW_LINES
from bot.signals.scanner import EXCERPT_CHARS

from . import shapes

K = SignalKind


def ordinary(i: int) -> str:
    statement = "SELECT * FROM orders WHERE id = $1"  # log text, not a query that runs
    return (
        f"2024-05-01 12:00:{i % 60:02d}.000 UTC [{1000 + i}] LOG:  duration: 0.{i % 997:03d} ms  "
        f"statement: {statement}"
    )


def incident_log(lines: int = 3000, seed: int = 3) -> tuple[str, dict[int, str]]:
    """An ordinary log with refusals in several formats at known lines."""
    rng = random.Random(seed)
    shapes_by_line = {
        17: shapes.stderr('too many connections for role "app"'),
        18: shapes.stderr('too many connections for role "app"'),
        400: shapes.csvlog('too many connections for role "other"'),
        401: shapes.jsonlog("sorry, too many clients already"),
        1200: shapes.stderr('too many connections for role "app"'),
        2048: shapes.pgbouncer_log("no more connections allowed (max_client_conn)"),
        2999: shapes.syslog('too many connections for database "appdb"'),
    }
    out = [shapes_by_line.get(i, ordinary(rng.randrange(10**6))) for i in range(1, lines + 1)]
    return "\n".join(out) + "\n", shapes_by_line


EXPECTED = [
    (K.ROLE_LIMIT, "app", None, 3, 17, "stderr"),
    (K.ROLE_LIMIT, "other", None, 1, 400, "csvlog"),
    (K.MAX_CONNECTIONS, None, None, 1, 401, "jsonlog"),
    (K.POOLER_CLIENT_LIMIT, None, None, 1, 2048, "pgbouncer"),
    (K.DATABASE_LIMIT, None, "appdb", 1, 2999, "syslog"),
]


def summary(signals: list) -> list[tuple]:
    return [(s.kind, s.role, s.database, s.count, s.first_line, s.source) for s in signals]


def test_counts_first_lines_and_order() -> None:
    text, by_line = incident_log()
    got = scan(text)
    assert summary(got) == EXPECTED
    assert got[0].excerpt == by_line[17].strip()


def test_str_and_bytes_agree() -> None:
    text, _ = incident_log()
    assert scan(text) == scan(text.encode())


def test_crlf_line_endings() -> None:
    text, _ = incident_log()
    assert summary(scan(text.replace("\n", "\r\n"))) == EXPECTED


def test_excerpt_of_a_long_line_is_bounded_and_shows_the_name() -> None:
    line = (
        "x" * 5000
        + " "
        + shapes.stderr('too many connections for role "needle"')
        + " "
        + "y" * 5000
    )
    (s,) = scan(line)
    assert len(s.excerpt) <= EXCERPT_CHARS
    assert '"needle"' in s.excerpt


def test_distinct_details_are_distinct_signals() -> None:
    text = "\n".join(
        (
            shapes.libpq13("the database system is starting up"),
            shapes.libpq13("the database system is shutting down"),
            shapes.libpq13("the database system is starting up"),
            shapes.libpq13(
                "remaining connection slots are reserved for roles with privileges of the "
                '"pg_use_reserved_connections" role'
            ),
            shapes.libpq13(
                "remaining connection slots are reserved for roles with the SUPERUSER attribute"
            ),
            shapes.libpq13(
                "number of requested standby connections exceeds max_wal_senders (currently 5)"
            ),
            shapes.libpq13(
                "number of requested standby connections exceeds max_wal_senders (currently 10)"
            ),
        )
    )
    got = [(s.kind, s.detail, s.count) for s in scan(text)]
    assert got == [
        (K.SERVER_NOT_READY, "starting up", 2),
        (K.SERVER_NOT_READY, "shutting down", 1),
        (K.RESERVED_SLOTS, "pg_use_reserved_connections", 1),
        (K.RESERVED_SLOTS, "superuser", 1),
        (K.WALSENDER_LIMIT, "5", 1),
        (K.WALSENDER_LIMIT, "10", 1),
    ]


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scan every chunk as it comes, so small inputs cross many block boundaries."""
    monkeypatch.setattr(scanner, "MIN_BLOCK", 0)


@pytest.mark.parametrize("size", [1, 7, 64, 1000, 4096, 65536, 10**7])
def test_stream_equals_whole_scan(size: int) -> None:
    text, _ = incident_log()
    data = text.encode()
    assert scan_stream(chunked(data, size)) == scan(data)


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("size", [500, 4096, 65536])
def test_stream_equals_whole_scan_block_by_block(size: int) -> None:
    text, _ = incident_log()
    data = text.encode()
    assert scan_stream(chunked(data, size)) == scan(data)


@pytest.mark.parametrize("size", [65536, 1 << 20, 4 << 20])
def test_stream_of_a_large_log(size: int) -> None:
    text, _ = incident_log(60_000)
    data = text.encode()
    assert len(data) > 2 * scanner.MIN_BLOCK
    got = scan_stream(chunked(data, size))
    assert got == scan(data)
    assert summary(got)[0] == (K.ROLE_LIMIT, "app", None, 3, 17, "stderr")


@pytest.mark.usefixtures("small_blocks")
def test_signal_crossing_a_chunk_boundary() -> None:
    text, _ = incident_log()
    data = text.encode()
    at = data.index(b"other") + 2
    got = scan_stream([data[:at], data[at:]])
    assert summary(got) == EXPECTED


@pytest.mark.usefixtures("small_blocks")
def test_stream_with_windows_wider_than_a_chunk() -> None:
    """Neighbours needed by multi-line forms survive chunking (held back, kept behind)."""
    filler = "\n".join(ordinary(i) for i in range(WINDOW_LINES + 50))
    text = "\n".join(
        (
            filler,
            shapes.node_printed("the database system is starting up", "57P03"),
            filler,
            shapes.psycopg3_multi("sorry, too many clients already"),
            filler,
            shapes.stderr(
                "les emplacements de connexions restants sont réservés pour les connexions\n"
                "superutilisateur non relatif à la réplication"
            ),
            filler,
            shapes.csvlog(
                "le nombre de connexions demandées par le serveur en attente dépasse\n"
                "max_wal_senders (actuellement 3)"
            ),
        )
    )
    data = text.encode()
    whole = scan(data)
    assert [(s.kind, s.sqlstate, s.count) for s in whole] == [
        (K.SERVER_NOT_READY, "57P03", 1),
        (K.MAX_CONNECTIONS, "53300", 1),
        (K.RESERVED_SLOTS, "53300", 1),
        (K.WALSENDER_LIMIT, "53300", 1),
    ]
    for size in (1000, 4096, WINDOW_BYTES // 3):
        assert scan_stream(chunked(data, size)) == whole, size


@pytest.mark.usefixtures("small_blocks")
def test_line_longer_than_the_window_and_chunks() -> None:
    long_line = "z" * (WINDOW_BYTES + 10)
    text = "\n".join((long_line, shapes.stderr("sorry, too many clients already"), long_line))
    data = text.encode()
    assert scan_stream(chunked(data, 50_000)) == scan(data)
    assert scan(data)[0].first_line == 2


def test_progress_reports_bytes_consumed() -> None:
    data = incident_log()[0].encode()
    seen: list[int] = []
    scan_stream(chunked(data, 10_000), progress=seen.append)
    assert seen == sorted(seen)
    assert seen[-1] == len(data)


def test_scan_file_plain_and_gzip(tmp_path: Path) -> None:
    text, _ = incident_log(20_000)
    plain = tmp_path / "postgresql.log"
    plain.write_text(text, encoding="utf-8")
    packed = tmp_path / "postgresql.log.1"  # no .gz suffix: detected by magic bytes
    packed.write_bytes(gzip.compress(text.encode()))
    seen: list[int] = []
    assert scan_file(plain) == scan_file(packed, progress=seen.append) == scan(text)
    assert seen[-1] == packed.stat().st_size


def test_scan_file_truncated_gzip_keeps_what_decompresses(tmp_path: Path) -> None:
    text, _ = incident_log(20_000)
    blob = gzip.compress(text.encode())
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(blob[: len(blob) * 3 // 4])
    got = scan_file(cut)
    assert summary(got)[0] == (K.ROLE_LIMIT, "app", None, 3, 17, "stderr")


def test_scan_file_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert scan_file(empty) == []


@pytest.mark.timeout(120)
def test_long_line_in_small_chunks_stays_linear() -> None:
    line = "x" * (3 << 20) + " " + shapes.stderr('too many connections for role "app"')
    data = (line + "\n" + line).encode()
    got = scan_stream(chunked(data, 1000))
    assert [(s.role, s.count, s.first_line) for s in got] == [("app", 2, 1)]
