"""When pgconn cannot connect, each cause gets its own plain answer and next step.

A name that does not resolve, a port nobody listens on and a rejected password are not a full
server: none of them gets the reserved-slots advice, and the next step named is a command that
runs. Real failures: a real resolver, a real closed port, a real server refusing the password.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot import signals, throwaway
from bot.config import ClusterConfig
from bot.playbooks import load_playbooks
from bot.service import analyse
from bot.triage.unreachable import classify
from tests import pg

PASTE = 'FATAL:  too many connections for role "app_user"'


def _notes(dsn: str, name: str) -> str:
    report = analyse(signals.scan(PASTE), ClusterConfig(name, dsn), load_playbooks())
    assert not report.live
    assert report.findings[0].code == "role_limit"  # the paste is still answered
    return "\n".join(report.notes)


def _no_reserved_advice(notes: str) -> None:
    for word in ("reserved", "pg_use_reserved_connections", "SUPERUSER", "keeps a diagnostics"):
        assert word not in notes, notes


def _check_runs(tmp_path: Path, name: str, dsn: str) -> None:
    """The `pgconn check NAME` a note names does run: it reports the cluster unreachable."""
    config = tmp_path / "pgconn.yaml"
    config.write_text(f"clusters:\n  {name}:\n    dsn: {dsn!r}\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check", name, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert "UNREACHABLE" in done.stdout


def test_a_host_that_does_not_resolve(tmp_path):
    dsn = "host=no-such-host.invalid dbname=postgres user=pgconn_mon connect_timeout=3"
    notes = _notes(dsn, "dnsfail")
    assert "does not resolve (DNS)" in notes
    assert "`pgconn check dnsfail`" in notes
    _no_reserved_advice(notes)
    _check_runs(tmp_path, "dnsfail", dsn)


def test_nothing_listens_on_the_port(tmp_path):
    dsn = f"host=127.0.0.1 port={throwaway.free_port()} dbname=postgres user=x connect_timeout=3"
    notes = _notes(dsn, "down")
    assert "Nothing accepts connections at that address" in notes
    assert "`pgconn check down`" in notes
    _no_reserved_advice(notes)
    _check_runs(tmp_path, "down", dsn)


@pytest.mark.parametrize("cluster", [15], indirect=True, ids=["pg15"])
def test_a_rejected_password(cluster, tmp_path):
    role = pg.unique("mon")
    pg.create_role(cluster, role, extra="IN ROLE pg_monitor")
    dsn = cluster.dsn(user=role, password="not-the-password")
    notes = _notes(dsn, "badpw")
    assert "rejected the monitoring role's password" in notes
    assert "not-the-password" not in notes
    _no_reserved_advice(notes)


def test_only_a_refusal_for_lack_of_slots_is_capacity():
    assert classify("FATAL:  sorry, too many clients already", "53300", "c").capacity
    cause = classify('FATAL:  password authentication failed for user "x"', "28P01", "c")
    assert (cause.kind, cause.capacity) == ("password", False)


def test_a_dsn_from_the_command_line_gets_hints_that_run():
    """`pgconn diagnose --dsn …` names no configured cluster: no hint may name one."""
    dsn = f"host=127.0.0.1 port={throwaway.free_port()} dbname=postgres user=x connect_timeout=3"
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "explain", "-", "--dsn", dsn],
        input=PASTE,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 3, done.stderr
    assert "Nothing accepts connections at that address" in out
    assert "`pgconn diagnose --dsn DSN`" in out
    for wrong in ("pgconn diagnose dsn", "pgconn check dsn", "pgconn check the"):
        assert wrong not in out, out
