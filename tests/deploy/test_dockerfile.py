"""The Dockerfile, without a Docker engine: hadolint, the pins and the runtime contract, and the
build stage's own commands run here, step by step, in a scratch directory that stands in for the
image's filesystem. Then the result is used the way the runtime stage uses it."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

import pytest

from tests.deploy import tools

# Every test here needs the deploy-lint extra's tools (helm SDK, dockerfile-parse, hadolint).
pytestmark = pytest.mark.deploy_lint

DOCKERFILE = tools.ROOT / "Dockerfile"
BASE = re.compile(r"^python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?$")


@dataclass
class Step:
    instruction: str
    value: str
    line: int


@dataclass
class Stage:
    base: str
    name: str | None
    steps: list[Step] = field(default_factory=list)

    def all(self, instruction: str) -> list[Step]:
        return [s for s in self.steps if s.instruction == instruction]

    def one(self, instruction: str) -> Step:
        found = self.all(instruction)
        assert len(found) == 1, f"expected one {instruction} in the stage FROM {self.base}"
        return found[0]


def stages() -> list[Stage]:
    parser = tools.module("dockerfile_parse").DockerfileParser(path=str(DOCKERFILE))
    out: list[Stage] = []
    for item in parser.structure:
        name, value = item["instruction"], item["value"]
        if name == "FROM":
            base, _, alias = value.partition(" AS ")
            out.append(Stage(base.strip(), alias.strip() or None))
        elif name != "COMMENT":
            out[-1].steps.append(Step(name, value, item["startline"] + 1))
    return out


def env_pairs(step: Step) -> list[tuple[str, str]]:
    pairs = []
    for token in shlex.split(step.value):
        key, sep, value = token.partition("=")
        assert sep, f"line {step.line}: write ENV as KEY=value"
        pairs.append((key, value))
    return pairs


def exec_form(text: str) -> list[str]:
    argv = json.loads(text)
    assert isinstance(argv, list), text
    assert all(isinstance(a, str) for a in argv), text
    return argv


def healthcheck(stage: Stage) -> tuple[dict[str, str], list[str]]:
    options, _, command = stage.one("HEALTHCHECK").value.partition("CMD ")
    opts = dict(o.removeprefix("--").split("=", 1) for o in options.split())
    return opts, exec_form(command)


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m)", value)
    assert match, value
    return int(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[match.group(2)]


# --- lint and static contract -------------------------------------------------------------------


def test_hadolint_is_clean() -> None:
    done = subprocess.run(
        [tools.binary("hadolint"), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_multi_stage_on_one_pinned_base() -> None:
    build, runtime = stages()
    assert build.name == "build"
    assert BASE.match(build.base), build.base
    assert BASE.match(runtime.base), runtime.base
    # The venv is copied, not reinstalled: it only works on the same interpreter, same path.
    assert build.base == runtime.base
    requires = tomllib.loads((tools.ROOT / "pyproject.toml").read_text())["project"][
        "requires-python"
    ]
    assert requires == ">=3.11"


def test_runtime_user_is_a_fixed_non_root_uid() -> None:
    runtime = stages()[-1]
    user = runtime.one("USER").value
    assert re.fullmatch(r"\d+:\d+", user), "a numeric USER lets Kubernetes verify runAsNonRoot"
    uid, gid = (int(x) for x in user.split(":"))
    assert uid >= 1000
    assert gid >= 1000
    (create,) = runtime.all("RUN")
    assert f"--uid {uid}" in create.value
    assert f"--gid {gid}" in create.value
    values = (tools.CHART / "values.yaml").read_text()
    assert f"runAsUser: {uid}" in values
    assert f"runAsGroup: {gid}" in values


def test_entrypoint_and_command_are_the_console_script() -> None:
    runtime = stages()[-1]
    scripts = tomllib.loads((tools.ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert exec_form(runtime.one("ENTRYPOINT").value) == ["pgconn"]
    assert "pgconn" in scripts
    assert exec_form(runtime.one("CMD").value) == ["serve"]


def test_no_secrets_in_the_image() -> None:
    text = DOCKERFILE.read_text()
    for stage in stages():
        assert not stage.all("ARG"), "build args end up in the image history"
        for step in stage.all("ENV"):
            for key, _ in env_pairs(step):
                assert not re.search(r"TOKEN|SECRET|PASSWORD|DSN", key), key
    assert not re.search(r"xox[abp]-|xapp-|password=", text)
    # Only the package, its metadata and the playbooks go into the build context.
    patterns = [
        line
        for line in (tools.ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*"


def test_healthcheck_asks_the_health_port() -> None:
    runtime = stages()[-1]
    opts, argv = healthcheck(runtime)
    env = dict(pair for step in runtime.all("ENV") for pair in env_pairs(step))
    assert argv[:2] == ["python", "-c"], "a slim image has no curl"
    assert "/healthz" in argv[2]
    assert "PGCONN_HEALTH_PORT" in argv[2]
    assert env["PGCONN_HEALTH_PORT"] == "8081"
    assert "8081" in runtime.one("EXPOSE").value.split()
    timeout = float(re.search(r"timeout=(\d+)", argv[2]).group(1))  # type: ignore[union-attr]
    assert timeout < seconds(opts["timeout"]), "urllib must give up before Docker does"


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False), (None, False)])
def test_healthcheck_command_runs(status: int | None, healthy: bool) -> None:
    """The exact command Docker runs, against a stand-in health endpoint."""
    _, argv = healthcheck(stages()[-1])
    handler = type("Health", (_Health,), {"status": status or 200})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    port = server.server_address[1]
    if status is None:
        server.server_close()  # nothing listens: the check must fail, not hang
    else:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        done = subprocess.run(
            [sys.executable, *argv[1:]],
            capture_output=True,
            timeout=30,
            env={**os.environ, "PGCONN_HEALTH_PORT": str(port)},
            check=False,
        )
    finally:
        if status is not None:
            server.shutdown()
            server.server_close()
    assert (done.returncode == 0) is healthy, done.stderr


def test_healthcheck_and_chart_probes_against_the_bots_health_server() -> None:
    """The image's HEALTHCHECK and the chart's probe paths, against the bot's own side port."""
    from bot.observability.health import HealthServer

    _, argv = healthcheck(stages()[-1])
    server = HealthServer(0, {"store": lambda: False}, host="127.0.0.1").start()
    try:
        env = {**os.environ, "PGCONN_HEALTH_PORT": str(server.port)}
        done = subprocess.run(
            [sys.executable, *argv[1:]], capture_output=True, timeout=30, env=env, check=False
        )
        assert done.returncode == 0, done.stderr  # alive, though not ready
        for path, status in (("/readyz", 503), ("/healthz", 200), ("/metrics", 200)):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            conn.request("GET", path)
            assert conn.getresponse().status == status, path
            conn.close()
    finally:
        server.stop()


# --- the build stage, run for real ---------------------------------------------------------------


def _ignored(rel: str, patterns: list[str]) -> bool:
    """.dockerignore semantics for the patterns used here: the last matching pattern wins, `!`
    re-includes, a pattern matching a directory covers what is under it, `**/` is any depth."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for raw in patterns:
        pattern = raw.removeprefix("!").strip("/")
        forms = [pattern]
        if pattern.startswith("**/"):
            forms += [pattern[3:], "*/" + pattern[3:]]
        if any(fnmatch(p, f) for p in prefixes for f in forms):
            excluded = not raw.startswith("!")
    return excluded


def build_context(target: Path) -> None:
    patterns = [
        line.strip()
        for line in (tools.ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in tools.ROOT.rglob("*"):
        rel = path.relative_to(tools.ROOT).as_posix()
        if path.is_file() and not rel.startswith(".git/") and not _ignored(rel, patterns):
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / rel)


class Image:
    """A scratch directory standing in for the image's filesystem. Absolute paths written in the
    Dockerfile live under `root`; the interpreter is this one, which the pinned base matches in
    minor version."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"
        self.context = base / "context"
        self.bin = base / "bin"
        for d in (self.root, self.context, self.bin):
            d.mkdir()
        (self.bin / "python").symlink_to(sys.executable)
        build_context(self.context)

    def path(self, container_path: str) -> Path:
        assert container_path.startswith("/"), container_path
        return self.root / container_path.lstrip("/")

    def expand(self, value: str, env: dict[str, str]) -> str:
        """ENV values: written absolute paths are the image's; `$VAR` comes from the stage."""
        parts = []
        for part in value.split(":"):
            ref = re.fullmatch(r"\$\{?(\w+)\}?", part)
            if ref:
                parts.append(env.get(ref.group(1), ""))
            else:
                parts.append(str(self.path(part)) if part.startswith("/") else part)
        return ":".join(parts)


def run_build_stage(image: Image, stage: Stage) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    env["PATH"] = f"{image.bin}:{env.get('PATH', '/usr/bin:/bin')}"
    workdir = image.root
    for step in stage.steps:
        if step.instruction == "ENV":
            for key, value in env_pairs(step):
                env[key] = image.expand(value, env)
        elif step.instruction == "WORKDIR":
            workdir = image.path(step.value)
            workdir.mkdir(parents=True, exist_ok=True)
        elif step.instruction == "COPY":
            *sources, dest = shlex.split(step.value)
            assert not any(s.startswith("--") for s in sources), step.value
            target = workdir / dest if not dest.startswith("/") else image.path(dest)
            for source in sources:
                src = image.context / source
                assert src.exists(), f"line {step.line}: {source} is not in the build context"
                if src.is_dir():
                    shutil.copytree(src, target, dirs_exist_ok=True)
                else:
                    into = target / src.name if dest.endswith("/") else target
                    into.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, into)
        elif step.instruction == "RUN":
            # The one liberty taken: pip may use this machine's cache (the image must not).
            run_env = {k: v for k, v in env.items() if k != "PIP_NO_CACHE_DIR"}
            done = subprocess.run(
                ["/bin/sh", "-c", step.value],
                cwd=workdir,
                env=run_env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert done.returncode == 0, f"line {step.line}: {done.stdout}\n{done.stderr}"
        else:
            pytest.fail(f"line {step.line}: {step.instruction} is not emulated by this test")
    return env


def _readable_by_all(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            mode = path.stat().st_mode
            extra = stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0)
            path.chmod(mode | extra)


@dataclass
class Built:
    image: Image
    env: dict[str, str]
    workdir: Path
    uid: int | None


@pytest.fixture(scope="module")
def built() -> Iterator[Built]:
    build, runtime = stages()
    base = Path(tempfile.mkdtemp(prefix="pgconn-image-"))
    try:
        image = Image(base)
        build_env = run_build_stage(image, build)
        venv = Path(build_env["VIRTUAL_ENV"])

        # The runtime stage: only the venv crosses over, to the same path (venvs do not move).
        (copy,) = runtime.all("COPY")
        flag, source, dest = shlex.split(copy.value)
        assert flag == f"--from={build.name}"
        assert source == dest
        assert image.path(source) == venv
        shutil.rmtree(image.path(build.one("WORKDIR").value))  # no sources in the runtime image
        env = {
            "HOME": str(base),
            "LANG": "C.UTF-8",
            "PATH": f"{image.bin}:/usr/local/bin:/usr/bin:/bin",
        }
        for step in runtime.all("ENV"):
            for key, value in env_pairs(step):
                env[key] = image.expand(value, env)
        workdir = image.path(runtime.one("WORKDIR").value)
        workdir.mkdir(parents=True)
        config = Path(env["PGCONN_CONFIG"])
        config.parent.mkdir(parents=True)
        config.write_text(
            "clusters:\n"
            "  prod:\n"
            "    dsn: host=db user=pgconn_monitor dbname=postgres password=${PROD_PW}\n"
        )
        env["PROD_PW"] = "from-the-environment"

        uid = None
        if os.geteuid() == 0 and shutil.which("setpriv"):
            # Run as the image's USER: the installed tree must work read-only for it.
            uid = int(runtime.one("USER").value.split(":")[0])
            _readable_by_all(base)
            os.chown(workdir, uid, uid)
        yield Built(image, env, workdir, uid)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def pgconn(built: Built, *args: str) -> subprocess.CompletedProcess[str]:
    argv = ["pgconn", *args]
    if built.uid is not None:
        argv = [
            "setpriv",
            f"--reuid={built.uid}",
            f"--regid={built.uid}",
            "--clear-groups",
            "--",
            *argv,
        ]
    return subprocess.run(
        argv,
        cwd=built.workdir,
        env=built.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_installed_pgconn_runs(built: Built) -> None:
    done = pgconn(built, "--help")
    assert done.returncode == 0, done.stderr
    assert "serve" in done.stdout
    assert pgconn(built, "serve", "--help").returncode == 0


def test_installed_check_config_finds_config_and_playbooks(built: Built) -> None:
    """No --config, no --playbooks: the image's PGCONN_CONFIG and the playbooks inside the
    installed package."""
    done = pgconn(built, "check-config")
    assert done.returncode == 0, done.stderr
    assert "OK, 1 cluster(s): prod" in done.stdout
    bundled = len(list((tools.ROOT / "playbooks").glob("*.yaml")))
    assert f"{bundled} playbook(s)" in done.stdout


def test_dependencies_come_from_the_constraints_file() -> None:
    """The venv gets exactly the pinned versions, and the playbooks only through the wheel."""
    build = stages()[0]
    (install,) = build.all("RUN")
    assert "--constraint deploy/constraints.txt" in install.value
    assert "cp " not in install.value, "the playbooks reach the venv only through the wheel"
    copied = [shlex.split(s.value)[0] for s in build.all("COPY")]
    assert "deploy/constraints.txt" in copied


def test_installed_versions_are_the_pinned_ones(built: Built) -> None:
    venv = Path(built.env["VIRTUAL_ENV"])
    (site,) = venv.glob("lib/python3.*/site-packages")
    pins = tools.constraints()
    installed = {}
    for meta in site.glob("*.dist-info/METADATA"):
        head = meta.read_text(encoding="utf-8", errors="replace").split("\n\n", 1)[0]
        fields = dict(line.split(": ", 1) for line in head.splitlines() if ": " in line)
        installed[tools.canonical(fields["Name"])] = fields["Version"]
    for own in ("pgconn", "pip", "setuptools"):  # the package, and what the venv starts with
        installed.pop(own, None)
    assert installed
    for name, version in installed.items():
        assert pins.get(name) == version, f"{name} {version} is not pinned in constraints.txt"


def test_wheel_carries_every_file_the_package_reads(built: Built) -> None:
    """Data files (SQL, markers) under bot/ must be in the installed package, or the image
    fails at the first use of that feature."""
    venv = Path(built.env["VIRTUAL_ENV"])
    (site,) = venv.glob("lib/python3.*/site-packages")
    source = built.image.context / "bot"  # what the build saw
    wanted = {
        p.relative_to(source).as_posix()
        for p in source.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    installed = {
        p.relative_to(site / "bot").as_posix()
        for p in (site / "bot").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    missing = sorted(wanted - installed)
    assert missing == [], "not in the wheel: list them in [tool.setuptools.package-data]"


def test_installed_tree_is_read_only_for_the_runtime_user(built: Built) -> None:
    if built.uid is None:
        pytest.skip("needs root to run as the image's user")
    venv = built.env["VIRTUAL_ENV"]
    probe = f"open('{venv}/pgconn-was-here', 'w')"
    argv = [
        "setpriv",
        f"--reuid={built.uid}",
        f"--regid={built.uid}",
        "--clear-groups",
        "--",
        "python",
        "-c",
        probe,
    ]
    done = subprocess.run(
        argv, env=built.env, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode != 0
    assert "Permission denied" in done.stderr
