"""The SQLite store's readiness sees a file deleted, replaced or read-only under it, and a
damaged file stops start-up with how to recover."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.store.sqlite import SqliteStore
from tests import serve
from tests.slack.conftest import DOWN_DSN
from tests.slack.fake import FakeSlack


def test_a_store_deleted_while_serving_is_not_ready(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.sqlite3")
    try:
        assert store.healthy()
        (tmp_path / "state.sqlite3").unlink()
        assert not store.healthy()
        assert "is gone" in (store.problem() or "")
    finally:
        store.close()


def test_a_store_replaced_while_serving_is_not_ready(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStore(path)
    try:
        path.rename(tmp_path / "moved.sqlite3")
        SqliteStore(path).close()  # a new, empty store at the same path
        assert not store.healthy()
        assert "another file" in (store.problem() or "")
    finally:
        store.close()


def test_a_damaged_store_stops_start_up_with_how_to_recover(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_bytes(b"this is not a database, it was overwritten " * 200)
    with pytest.raises(StoreError) as caught:
        SqliteStore(path)
    text = str(caught.value)
    assert "is damaged" in text and "restore the latest backup" in text and ".recover" in text


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the store as another user")
def test_a_read_only_store_is_not_ready() -> None:
    """Root ignores file modes, so the store runs as another account, as in production."""
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no unprivileged account to run as")
    where = Path(tempfile.mkdtemp(prefix="pgconn-ro-"))
    try:
        where.chmod(0o777)
        script = (
            "import os, sys\n"
            "from pathlib import Path\n"
            "from bot.store.sqlite import SqliteStore\n"
            "p = Path(sys.argv[1]) / 'state.sqlite3'\n"
            "SqliteStore(p).close()\n"
            "os.chmod(p, 0o444)\n"
            "s = SqliteStore(p)\n"
            "print(s.healthy(), s.problem())\n"
        )
        root = str(Path(__file__).resolve().parents[2])
        # The store needs only the standard library: any python3 that account may run.
        python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
        if python is None:
            pytest.skip("no system python3 for the unprivileged account")
        out = subprocess.run(
            [python, "-c", script, str(where)],
            env={**os.environ, "PYTHONPATH": root},
            user=user.pw_uid,
            group=user.pw_gid,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert out.startswith("False"), out
        assert "does not take writes" in out
    finally:
        shutil.rmtree(where, ignore_errors=True)


@pytest.mark.timeout(120)
def test_serve_reports_not_ready_when_its_store_is_deleted(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    config = tmp_path / "pgconn.yaml"
    config.write_text(
        "clusters:\n  down:\n"
        f"    dsn: '{DOWN_DSN}'\n    admin_dsn: '{DOWN_DSN}'\n    approvers: [UDBA]\n"
        f"state_path: {state}\n"
    )
    fake = FakeSlack().start()
    served = serve.start(config, fake, quiet=True)
    try:
        assert served.get("/readyz").status_code == 200
        assert state.exists()
        state.unlink()
        ready = served.get("/readyz")
        assert ready.status_code == 503 and "store: FAILING" in ready.text
    finally:
        served.stop()
        fake.stop()
