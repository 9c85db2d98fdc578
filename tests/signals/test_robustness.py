"""Bad input never crashes and stays bounded in time. Time is guarded by pytest-timeout only
(generous; the machine is shared), never asserted."""

from __future__ import annotations

import json

import pytest

from bot.signals import SignalKind, scan, scan_stream

from . import shapes

K = SignalKind
MB = 1024 * 1024
ROLE_LINE = shapes.stderr('too many connections for role "app"')


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x00" * MB, id="NULs"),
        pytest.param(bytes(range(256)) * 4096, id="all bytes"),
        pytest.param(b"\xff\xfe\xc3" * 300_000, id="invalid utf-8"),
        pytest.param(b'"' * MB, id="quotes"),
        pytest.param(b"\n" * MB, id="newlines"),
        pytest.param(b'too many connections for role "' * 33_000, id="unterminated role, one line"),
        pytest.param(b'FATAL:  too many connections for role "' * 25_000, id="lead-ins, one line"),
        pytest.param(b"FATAL:  " * 130_000, id="labels only"),
        pytest.param(b"{" * MB, id="open braces"),
        pytest.param(b'{"message":' + b"[" * 100_000, id="deep json"),
        pytest.param(b"2024-05-01 12:00:00.123 UTC," + b'"' * MB, id="csv quotes"),
        pytest.param(
            b"2024-05-01 12:00:00.123 UTC," + b'"sorry, too many clients already\n' * 30_000,
            id="csv record never closed",
        ),
        pytest.param(b"a" * MB, id="one long word"),
        pytest.param(
            b"OperationalError: " * 50_000 + b"sorry, too many clients already", id="exc prefixes"
        ),
        pytest.param(b"x" * MB + b"\n" + ROLE_LINE.encode(), id="1 MB line then a signal"),
    ],
)
def test_bad_input_does_not_crash(data: bytes) -> None:
    signals = scan(data)
    assert all(isinstance(s.kind, SignalKind) for s in signals)
    assert scan_stream([data[i : i + 65536] for i in range(0, len(data), 65536)]) == signals


@pytest.mark.timeout(60)
def test_one_megabyte_line_with_a_signal_in_the_middle() -> None:
    line = "x" * (MB // 2) + " " + ROLE_LINE + " " + "y" * (MB // 2)
    (s,) = scan(line)
    assert (s.kind, s.role) == (K.ROLE_LIMIT, "app")


@pytest.mark.timeout(120)
def test_fifty_megabytes() -> None:
    block = "\n".join(
        f"2024-05-01 12:00:00.{i:03d} UTC [{i}] LOG:  connection received: host=10.0.0.{i % 250}"
        for i in range(1000)
    )
    data = ((block + "\n") * (50 * MB // (len(block) + 1))).encode() + ROLE_LINE.encode()
    assert len(data) >= 49 * MB
    (s,) = scan(data)
    assert (s.kind, s.role, s.first_line) == (K.ROLE_LIMIT, "app", data.count(b"\n") + 1)


@pytest.mark.timeout(120)
def test_a_storm_of_refusals() -> None:
    """A connection storm: every line a refusal, counted exactly."""
    lines = [shapes.stderr(f'too many connections for role "r{i % 7}"') for i in range(100_000)]
    got = scan("\n".join(lines))
    assert {s.role: s.count for s in got} == {f"r{k}": 14286 if k < 5 else 14285 for k in range(7)}


def test_non_string_json_values() -> None:
    line = json.dumps({"message": 53300, "error_severity": None, "state_code": ["53300"]})
    assert scan(line + "\n" + json.dumps([1, 2, {"a": "sorry, too many clients already"}])) == []


def test_surrogates_in_str_input() -> None:
    text = "\udcff FATAL:  sorry, too many clients already \ud800"
    (s,) = scan(text)
    assert s.kind is K.MAX_CONNECTIONS
