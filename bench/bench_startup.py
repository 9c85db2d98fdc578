"""Wall and CPU time of `pgconn explain --json` on a one-line paste, as a whole process.

    python bench/bench_startup.py [--runs 20] [--paste 'FATAL:  sorry, too many clients already']

Runs the command (this checkout's code, through `python -m bot.cli`) after one warm-up,
prints min / median / max of wall time and of the child's user+sys CPU time, and the same
for a bare `python -c pass` so the interpreter's own start-up can be told apart. Prints
figures only; the target (DESIGN.md) is <= 150 ms wall.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _figures(name: str, cmd: list[str], env: dict[str, str], runs: int) -> None:
    _run(cmd, env)  # warm-up: file cache, bytecode
    walls, cpus = zip(*(_run(cmd, env) for _ in range(runs)), strict=True)
    for label, values in (("wall", walls), ("cpu", cpus)):
        ms = sorted(v * 1000 for v in values)
        print(
            f"{name:<28} {label:<4} min {ms[0]:6.0f} ms  median {statistics.median(ms):6.0f} ms"
            f"  max {ms[-1]:6.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--paste", default="FATAL:  sorry, too many clients already")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        paste = Path(tmp) / "paste.txt"
        paste.write_text(args.paste + "\n", encoding="utf-8")
        _figures("python -c pass", [sys.executable, "-c", "pass"], env, args.runs)
        _figures(
            "pgconn explain --json",
            [sys.executable, "-m", "bot.cli", "explain", "--json", str(paste)],
            env,
            args.runs,
        )


if __name__ == "__main__":
    main()
