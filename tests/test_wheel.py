"""The built wheel, installed in a fresh virtual environment, runs from outside the checkout.

The wheel is built as `pip wheel .` builds it; the environment gets only the wheel (`--no-deps`)
and sees the dependencies already installed for the tests through a `.pth` line, which adds
their directory without running the `.pth` files in it (so an editable install of the checkout
does not leak in). Every command runs in an empty directory with the checkout off every path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FATAL = 'FATAL:  too many connections for role "app_user"\n'


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    run = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert run.returncode == 0, f"{cmd}: {run.returncode}\n{run.stdout}\n{run.stderr}"
    return run.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # From a copy of what the Dockerfile copies: a build in the checkout would leave build/
    # behind, whose stale files a later build can pick up.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("bot", "playbooks"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)]
    _run(cmd, out, dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"))
    (built,) = out.glob("pgconn-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A virtual environment holding the wheel; its bin directory and a clean environment."""
    home = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(home)
    bin_dir = home / "bin"
    site = Path(
        _run(
            [
                str(bin_dir / "python"),
                "-c",
                "import sysconfig; print(sysconfig.get_path('purelib'))",
            ],
            home,
            {"PATH": os.environ["PATH"]},
        ).strip()
    )
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "_pgconn_test_deps.pth").write_text("".join(f"{d}\n" for d in sorted(deps)))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PGCONN_PLAYBOOKS", "PGCONN_CONFIG", "VIRTUAL_ENV"}
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
    _run([*pip, str(wheel)], home, env)
    return bin_dir, env


def test_every_package_and_data_file_is_in_the_wheel(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for init in (ROOT / "bot").rglob("__init__.py"):
        assert init.relative_to(ROOT).as_posix() in names  # else: add it to pyproject's packages
    for data in [*(ROOT / "bot").rglob("*.sql"), ROOT / "bot" / "py.typed"]:
        assert data.relative_to(ROOT).as_posix() in names
    for playbook in (ROOT / "playbooks").glob("*.yaml"):
        assert f"bot/_playbooks/{playbook.name}" in names
    assert not any(n.startswith(("playbooks/", "tests/", "bench/")) for n in names)


def test_the_installed_package_is_the_wheel(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bin_dir, env = installed
    code = "import bot, bot.playbooks as p; print(bot.__file__); print(p.DEFAULT_DIRECTORY)"
    module, playbooks = _run([str(bin_dir / "python"), "-c", code], tmp_path, env).split()
    home = bin_dir.parent
    assert Path(module).is_relative_to(home)
    assert Path(playbooks).is_relative_to(home) and Path(playbooks).name == "_playbooks"


def test_explain_from_outside_the_checkout(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bin_dir, env = installed
    run = subprocess.run(
        [str(bin_dir / "pgconn"), "explain", "--json"],
        input=FATAL,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["signals"][0]["kind"] == "role_limit"
    assert report["findings"][0]["playbook"], report["findings"][0]


def test_check_config_from_outside_the_checkout(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bin_dir, env = installed
    config = tmp_path / "pgconn.yaml"
    config.write_text("clusters:\n  main:\n    dsn: 'host=127.0.0.1 port=9 user=pgconn'\n")
    out = _run([str(bin_dir / "pgconn"), "check-config", "--config", str(config)], tmp_path, env)
    bundled = len(list((ROOT / "playbooks").glob("*.yaml")))
    assert f"{bundled} playbook(s)" in out


@pytest.mark.pg
def test_demo_from_outside_the_checkout(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bin_dir, env = installed
    report = json.loads(_run([str(bin_dir / "pgconn"), "demo", "--json"], tmp_path, env))
    assert report["findings"][0]["code"] == "role_limit"
    assert report["findings"][0]["playbook"]


@pytest.mark.parametrize("command", ["demo", "explain", "check-config"])
def test_every_command_that_loads_playbooks_takes_playbooks(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The loader's error tells users to pass --playbooks: each command that loads them
    accepts it (and a bad one fails before the demo starts a server)."""
    from bot.cli import main

    config = tmp_path / "pgconn.yaml"
    config.write_text("clusters:\n  main:\n    dsn: 'host=127.0.0.1 port=9 user=pgconn'\n")
    paste = tmp_path / "paste.log"
    paste.write_text(FATAL)
    args = {"demo": [], "explain": [str(paste)], "check-config": ["--config", str(config)]}
    missing = tmp_path / "absent"
    assert main([command, *args[command], "--playbooks", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"{missing}: playbook directory not found" in err
