"""`pgconn explain --json` of a paste: the pooler in the JSON, and nothing loaded that a paste
does not need (the live side, every playbook)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bot.cli import EXIT_OK, main

ROOT = Path(__file__).resolve().parent.parent.parent


def test_explain_json_names_the_pooler(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    paste = tmp_path / "paste.txt"
    paste.write_text(
        "FATAL:  (EMAXCONNSESSION) max clients reached in session mode - max clients are "
        "limited to pool_size: 15\n"
    )
    assert main(["explain", "--json", str(paste)]) == EXIT_OK
    (signal,) = json.loads(capsys.readouterr().out)["signals"]
    assert (signal["kind"], signal["pooler"], signal["sqlstate"]) == (
        "pooler_client_limit",
        "supavisor",
        "XX000",
    )


PROBE = """
import io, contextlib, sys
from bot.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main(["explain", "--json", sys.argv[1]])
loaded = sorted(m for m in ("psycopg", "hyperscan", "prometheus_client", "slack_bolt", "bot.config",
                            "bot.service") if m in sys.modules)
print(code, ",".join(loaded) or "-", out.getvalue().count('"playbook": {'))
"""


def test_explain_of_a_paste_loads_only_what_it_needs(tmp_path: Path) -> None:
    paste = tmp_path / "paste.txt"
    paste.write_text('FATAL:  too many connections for role "app"\n')
    done = subprocess.run(  # a fresh interpreter, to see what explain imports
        [sys.executable, "-c", PROBE, str(paste)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    code, loaded, playbooks = done.stdout.split()
    assert (code, loaded, playbooks) == ("0", "-", "1")
