"""Throughput of `bot.signals.scan` on a generated 16 MB PostgreSQL log, against
`LC_ALL=C grep -cE` searching the same needles in the same file.

    python bench/bench_explain.py [--mb 16] [--repeat 5] [--backend hyperscan|re2|re]

Prints figures only; the target (DESIGN.md) is >= 200 MB/s and within 3x of grep.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.signals import prefilter, scan

_TABLES = ("orders", "order_items", "customers", "payments", "sessions", "events")
_ROLES = ("app", "app_ro", "reporting", "etl", "billing")


def _stamp(rng: random.Random, i: int) -> str:
    s = i // 40
    ms = rng.randrange(1000)
    return f"2024-05-01 {s // 3600 % 24:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{ms:03d} UTC"


def _ordinary(rng: random.Random, i: int) -> str:
    ts, pid = _stamp(rng, i), rng.randrange(1000, 65000)
    role, table = rng.choice(_ROLES), rng.choice(_TABLES)
    p = f"{ts} [{pid}] "
    r = rng.random()
    if r < 0.45:
        return (  # log text, not a query that runs
            f"{p}LOG:  duration: {rng.uniform(0.05, 900):.3f} ms  statement: SELECT id, status, "  # noqa: S608
            f"created_at FROM {table} WHERE customer_id = {rng.randrange(10**6)} "
            f"ORDER BY created_at DESC LIMIT 50"
        )
    if r < 0.6:
        host = f"10.0.{rng.randrange(256)}.{rng.randrange(256)}"
        return f"{p}LOG:  connection received: host={host} port={rng.randrange(30000, 65000)}"
    if r < 0.72:
        return f"{p}LOG:  connection authorized: user={role} database=appdb application_name=web"
    if r < 0.82:
        return (
            f"{p}LOG:  disconnection: session time: 0:00:{rng.uniform(0, 59):06.3f} user={role} "
            f"database=appdb host=10.0.3.{rng.randrange(256)} port={rng.randrange(30000, 65000)}"
        )
    if r < 0.88:
        return f'{p}ERROR:  duplicate key value violates unique constraint "{table}_pkey"'
    if r < 0.92:
        return f"{p}DETAIL:  Key (id)=({rng.randrange(10**7)}) already exists."
    if r < 0.96:
        return f"{p}STATEMENT:  INSERT INTO {table} (id, payload) VALUES ($1, $2)"  # noqa: S608
    if r < 0.98:
        return f'{p}LOG:  automatic vacuum of table "appdb.public.{table}": index scans: 1'
    return (
        f"{p}LOG:  checkpoint complete: wrote {rng.randrange(5000)} buffers (1.2%); 0 WAL file(s) "
        f"added, 0 removed, 3 recycled; write=26.912 s, sync=0.004 s, total=26.940 s"
    )


def _incident(rng: random.Random, i: int) -> str:
    ts, pid, role = _stamp(rng, i), rng.randrange(1000, 65000), rng.choice(_ROLES)
    return rng.choice(
        (
            f'{ts} [{pid}] FATAL:  too many connections for role "{role}"',
            f"{ts} [{pid}] FATAL:  sorry, too many clients already",
            f'{ts} [{pid}] {role}@appdb FATAL:  too many connections for database "appdb"',
            f"{ts} [{pid}] FATAL:  remaining connection slots are reserved for roles with the "
            f"SUPERUSER attribute",
            f'{ts},"{role}","appdb",{pid},"10.0.0.7:51234",66321a40.4d2,1,"authentication",'
            f'{ts},3/0,0,FATAL,53300,"too many connections for role ""{role}""",,,,,,,,,'
            f'"","client backend",,0',
            json.dumps(
                {
                    "timestamp": ts,
                    "user": role,
                    "dbname": "appdb",
                    "pid": pid,
                    "error_severity": "FATAL",
                    "state_code": "53300",
                    "message": "sorry, too many clients already",
                }
            ),
            f"{ts} [{pid}] WARNING C-0x55d5c8f0a2b0: appdb/{role}@10.0.0.7:51234 pooler error: "
            f"no more connections allowed (max_client_conn)",
            "HikariPool-1 - Connection is not available, request timed out after 30004ms "
            "(total=10, active=10, idle=0, waiting=42)",
        )
    )


def generate(path: Path, megabytes: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    target = megabytes * 1024 * 1024
    size = i = 0
    with path.open("w", encoding="utf-8") as fh:
        while size < target:
            line = _incident(rng, i) if rng.random() < 0.002 else _ordinary(rng, i)
            fh.write(line + "\n")
            size += len(line.encode()) + 1
            i += 1
    return i


def _ere(needle: bytes) -> bytes:
    return re.sub(rb"([\\.\[\]()*+?{}|^$])", rb"\\\1", needle)


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--backend", choices=prefilter.BACKENDS, default=None)
    args = ap.parse_args()

    backend = prefilter.use(args.backend)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "postgresql.log"
        lines = generate(path, args.mb)
        data = path.read_bytes()
        mb = len(data) / 1e6
        needles = len(prefilter.NEEDLES)
        print(f"log: {mb:.1f} MB, {lines} lines; {needles} needles; backend {backend.name}")

        signals = scan(data)
        t_scan = best_of(args.repeat, lambda: scan(data))
        candidates = len(backend.lines(data))
        print(
            f"scan:  {mb / t_scan:8.0f} MB/s  ({t_scan * 1000:.1f} ms, best of {args.repeat}); "
            f"{candidates} candidate lines, {sum(s.count for s in signals)} signal occurrences, "
            f"{len(signals)} distinct"
        )

        grep = shutil.which("grep")
        if grep is None:
            print("grep: not found")
            return
        pattern = b"|".join(_ere(n) for n in prefilter.NEEDLES)
        cmd = [grep, "-cE", pattern, str(path)]
        env = dict(os.environ, LC_ALL="C")
        count = (
            subprocess.run(cmd, env=env, capture_output=True, check=False).stdout.decode().strip()
        )
        t_grep = best_of(
            args.repeat, lambda: subprocess.run(cmd, env=env, capture_output=True, check=False)
        )
        print(
            f"grep:  {mb / t_grep:8.0f} MB/s  ({t_grep * 1000:.1f} ms, best of {args.repeat}); "
            f"{count} matching lines"
        )
        print(f"ratio: scan takes {t_scan / t_grep:.2f}x grep's time")


if __name__ == "__main__":
    main()
