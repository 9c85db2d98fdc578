"""The memory ceiling of max_connections, from the settings read live on 15 and 18."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bot import throwaway
from bot.cli import main
from bot.config import ClusterConfig, parse
from bot.playbooks import load_playbooks
from bot.service import analyse
from bot.triage.model import Finding, Report
from tests import pg

MAX, WORK_MEM_MB = 8, 64
MIB = 1024 * 1024
SERVER_CODES = ("max_connections", "reserved_slots", "server_near_full")


@pytest.fixture(scope="module", params=pg.MAJORS, ids=[f"pg{m}" for m in pg.MAJORS])
def small(request: pytest.FixtureRequest) -> Iterator[throwaway.ThrowawayCluster]:
    server = pg.start(
        request.param,
        {"max_connections": str(MAX), "superuser_reserved_connections": "2",
         "work_mem": f"'{WORK_MEM_MB}MB'", "shared_buffers": "'128MB'"},
    )  # fmt: skip
    role = pg.unique("busy")
    pw = pg.create_role(server, role)
    holder = pg.Holder(server)
    # Near full: every ordinary slot but pgconn's own taken (16+ reserves one more slot).
    ordinary = MAX - 2 - (1 if request.param >= 16 else 0)
    holder.open(ordinary - 1, role, pw)
    yield server
    holder.close()
    server.destroy()


def _expected(server: throwaway.ThrowawayCluster, memory_mb: float) -> int:
    """The ceiling from the settings as the server shows them, computed here independently."""
    with pg.admin(server) as conn:

        def mb(name: str) -> float:
            row = conn.execute(
                "SELECT pg_size_bytes(current_setting(%s))::float / 1048576", (name,)
            ).fetchone()
            assert row is not None
            return float(row[0])

        def value(name: str) -> float:
            row = conn.execute("SELECT setting::float FROM pg_settings WHERE name = %s", (name,))
            got = row.fetchone()
            assert got is not None
            return float(got[0])

        free = (
            memory_mb
            - mb("shared_buffers")
            - value("autovacuum_max_workers") * mb("maintenance_work_mem")
            - int(memory_mb * MIB * 0.25) / MIB
        )
        return max(int(free // (mb("work_mem") * value("hash_mem_multiplier") + 10)), 0)


def _server_finding(report: Report) -> Finding:
    (f,) = [f for f in report.findings if f.code in SERVER_CODES]
    return f


def _memory_lines(f: Finding) -> str:
    return " ".join(e for e in f.evidence if "memory" in e.lower())


def test_the_configured_memory_gives_the_ceiling_with_its_arithmetic(
    small: throwaway.ThrowawayCluster,
) -> None:
    config = parse({"clusters": {"s": {"dsn": small.dsn(), "memory": "16GB"}}}, env={})
    assert config.cluster("s").memory == 16 * 1024 * MIB
    f = _server_finding(analyse([], config.cluster("s"), load_playbooks()))
    lines = _memory_lines(f)
    n = _expected(small, 16 * 1024)
    assert f"= {n} connections" in lines and n > MAX
    assert f"{WORK_MEM_MB} MiB work_mem × 2 hash_mem_multiplier + 10 MiB" in lines
    assert "16,384 MiB memory − 128 MiB shared_buffers − 3 × 64 MiB maintenance_work_mem" in lines
    assert "capped" not in lines and "is assumed" not in lines


def test_a_raise_beyond_the_memory_is_capped(
    small: throwaway.ThrowawayCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    n = _expected(small, 2100)
    assert MAX < n < 10  # between the current and the suggested 10
    assert main(["diagnose", "--dsn", small.dsn(), "--memory", "2100MB", "--json"]) == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    [f] = [f for f in findings if f["code"] in SERVER_CODES]
    assert f"The suggested 10 is capped at {n}, what the memory holds." in f["evidence"]
    playbook = json.dumps(f["playbook"])
    assert "max_connections = 10" not in playbook
    # The near-full playbook suggests no new value; those of a full server use the capped one.
    assert f["playbook"]["id"] == "server-near-full" or f"max_connections = {n}" in playbook


def test_memory_that_holds_no_more_says_do_not_raise(small: throwaway.ThrowawayCluster) -> None:
    assert _expected(small, 1024) <= MAX
    cluster = ClusterConfig("s", small.dsn(), memory=1024 * MIB)
    lines = _memory_lines(_server_finding(analyse([], cluster, load_playbooks())))
    assert f"max_connections is {MAX} already: the memory cannot hold more backends" in lines


def test_without_the_memory_what_was_assumed_is_said(small: throwaway.ThrowawayCluster) -> None:
    lines = _memory_lines(
        _server_finding(analyse([], ClusterConfig("s", small.dsn()), load_playbooks()))
    )
    assert "4 × shared_buffers = 512 MiB is assumed" in lines
    assert "clusters.s.memory or --memory" in lines
    assert f"= {_expected(small, 512)} connections" in lines


def test_memory_must_carry_its_unit() -> None:
    with pytest.raises(Exception, match=r"clusters\.s\.memory"):
        parse({"clusters": {"s": {"dsn": "host=x", "memory": 16}}}, env={})
