"""Files attached to a message: snippets (Slack's form of a long paste) and .log/.txt/.gz uploads.

A file is downloaded from `url_private_download` with the bot token (scope `files:read`) and
streamed, gunzipped when it is gzip, into the signal scanner: a 100 MB log is never held in
memory. The size cap (`slack.max_file_bytes`) applies to the download and to the unpacked text.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import signals
from bot.errors import PgconnError
from bot.signals.model import Signal

SUFFIXES = (".log", ".txt", ".gz")
CHUNK = 1 << 20
# Slack's file hosts (commercial and GovSlack), as exact origins: scheme, host and port.
_FILE_ORIGINS = (("https", "files.slack.com", 443), ("https", "files.slack-gov.com", 443))
_DEFAULT_PORTS = {"https": 443, "http": 80}

log = logging.getLogger("pgconn.slack")


class FileRefused(PgconnError):
    """A file that cannot be scanned; the message is for the user (not yet escaped)."""


def wanted(file: Mapping[str, Any]) -> bool:
    """Snippets and text or gzip files; images and the like are none of pgconn's business."""
    name = str(file.get("name") or "").lower()
    return (
        file.get("mode") == "snippet"
        or name.endswith(SUFFIXES)
        or file.get("filetype") in ("text", "gzip")
    )


def label(file: Mapping[str, Any]) -> str:
    return str(file.get("name") or file.get("title") or file.get("id") or "the file")


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n < 10_000_000 else f"{n / 1e6:.0f} MB"


def too_large(name: str, size: int | None, cap: int, what: str = "") -> FileRefused:
    have = f" is {_mb(size)}{what}" if size is not None else f" is over the cap{what}"
    return FileRefused(
        f"{name}{have}; pgconn reads files up to {_mb(cap)} (`slack.max_file_bytes` in the "
        "config). Paste the lines around the error, or split the file."
    )


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with the scheme's default port made explicit; None if unusable."""
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:  # a port that is not a number
        return None
    host = (parts.hostname or "").lower()
    if not host or port is None:
        return None
    return parts.scheme.lower(), host, port


def trusted(url: str, api_url: str) -> bool:
    """The bot token goes only to the exact origin of Slack's file host, or of the configured
    API base (a proxy, a test double): same scheme, host and port."""
    where = origin(url)
    return where is not None and (where in _FILE_ORIGINS or where == origin(api_url))


def resolve_url(file: Mapping[str, Any], client: WebClient) -> str:
    """`url_private_download`, from files.info when the event carried only a partial file."""
    url = file.get("url_private_download") or file.get("url_private")
    if url:
        return str(url)
    try:
        data = client.files_info(file=str(file.get("id"))).get("file") or {}
    except SlackApiError as exc:
        reason = exc.response.get("error")
        raise FileRefused(f"{label(file)}: Slack would not describe the file ({reason})") from exc
    url = data.get("url_private_download") or data.get("url_private")
    if not url:
        raise FileRefused(f"{label(file)}: Slack did not give pgconn its address")
    return str(url)


def _gunzip(parts: Iterable[bytes], name: str) -> Iterator[bytes]:
    """Stream-decompress one or more gzip members, never more than CHUNK bytes at a time. A
    damaged or truncated archive yields what could be decompressed, as `pgconn explain` does."""
    d = zlib.decompressobj(wbits=31)
    fed = False
    for part in parts:
        data = part
        while data:
            fed = True
            try:
                out = d.decompress(data, CHUNK)
            except zlib.error as exc:
                log.warning("%s: damaged gzip data (%s); scanned what came before it", name, exc)
                return
            if out:
                yield out
            if d.eof:
                data, d, fed = d.unused_data, zlib.decompressobj(wbits=31), False
            else:
                data = d.unconsumed_tail
    yield d.flush()
    if fed and not d.eof:
        log.warning("%s: the gzip file is truncated; scanned what it holds", name)


def download(
    url: str, token: str, cap: int, name: str, on_bytes: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    """The file's text, gunzipped if needed, as chunks; FileRefused for anything unusable."""
    headers = {"Authorization": f"Bearer {token}"}
    timeout = httpx.Timeout(30.0, read=120.0)
    allowed = origin(url)

    def same_origin(request: httpx.Request) -> None:
        # Redirects included: the token never leaves the origin that was checked.
        if "authorization" in request.headers and origin(str(request.url)) != allowed:
            raise FileRefused(f"{name}: the download was sent elsewhere; pgconn stopped it")

    with (
        httpx.Client(
            timeout=timeout, follow_redirects=True, event_hooks={"request": [same_origin]}
        ) as http,
        http.stream("GET", url, headers=headers) as response,
    ):
        if response.status_code != 200:
            raise FileRefused(f"{name}: Slack answered HTTP {response.status_code} to the download")
        if response.headers.get("content-type", "").startswith(
            "text/html"
        ) and not name.lower().endswith((".html", ".htm")):
            # Slack serves its sign-in page, not an error, when the token may not read files.
            raise FileRefused(
                f"{name}: Slack sent a sign-in page instead of the file; the app "
                "needs the files:read scope (reinstall it from the manifest)"
            )
        downloaded = 0

        def raw() -> Iterator[bytes]:
            nonlocal downloaded
            for chunk in response.iter_bytes(CHUNK):
                downloaded += len(chunk)
                if downloaded > cap:
                    raise too_large(name, None, cap)
                if on_bytes is not None:
                    on_bytes(downloaded)
                yield chunk

        source = raw()
        first = next(source, b"")
        rest = _chain(first, source)
        text = _gunzip(rest, name) if first[:2] == b"\x1f\x8b" else rest
        unpacked = 0
        for chunk in text:
            unpacked += len(chunk)
            if unpacked > cap:
                raise too_large(name, None, cap, " unpacked")
            yield chunk


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def scan(
    file: Mapping[str, Any],
    client: WebClient,
    token: str,
    api_url: str,
    cap: int,
    on_bytes: Callable[[int], None] | None = None,
) -> list[Signal]:
    """Download and scan one file; FileRefused says why it could not be."""
    name = label(file)
    size = file.get("size")
    if isinstance(size, int) and size > cap:
        raise too_large(name, size, cap)
    url = resolve_url(file, client)
    if not trusted(url, api_url):
        raise FileRefused(
            f"{name}: its address is neither Slack's file host nor the configured API base, so "
            "pgconn did not send its token there"
        )
    try:
        return signals.scan_stream(download(url, token, cap, name, on_bytes), progress=None)
    except httpx.HTTPError as exc:
        raise FileRefused(f"{name}: the download failed ({type(exc).__name__})") from exc
