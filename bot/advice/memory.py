"""The max_connections a machine's memory can hold, with the arithmetic shown.

    ceiling = (memory − shared_buffers − autovacuum_max_workers × maintenance_work_mem
               − headroom) ÷ (work_mem × hash_mem_multiplier + per-backend overhead)

An estimate, stated as one: each backend is counted with one hash or sort at its full
work_mem (a complex query can use several) plus a fixed overhead for its own memory; a quarter
of the machine is left to the operating system and the page cache. Without the machine's size
(`clusters.<name>.memory`, `--memory`), four times shared_buffers is assumed, the usual sizing
of shared_buffers at a quarter of the memory.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.diagnostics.model import MemorySettings, Snapshot
from bot.triage.codes import FindingCode
from bot.triage.draft import Draft

MIB = 1024 * 1024
BACKEND_OVERHEAD = 10 * MIB
HEADROOM_SHARE = 0.25
_CODES = (FindingCode.MAX_CONNECTIONS, FindingCode.RESERVED_SLOTS, FindingCode.SERVER_NEAR_FULL)


def _mib(n: float) -> str:
    return f"{n / MIB:,.0f} MiB"


@dataclass(frozen=True, slots=True)
class Ceiling:
    connections: int
    arithmetic: str
    assumed: str | None


def ceiling(m: MemorySettings, memory: int | None, where: str) -> Ceiling:
    assumed = None
    if memory is None:
        memory = 4 * m.shared_buffers
        assumed = (
            f"The machine's memory is not configured ({where}): 4 × shared_buffers = "
            f"{_mib(memory)} is assumed."
        )
    maintenance = m.autovacuum_max_workers * m.maintenance_work_mem
    headroom = int(memory * HEADROOM_SHARE)
    per_backend = m.work_mem * m.hash_mem_multiplier + BACKEND_OVERHEAD
    free = memory - m.shared_buffers - maintenance - headroom
    n = max(int(free // per_backend), 0)
    arithmetic = (
        f"({_mib(memory)} memory − {_mib(m.shared_buffers)} shared_buffers − "
        f"{m.autovacuum_max_workers} × {_mib(m.maintenance_work_mem)} maintenance_work_mem − "
        f"{_mib(headroom)} ({HEADROOM_SHARE:.0%}) for the OS and page cache) ÷ "
        f"({_mib(m.work_mem)} work_mem × {m.hash_mem_multiplier:g} hash_mem_multiplier + "
        f"{_mib(BACKEND_OVERHEAD)} per-backend overhead) = {n} connections"
    )
    return Ceiling(n, arithmetic, assumed)


def cap(drafts: list[Draft], snapshot: Snapshot | None, memory: int | None, where: str) -> None:
    """Cap the suggested max_connections of server findings by the memory ceiling."""
    if snapshot is None or snapshot.settings.memory is None:
        return
    c = ceiling(snapshot.settings.memory, memory, where)
    current = snapshot.settings.max_connections
    for d in drafts:
        if d.code not in _CODES:
            continue
        lines = [f"Memory ceiling for max_connections: {c.arithmetic}."]
        if c.assumed:
            lines.append(c.assumed)
        suggested = d.server.new_max_connections
        if c.connections <= current:
            lines.append(
                f"max_connections is {current} already: the memory cannot hold more backends. "
                "Do not raise it; share fewer connections through a pooler instead."
            )
        elif isinstance(suggested, int) and suggested > c.connections:
            lines.append(
                f"The suggested {suggested} is capped at {c.connections}, what the memory holds."
            )
            d.server = replace(d.server, new_max_connections=c.connections)
        d.evidence.extend(lines)
