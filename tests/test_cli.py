"""The `pgconn` command against real servers: explain, diagnose, check-config, errors."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys

import pytest

from bot.cli import EXIT_NO_LIVE, EXIT_OK, EXIT_USAGE, main
from tests import pg, pgconn_command


@pytest.fixture
def incident(cluster, holder, tmp_path):
    """A role at its limit; the refused login's text saved as an application log."""
    role = pg.unique("shop")
    password = pg.create_role(cluster, role, limit=2)
    holder.open(2, role, password, app="cart")
    fatal = holder.refused(role, password)
    log = tmp_path / "app.log"
    log.write_text(
        f"2026-11-22 03:00:01 ERROR worker: {fatal}\nTraceback (most recent call last):\n"
    )
    return role, log


def _config(tmp_path, cluster, password_env="PGCONN_TEST_PW"):
    path = tmp_path / "pgconn.yaml"
    path.write_text(
        "clusters:\n"
        "  main:\n"
        f'    dsn: "host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres '
        f'password=${{{password_env}}}"\n'
    )
    return path


def test_explain_json_lists_signals(incident, capsys):
    role, log = incident
    assert main(["explain", str(log), "--json"]) == EXIT_OK
    out = json.loads(capsys.readouterr().out)
    [signal] = out["signals"]
    assert signal["kind"] == "role_limit"
    assert signal["role"] == role
    assert signal["sqlstate"] == "53300"
    assert signal["count"] == 1
    assert signal["first_line"] == 1
    assert {"database", "source"} <= set(signal)


def test_explain_reads_gzip_and_stdin(incident, tmp_path, capsys, monkeypatch):
    role, log = incident
    packed = tmp_path / "app.log.gz"
    packed.write_bytes(gzip.compress(log.read_bytes() * 3))
    assert main(["explain", str(packed), "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["signals"][0]["count"] == 3

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(log.read_bytes())))
    assert main(["explain", "-"]) == EXIT_OK
    assert role in capsys.readouterr().out


def test_explain_with_cluster_adds_live_numbers(incident, cluster, tmp_path, capsys, monkeypatch):
    _, log = incident
    monkeypatch.setenv("PGCONN_TEST_PW", cluster.superuser_password)
    config = _config(tmp_path, cluster)
    assert main(["explain", str(log), "--cluster", "main", "--config", str(config)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "2 of its 2" in out
    assert cluster.superuser_password not in out


def test_diagnose_by_dsn_and_by_name(cluster, tmp_path, capsys, monkeypatch):
    assert main(["diagnose", "--dsn", cluster.dsn(), "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["snapshot"]["settings"]["max_connections"] == 100

    monkeypatch.setenv("PGCONN_TEST_PW", cluster.superuser_password)
    assert main(["diagnose", "main", "--config", str(_config(tmp_path, cluster))]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"PostgreSQL {cluster.major}" in out
    assert cluster.superuser_password not in out


def test_unreachable_cluster_still_reports(cluster, capsys):
    dsn = cluster.dsn(password="Wrong-Password-123")
    assert main(["diagnose", "--dsn", dsn]) == EXIT_NO_LIVE
    captured = capsys.readouterr()
    assert "could not connect" in captured.out
    assert "Wrong-Password-123" not in captured.out + captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["explain", "/no/such/file.log"], "no such file"),
        (["diagnose"], "needs a CLUSTER"),
        (["diagnose", "main"], "no configuration"),
        (["diagnose", "main", "--dsn", "host=x"], "either a cluster name or --dsn"),
    ],
)
def test_usage_errors_say_what_to_do(argv, message, capsys, monkeypatch):
    monkeypatch.delenv("PGCONN_CONFIG", raising=False)
    assert main(argv) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_config_errors_are_listed_with_paths(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("clusters:\n  main:\n    dns: typo\n")
    assert main(["check-config", "--config", str(bad)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "clusters.main.dns: unknown key" in err
    assert "clusters.main.dsn: required" in err


def test_unknown_cluster(cluster, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PGCONN_TEST_PW", "x")
    assert main(["diagnose", "nope", "--config", str(_config(tmp_path, cluster))]) == EXIT_USAGE
    assert "configured clusters: main" in capsys.readouterr().err


def test_check_config_ok(cluster, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PGCONN_TEST_PW", "x")
    assert main(["check-config", "--config", str(_config(tmp_path, cluster))]) == EXIT_OK
    assert "OK, 1 cluster(s): main" in capsys.readouterr().out


def test_console_script_help():
    out = subprocess.run(
        [pgconn_command(), "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("explain", "diagnose", "demo", "check-config"):
        assert command in out
