"""`pgconn check`: one round of probes from the shell, levels printed, nothing posted."""

from __future__ import annotations

import json

from bot import throwaway
from bot.cli import EXIT_NO_LIVE, EXIT_OK, EXIT_OVER, EXIT_USAGE, main
from tests import pg


def _config(tmp_path, cluster, extra: str = "") -> str:
    path = tmp_path / "pgconn.yaml"
    path.write_text(
        "clusters:\n"
        "  main:\n"
        f'    dsn: "host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres '
        'password=${PGCONN_TEST_PW}"\n'
        f"{extra}"
        "warnings:\n"
        "  probe_timeout_seconds: 2\n"
    )
    return str(path)


def test_check_prints_levels_and_exits_by_the_worst(cluster, holder, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PGCONN_TEST_PW", cluster.superuser_password)
    role = pg.unique("chk")
    password = pg.create_role(cluster, role, limit=4)
    holder.open(1, role, password, app="cron")
    path = _config(tmp_path, cluster)

    assert main(["check", "--config", path]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"role {role}" in out
    assert "1/4" in out
    assert "OK" in out
    assert "main" in out
    assert "server" in out

    holder.open(3, role, password, app="cron")
    assert main(["check", "main", "--config", path, "--json"]) == EXIT_OVER
    data = json.loads(capsys.readouterr().out)
    [main_cluster] = data["clusters"]
    assert main_cluster["reachable"]
    assert main_cluster["level"] == "critical"
    [entity] = [e for e in main_cluster["entities"] if e["name"] == role]
    assert (entity["current"], entity["limit"], entity["level"]) == (4, 4, "critical")
    assert entity["holders"][0]["application"] == "cron"
    assert cluster.superuser_password not in json.dumps(data)


def test_check_reports_unreachable_clusters_without_secrets(cluster, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PGCONN_TEST_PW", cluster.superuser_password)
    port = throwaway.free_port()
    down = f'  down:\n    dsn: "host=127.0.0.1 port={port} user=x password=Check-Secret-5577"\n'
    path = _config(tmp_path, cluster, down)
    assert main(["check", "--config", path]) == EXIT_NO_LIVE
    out = capsys.readouterr().out
    assert "down             UNREACHABLE:" in out
    assert "Check-Secret-5577" not in out

    assert main(["check", "nope", "--config", path]) == EXIT_USAGE
    assert "unknown cluster 'nope'" in capsys.readouterr().err
