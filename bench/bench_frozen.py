"""A frozen server (its processes stopped with SIGSTOP): how long until pgconn answers.

(a) kept connection open, the query hangs: the watchdog cancels, then abandons the socket.
(b) no connection yet, the connect hangs: libpq's connect_timeout.
(c) asked again while the hold lasts: the same answer at once.

    python bench/bench_frozen.py [--major 15]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bot import throwaway
from bot.config import parse
from bot.diagnostics.keeper import Keepers
from bot.playbooks import load_playbooks
from bot.service import analyse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import pg


def _timed(keepers: Keepers, config, playbooks) -> tuple[float, str]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    report = analyse([], config.cluster("icy"), playbooks, keepers=keepers)
    note = next((n for n in report.notes if "did not answer" in n or "timeout" in n), "")
    return time.perf_counter() - started, note[:60]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--major", type=int, default=None)
    args = parser.parse_args()
    playbooks = load_playbooks()
    with throwaway.running(args.major) as server:
        config = parse({"clusters": {"icy": {"dsn": server.dsn()}}}, env={})
        kept, fresh = Keepers(), Keepers()
        try:
            assert kept.postgres(config.cluster("icy")).warm()
            with pg.frozen(server):
                for label, keepers in (
                    ("(a) kept connection, query hangs", kept),
                    ("(b) no connection, connect hangs", fresh),
                    ("(c) again, within the hold", kept),
                ):
                    seconds, note = _timed(keepers, config, playbooks)
                    print(f"{label:<36} {seconds:5.2f} s  {note}")
        finally:
            kept.close()
            fresh.close()


if __name__ == "__main__":
    main()
