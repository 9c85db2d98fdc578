"""Log in over the wire protocol and return the server's ErrorResponse fields as sent.

libpq keeps a refused login's fields to itself (only its text reaches the exception), so the
driver-shape tests speak the protocol: StartupMessage, SCRAM-SHA-256 (RFC 5802/7677), then the
ErrorResponse the server sends when it refuses the session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import struct


def _send(sock: socket.socket, kind: bytes, body: bytes) -> None:
    sock.sendall(kind + struct.pack("!I", len(body) + 4) + body)


def _recv(sock: socket.socket) -> tuple[bytes, bytes]:
    head = _exactly(sock, 5)
    (size,) = struct.unpack("!I", head[1:])
    return head[:1], _exactly(sock, size - 4)


def _exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def refusal_fields(host: str, port: int, user: str, password: str, dbname: str) -> dict[str, str]:
    """The fields (by protocol letter) of the ErrorResponse that refuses this login."""
    with socket.create_connection((host, port), timeout=10) as sock:
        params = b"".join(
            k + b"\0" + v.encode() + b"\0" for k, v in ((b"user", user), (b"database", dbname))
        )
        startup = struct.pack("!I", 196608) + params + b"\0"
        sock.sendall(struct.pack("!I", len(startup) + 4) + startup)
        nonce = base64.b64encode(os.urandom(18)).decode()
        first_bare = f"n=,r={nonce}"
        server_first = ""
        while True:
            kind, body = _recv(sock)
            if kind == b"E":
                return {f[:1].decode(): f[1:].decode() for f in body.split(b"\0") if f}
            if kind != b"R":
                continue
            (code,) = struct.unpack("!I", body[:4])
            if code == 10:  # AuthenticationSASL
                initial = ("n,," + first_bare).encode()
                _send(sock, b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(initial)) + initial)
            elif code == 11:  # AuthenticationSASLContinue
                server_first = body[4:].decode()
                attrs = dict(a.split("=", 1) for a in server_first.split(","))
                salted = hashlib.pbkdf2_hmac(
                    "sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"])
                )
                client_key = hmac.digest(salted, b"Client Key", "sha256")
                stored = hashlib.sha256(client_key).digest()
                final_bare = f"c=biws,r={attrs['r']}"
                auth = f"{first_bare},{server_first},{final_bare}".encode()
                signature = hmac.digest(stored, auth, "sha256")
                proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
                final = f"{final_bare},p={base64.b64encode(proof).decode()}"
                _send(sock, b"p", final.encode())
            elif code not in (0, 12):
                raise AssertionError(f"unexpected authentication request {code}")
