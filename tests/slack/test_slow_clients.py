"""Slow and hostile clients on the Slack endpoint (no signature needed to connect) must not
stop genuine signed requests from being acknowledged within Slack's 3 s."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time

import httpx
import pytest

from tests.slack.conftest import DOWN_DSN, StartBot
from tests.slack.fake import SlackSender

SLOW_CLIENTS = 200
BYTE_EVERY_S = 8.0
HELD_S = 20.0  # how long the slow clients keep at it (bounded: the test ends)


def _slow_head(port: int) -> bytes:
    return (
        f"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4096\r\n\r\n"
    ).encode()


def _drip(socks: list[socket.socket], stop: threading.Event) -> None:
    """One body byte per client every BYTE_EVERY_S, until `stop` or HELD_S."""
    end = time.monotonic() + HELD_S
    while not stop.wait(BYTE_EVERY_S) and time.monotonic() < end:
        for sock in socks:
            with contextlib.suppress(OSError):  # the server cut it off, as it should in time
                sock.send(b"x")


@pytest.mark.timeout(90)
def test_genuine_requests_are_acked_while_slow_clients_hold_connections(
    start_bot: StartBot,
) -> None:
    bot = start_bot({"down": {"dsn": DOWN_DSN}})
    port = int(bot.send.url.split(":")[2].split("/")[0])
    socks: list[socket.socket] = []
    stop = threading.Event()
    dripper = threading.Thread(target=_drip, args=(socks, stop), daemon=True)
    try:
        for _ in range(SLOW_CLIENTS):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(_slow_head(port) + b"x")
            socks.append(sock)
        dripper.start()
        # Oversized headers, sent at once and dribbled: refused, never held.
        big = socket.create_connection(("127.0.0.1", port), timeout=10)
        big.sendall(b"POST /slack/events HTTP/1.1\r\nX-Junk: " + b"a" * (64 << 10) + b"\r\n\r\n")
        assert big.recv(64).startswith(b"HTTP/1.1 431")
        big.close()

        # Slack gives up after 3 s: every genuine request must be answered within that.
        sender = SlackSender(bot.send.url)
        sender.http = httpx.Client(timeout=3.0)
        try:
            for _ in range(10):
                reply = sender.command("help")
                assert reply.status_code == 200
        finally:
            sender.close()
    finally:
        stop.set()
        for sock in socks:
            sock.close()
        dripper.join(BYTE_EVERY_S + 2)


@pytest.mark.timeout(60)
def test_a_client_that_never_finishes_is_cut_off(start_bot: StartBot) -> None:
    from bot.slack.http import BoltHTTPServer

    bot = start_bot({"down": {"dsn": DOWN_DSN}})
    quick = BoltHTTPServer(bot.server.app, "127.0.0.1", 0, request_s=1.0).start()
    try:
        sock = socket.create_connection(("127.0.0.1", quick.port), timeout=10)
        sock.sendall(_slow_head(quick.port) + b"x")
        answer = sock.recv(128)  # the server answers 408 and closes; the client sent 1 byte
        assert answer.startswith(b"HTTP/1.1 408"), answer
        sock.close()
    finally:
        quick.stop()


def test_malformed_unsigned_bodies_are_logged_without_a_traceback(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = start_bot({"down": {"dsn": DOWN_DSN}})
    for body, ctype in (
        ("payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        ("{not json", "application/json"),
        ("payload=%5B1%2C2%5D", "application/x-www-form-urlencoded"),
    ):
        reply = bot.send.post(body, ctype, signed=False)
        assert reply.status_code in (400, 401)
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info]
