"""`pgconn serve` as a real process, pointed at the fake Slack Web API, for tests and benches."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bot.throwaway import free_port
from tests.slack.fake import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackSender


@dataclass
class Served:
    proc: subprocess.Popen[str]
    port: int
    health_port: int

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def sender(self) -> SlackSender:
        return SlackSender(self.events_url)

    def get(self, path: str) -> httpx.Response:
        """GET on the side port (/healthz, /readyz, /metrics)."""
        return httpx.get(f"http://127.0.0.1:{self.health_port}{path}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> str:
        """Signal it and wait; its combined output."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, _ = self.proc.communicate(timeout=timeout)
        return out or ""


def start(
    config: Path,
    fake: FakeSlack,
    *,
    wait_ready: bool = True,
    quiet: bool = False,
    env: dict[str, str] | None = None,
) -> Served:
    """Start `pgconn serve --config config` on free loopback ports; by default wait until its
    /readyz answers 200 (fails with its output if it exits first)."""
    port, health = free_port(), free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    environ.update(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url,
            **(env or {}),
        }
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            "--health-port",
            str(health),
            "--host",
            "127.0.0.1",
        ],
        env=environ,
        text=True,
        stdout=subprocess.DEVNULL if quiet else subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    served = Served(proc, port, health)
    deadline = time.monotonic() + 60
    while wait_ready:
        try:
            if served.get("/readyz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"pgconn serve exited: {served.stop()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"pgconn serve did not become ready: {served.stop()}")
        time.sleep(0.1)
    return served
