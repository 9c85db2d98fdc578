"""PgBouncer from a paste: SHOW POOLS / SHOW CLIENTS / SHOW CONFIG output and pgbouncer.ini.

The typed snapshot is built by the console module's own builder (imported only when a paste
has PgBouncer tables: it brings psycopg). What the paste does not show is said: SHOW LISTS'
client count is taken from SHOW CLIENTS, else from the pools' active and waiting clients.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.pasted.tables import Row, Table

if TYPE_CHECKING:
    from bot.pgbouncer.model import PoolerSnapshot

_SECTION = re.compile(r"^\s*\[(?P<name>[a-z_]+)\]\s*$")
_ENTRY = re.compile(r"^\s*(?P<key>[A-Za-z0-9_.*\"-]+)\s*=\s*(?P<value>.*?)\s*$")
_ADMIN = "pgbouncer"


def is_pools(t: Table) -> bool:
    return {"database", "user", "cl_active", "cl_waiting", "sv_active"} <= set(t.columns)


def is_clients(t: Table) -> bool:
    return {"type", "user", "database", "state"} <= set(t.columns)


def is_config(t: Table) -> bool:
    return {"key", "value"} <= set(t.columns)


def read_ini(text: str) -> tuple[dict[str, str], list[Row]] | None:
    """[pgbouncer] settings and [databases] entries (as SHOW DATABASES rows) of a pgbouncer.ini."""
    section = None
    settings: dict[str, str] = {}
    databases: list[Row] = []
    seen = False
    for line in text.split("\n"):
        line = line.split(";", 1)[0].split("#", 1)[0] if not line.lstrip().startswith("[") else line
        m = _SECTION.match(line)
        if m:
            section = m["name"]
            seen = seen or section == "pgbouncer"
            continue
        e = _ENTRY.match(line)
        if e is None or section is None:
            continue
        if section == "pgbouncer":
            settings[e["key"]] = e["value"]
        elif section == "databases":
            databases.append(_database(e["key"].strip('"'), e["value"]))
    return (settings, databases) if seen else None


def _database(name: str, connstr: str) -> Row:
    params = dict(re.findall(r"(\w+)\s*=\s*(\S+)", connstr))
    return {
        "name": name,
        "host": params.get("host"),
        "port": params.get("port"),
        "database": params.get("dbname", name),
        "force_user": params.get("user"),
        "pool_size": params.get("pool_size"),
        "reserve_pool": params.get("reserve_pool"),
        "pool_mode": params.get("pool_mode"),
        "max_connections": params.get("max_db_connections", "0"),
        "current_connections": "0",
    }


def build_pooler(
    tables: Sequence[Table], ini: tuple[dict[str, str], list[Row]] | None
) -> tuple[PoolerSnapshot, list[str]] | None:
    pools = [r for t in tables if is_pools(t) for r in t.rows]
    clients = [r for t in tables if is_clients(t) for r in t.rows]
    shown = [r for t in tables if is_config(t) for r in t.rows]
    if not pools and not clients and not shown and ini is None:
        return None
    from bot.pgbouncer.console import (
        SHOW_CLIENTS,
        SHOW_CONFIG,
        SHOW_DATABASES,
        SHOW_LISTS,
        SHOW_POOLS,
        build_pooler_snapshot,
    )

    settings, databases = ini if ini is not None else ({}, [])
    config: dict[str, str | None] = dict(settings)
    config.update({str(r.get("key")): r.get("value") for r in shown})
    app_clients = [r for r in clients if r.get("database") != _ADMIN]
    if app_clients:
        used, counted = len(app_clients), "SHOW CLIENTS"
    else:
        used = sum(
            int(r.get("cl_active") or 0) + int(r.get("cl_waiting") or 0)
            for r in pools
            if r.get("database") != _ADMIN
        )
        counted = "the pools' active and waiting clients (SHOW CLIENTS was not pasted)"
    raw: dict[str, list[dict[str, object]]] = {
        SHOW_CONFIG: [{"key": k, "value": v} for k, v in config.items()],
        SHOW_POOLS: [dict(r) for r in pools],
        SHOW_CLIENTS: [dict(r) for r in clients],
        SHOW_DATABASES: [dict(r) for r in databases],
        # The console session that ran SHOW is counted by PgBouncer, and taken off by pgconn.
        SHOW_LISTS: [{"list": "used_clients", "items": used + 1}],
    }
    parts = [
        name
        for name, present in (
            ("SHOW POOLS", pools),
            ("SHOW CLIENTS", clients),
            ("SHOW CONFIG", shown),
            ("pgbouncer.ini", ini),
        )
        if present
    ]
    missing = []
    if not pools:
        missing.append("SHOW POOLS")
    if not shown and ini is None:
        missing.append("SHOW CONFIG or pgbouncer.ini")
    notes = [
        f"PgBouncer from the paste ({', '.join(parts)}); client connections counted from "
        f"{counted}: {used}."
    ]
    if missing:
        notes.append(
            f"Not in the paste: {', '.join(missing)}; PgBouncer's defaults stand in for what "
            "is missing."
        )
    return build_pooler_snapshot("unknown (pasted)", raw), notes
