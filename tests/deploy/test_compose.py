"""deploy/compose.yaml: the Compose specification's schema (as vendored by check-jsonschema), the
references the schema cannot see, and the database side run for real: a server started with the
Compose file's own settings, initialised by its own init script."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql

from bot.config import parse
from tests import pg
from tests.deploy import tools

COMPOSE = tools.DEPLOY / "compose.yaml"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?message}, with the variables unset."""

    def sub(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if env and name in env:
            return env[name]
        if op == ":?":
            pytest.fail(f"{value!r} requires {name} to be set")
        return arg or ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", sub, value)


@pytest.mark.deploy_lint
def test_matches_the_compose_specification() -> None:
    done = subprocess.run(
        [tools.binary("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.deploy_lint
def test_the_schema_check_catches_mistakes(tmp_path: Path) -> None:
    broken = compose()
    broken["services"]["pgconn"]["cap_drops"] = ["ALL"]
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(broken))
    done = subprocess.run(
        [tools.binary("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "cap_drops" in done.stdout


def test_references_resolve() -> None:
    doc = compose()
    services = doc["services"]
    for name, service in services.items():
        for dep in service.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown {dep}"
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("."):
                assert (tools.DEPLOY / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in doc["volumes"], f"{name}: undeclared volume {source}"
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"
    build = services["pgconn"]["build"]
    assert (tools.DEPLOY / build["context"] / build["dockerfile"]).is_file()


def test_bot_config_is_valid_with_the_bots_environment() -> None:
    bot = compose()["services"]["pgconn"]
    env = {k: interpolate(str(v)) for k, v in bot["environment"].items()}
    config_mount = next(m for m in bot["volumes"] if m.split(":")[1] == "/etc/pgconn/config.yaml")
    text = (tools.DEPLOY / config_mount.split(":")[0]).read_text()
    assert config_mount.endswith(":ro")
    assert set(re.findall(r"\$\{(\w+)", text)) <= set(env)
    config = parse(yaml.safe_load(text), env=env)
    for cluster in config.clusters.values():
        # Straight to PostgreSQL, never through the pooler.
        assert "host=postgres " in cluster.dsn
        assert cluster.admin_dsn
        assert "user=pgconn_admin" in cluster.admin_dsn
    # The passwords the bot gets are the ones the database's init script sets.
    db_env = compose()["services"]["postgres"]["environment"]
    for name in ("PGCONN_MONITOR_PASSWORD", "PGCONN_ADMIN_PASSWORD"):
        assert bot["environment"][name] == db_env[name]
    pooler = compose()["services"]["pgbouncer"]["environment"]
    assert pooler["DB_HOST"] == "postgres"
    assert pooler["DB_PASSWORD"] == db_env["APP_PASSWORD"]


@pytest.mark.pg
def test_database_initialises_as_compose_runs_it() -> None:
    """PostgreSQL 18 started with the Compose file's `-c` settings, then its init script run
    as the image would run it; the roles work with the passwords the bot is given."""
    db = compose()["services"]["postgres"]
    command = db["command"]
    settings = dict(command[i + 1].split("=", 1) for i, arg in enumerate(command) if arg == "-c")
    assert settings.get("reserved_connections"), "the trial shows the 16+ reserved slots"
    server = pg.start(18, settings)
    try:
        env = {k: interpolate(str(v)) for k, v in db["environment"].items()}
        script_mount = next(m for m in db["volumes"] if "docker-entrypoint-initdb.d" in m)
        sql_mount = next(m for m in db["volumes"] if m.startswith("./sql:"))
        run_env = {
            **os.environ,
            **env,
            "PGHOST": "127.0.0.1",
            "PGPORT": str(server.port),
            "PGPASSWORD": server.superuser_password,
            "POSTGRES_USER": "postgres",
            "POSTGRES_DB": "postgres",
            "PGCONN_SQL_DIR": str(tools.DEPLOY / sql_mount.split(":")[0]),
            "PATH": f"{server.binaries.bin_dir}:{os.environ['PATH']}",
        }
        script = tools.DEPLOY / script_mount.split(":")[0]
        assert os.access(script, os.X_OK), "the image sources, rather than runs, a non-executable"
        done = subprocess.run(
            [str(script)], env=run_env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr

        for user, password in (
            ("pgconn_monitor", env["PGCONN_MONITOR_PASSWORD"]),
            ("pgconn_admin", env["PGCONN_ADMIN_PASSWORD"]),
            ("app_user", env["APP_PASSWORD"]),
        ):
            with psycopg.connect(server.dsn(user=user, password=password)) as conn:
                assert conn.execute("SELECT current_user").fetchone() == (user,)
        with psycopg.connect(
            server.dsn(user="pgconn_admin", password=env["PGCONN_ADMIN_PASSWORD"]), autocommit=True
        ) as adm:
            adm.execute(
                sql.SQL("ALTER ROLE {} CONNECTION LIMIT 12").format(sql.Identifier("app_user"))
            )
        with pg.admin(server) as conn:
            assert conn.execute(
                "SELECT rolconnlimit FROM pg_roles WHERE rolname = 'app_user'"
            ).fetchone() == (12,)
            assert conn.execute("SHOW reserved_connections").fetchone() == ("3",)
    finally:
        server.destroy()
