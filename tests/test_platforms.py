"""Fast scanning where Hyperscan has no wheel (ARM Linux, macOS, Windows): RE2 is a runtime
dependency there, and the scanner picks it. This machine plays such a platform by making
`import hyperscan` fail in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.signals import shapes

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = [
    ("linux", "x86_64"),
    ("linux", "aarch64"),
    ("darwin", "arm64"),
    ("darwin", "x86_64"),
    ("win32", "AMD64"),
]
# What a machine without a Hyperscan wheel sees: the import fails.
NO_HYPERSCAN = "import sys; sys.modules['hyperscan'] = None\n"


def _runtime_scanners(sys_platform: str, machine: str) -> list[str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = {"sys_platform": sys_platform, "platform_machine": machine}
    found = [Requirement(d) for d in deps]
    return [
        r.name
        for r in found
        if r.name in ("hyperscan", "google-re2") and (r.marker is None or r.marker.evaluate(env))
    ]


@pytest.mark.parametrize(("sys_platform", "machine"), PLATFORMS)
def test_every_platform_installs_exactly_one_fast_scanner(sys_platform: str, machine: str) -> None:
    expected = ["hyperscan"] if (sys_platform, machine) == ("linux", "x86_64") else ["google-re2"]
    assert _runtime_scanners(sys_platform, machine) == expected


def _python(code: str, env: dict[str, str]) -> str:
    run = subprocess.run(
        [sys.executable, "-c", NO_HYPERSCAN + code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PGCONN_PREFILTER"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return {**env, **extra}


def test_without_hyperscan_the_scanner_picks_re2() -> None:
    pytest.importorskip("re2")
    code = "from bot.signals import prefilter; print(prefilter.active().name)"
    assert _python(code, _env()).strip() == "re2"


def test_forced_re2_explains_a_log_as_the_default_scanner_does(tmp_path: Path) -> None:
    pytest.importorskip("re2")
    log = tmp_path / "incident.log"
    log.write_text(
        "\n".join(
            [
                shapes.stderr('too many connections for role "app_user"', "FATAL"),
                "LOG:  checkpoint starting: time\n" * 50,
                shapes.csvlog('too many connections for role "a""b"'),
                shapes.jsonlog('слишком много подключений для роли "x"', ensure_ascii=True),
                shapes.stderr("sorry, too many clients already", "FATAL"),
            ]
        )
    )
    explain = (
        "from bot.signals import prefilter; from bot.cli import main\n"
        f"code = main(['explain', '--json', {str(log)!r}])\n"
        "print(prefilter.active().name, file=sys.stderr); sys.exit(code)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", NO_HYPERSCAN + explain],
        env=_env(PGCONN_PREFILTER="re2"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr.split()[-1] == "re2"
    default = subprocess.run(
        [sys.executable, "-m", "bot.cli", "explain", "--json", str(log)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    via_re2, via_default = json.loads(run.stdout), json.loads(default.stdout)
    assert via_re2["signals"] == via_default["signals"]
    assert {s["kind"] for s in via_re2["signals"]} == {"role_limit", "max_connections"}
