"""Connection settings from a paste: `SHOW name` results and pg_settings / `SHOW ALL` rows."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.diagnostics.model import MemorySettings
from bot.pasted.tables import Table

# The settings a Snapshot carries, and the base unit of each duration (ms or s).
SETTINGS = (
    "max_connections",
    "superuser_reserved_connections",
    "reserved_connections",
    "idle_in_transaction_session_timeout",
    "idle_session_timeout",
    "statement_timeout",
    "tcp_keepalives_idle",
    "tcp_keepalives_interval",
    "tcp_keepalives_count",
    "max_wal_senders",
    "server_version",
    "server_version_num",
    # memory, for the max_connections ceiling
    "shared_buffers",
    "work_mem",
    "maintenance_work_mem",
    "hash_mem_multiplier",
    "autovacuum_max_workers",
    "client_connection_check_interval",
    "transaction_timeout",
)
_WITH_UNIT = re.compile(r"^\s*(?P<n>-?\d+(?:\.\d+)?)\s*(?P<unit>[a-zA-Z]*)\s*$")


def read_settings(tables: Sequence[Table]) -> dict[str, str]:
    """Setting name -> its value as SHOW prints it ('100', '30s', '128MB'). pg_settings rows
    with a `unit` column get it appended ('8kB' units are multiplied out)."""
    found: dict[str, str] = {}
    for t in tables:
        cols = set(t.columns)
        if len(t.columns) == 1 and t.columns[0] in SETTINGS and t.rows:
            value = t.rows[0].get(t.columns[0])
            if value is not None:
                found[t.columns[0]] = value
        elif {"name", "setting"} <= cols:
            for row in t.rows:
                name, value = row.get("name"), row.get("setting")
                if name in SETTINGS and value is not None:
                    found[name] = _with_unit(value, row.get("unit"))
    return found


def _with_unit(value: str, unit: str | None) -> str:
    if not unit:
        return value
    m = re.fullmatch(r"(\d+)(\w+)", unit)
    if m and value.lstrip("-").isdigit():  # pg_settings: setting 16384, unit 8kB
        return f"{int(value) * int(m[1])}{m[2]}"
    return f"{value}{unit}"


_TIME_MS: dict[str, float] = {
    "us": 0.001,
    "ms": 1,
    "s": 1000,
    "min": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
}
_SIZE_B: dict[str, float] = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def duration_ms(shown: str | None, base_ms: int) -> int | None:
    """'30s', '0', '1500ms', '5min' in milliseconds; None when absent or unreadable."""
    return _scaled(shown, _TIME_MS, base_ms)


def size_bytes(shown: str | None, base: int = 1024) -> int | None:
    """'128MB', '4096kB', '8GB' in bytes; a bare number is in `base` bytes (kB for work_mem)."""
    return _scaled(shown, _SIZE_B, base)


def _scaled(shown: str | None, units: dict[str, float], base: float) -> int | None:
    """A setting as shown, in its smallest unit: a bare number counts in `base`."""
    m = _WITH_UNIT.match(shown) if shown is not None else None
    if not m:
        return None
    scale = units.get(m["unit"]) if m["unit"] else base
    return None if scale is None else int(float(m["n"]) * scale)


def memory_settings(
    shared_buffers: str | None,
    work_mem: str | None,
    maintenance_work_mem: str | None,
    hash_mem_multiplier: str | None,
    autovacuum_max_workers: str | None,
) -> MemorySettings | None:
    """From the values as SHOW prints them ('128MB', '4MB', '2'); None if one is missing."""
    sb, wm, mwm = size_bytes(shared_buffers), size_bytes(work_mem), size_bytes(maintenance_work_mem)
    if sb is None or wm is None or mwm is None:
        return None
    try:
        hash_mult = float(hash_mem_multiplier) if hash_mem_multiplier else 1.0
        workers = int(autovacuum_max_workers) if autovacuum_max_workers else 3
    except ValueError:
        return None
    return MemorySettings(sb, wm, mwm, hash_mult, workers)
