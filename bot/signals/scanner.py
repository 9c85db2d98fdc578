"""The scanning loop: prefilter a buffer, parse its candidate lines, count what they report.

A stream is scanned block by block. Each block is scanned together with the lines kept from
before it (look-behind) and only up to the point where a full window of lines still follows
(the rest is held back for the next block), so every candidate line sees the same
neighbourhood as in a whole-buffer scan and line numbers run on across blocks.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.signals.lines import WINDOW_BYTES, WINDOW_LINES, Neighbourhood, line_starts_before
from bot.signals.model import Signal, SignalKind
from bot.signals.parse import (
    CHAIN_REACH,
    SERVER_IDS,
    Hit,
    chain_marker,
    parse_line,
)
from bot.signals.prefilter import Prefilter

EXCERPT_CHARS = 300


def excerpt(line: str, around: int = 0) -> str:
    text = line.strip()
    if len(text) <= EXCERPT_CHARS:
        return text
    start = max(0, min(around - 60, len(text) - EXCERPT_CHARS))
    cut = text[start : start + EXCERPT_CHARS - 2]
    return ("…" if start else "") + cut + "…"


@dataclass(slots=True)
class _Tally:
    first: Hit
    first_line: int
    excerpt: str
    source: str
    last_line: int
    last_at: int
    count: int = 1


class Tally:
    """Signals by identity, in order of first occurrence.

    An error that a chained trace prints again (a Python cause and the exception wrapping it,
    Java's `Caused by:`) is one occurrence: a repeat counts only when no chain marker stands
    between it and the previous one; `source` then names the outermost stack."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[SignalKind, str | None, str | None, str | None], _Tally] = {}

    def add(
        self,
        hit: Hit,
        line_no: int,
        line: str,
        at: int = 0,
        chain: Callable[[int], bool | None] | None = None,
    ) -> None:
        """Count `hit`, found in line `line_no` that ends at absolute offset `at`;
        `chain(since)` tells whether a chained-exception marker stands between absolute offset
        `since` and the end of this line (see `parse.chain_marker`)."""
        t = self._by_key.get(hit.key)
        if t is None:
            self._by_key[hit.key] = _Tally(
                hit, line_no, excerpt(line, _focus(line, hit)), hit.source, line_no, at
            )
            return
        gap = line_no - t.last_line
        marker = chain(t.last_at) if chain is not None and 0 < gap <= CHAIN_REACH else None
        if marker is None:
            t.count += 1
        elif marker:
            t.source = hit.source  # Python prints the outer exception last
        t.last_line, t.last_at = line_no, at

    def signals(self) -> list[Signal]:
        return [
            Signal(
                kind=t.first.kind,
                role=t.first.role,
                database=t.first.database,
                sqlstate=t.first.sqlstate,
                count=t.count,
                source=t.source,
                first_line=t.first_line,
                excerpt=t.excerpt,
                detail=t.first.detail,
                pooler=t.first.pooler,
            )
            for t in self._by_key.values()
        ]


def _focus(line: str, hit: Hit) -> int:
    """Where in a long line to centre its excerpt: on the name, else on the severity label."""
    for probe in (hit.role, hit.database, "FATAL", "rror"):
        if probe and (at := line.find(probe)) >= 0:
            return at
    return 0


def scan_block(
    buf: bytes,
    scan_from: int,
    cut: int,
    hi: int,
    line_no: int,
    prefilter: Prefilter,
    tally: Tally,
    origin: int = 0,
) -> int:
    """Parse the candidate lines of `buf` that start in `[scan_from, cut)`, with neighbours from
    `buf[:hi]`; `line_no` is the number of the line at `scan_from`, `origin` the absolute offset
    of `buf[0]` in the stream. Returns the number of the line at `cut`."""
    candidates = prefilter.lines(buf)

    server_starts = [c.start for c in candidates if not c.ids.isdisjoint(SERVER_IDS)]

    def near(lo: int, hi_: int) -> bool:
        i = bisect.bisect_left(server_starts, lo)
        return i < len(server_starts) and server_starts[i] <= hi_

    pos = scan_from
    n = line_no
    for c in candidates:
        if c.start < scan_from:
            continue
        if c.start >= cut:
            break
        n += buf.count(b"\n", pos, c.start)
        pos = c.start
        ctx = Neighbourhood(buf, c.start, c.end, 0, hi, near)
        for hit in parse_line(ctx, c.ids):
            chain = functools.partial(chain_marker, buf, c.end, origin)
            tally.add(hit, n, ctx.line, origin + c.end, chain)
    return n + buf.count(b"\n", pos, cut)


def _holdback_start(buf: bytes, complete_end: int, scan_from: int) -> int:
    """Start of the tail of `buf[:complete_end]` to hold back: enough whole lines that every line
    before it has its full window of following lines in the buffer."""
    pos = complete_end
    lines = 0
    while pos > scan_from and lines < WINDOW_LINES and complete_end - pos < WINDOW_BYTES:
        pos = buf.rfind(b"\n", scan_from, pos - 1) + 1
        if pos == 0 and scan_from > 0:
            pos = scan_from
        lines += 1
    if lines < WINDOW_LINES and complete_end - pos < WINDOW_BYTES:
        return scan_from  # not enough yet: process nothing, keep reading
    return max(pos, scan_from)


# Blocks smaller than this are batched before scanning, so tiny chunks do not make the
# look-behind and held-back tail be copied over and over.
MIN_BLOCK = 4 * WINDOW_BYTES


def scan_chunks(
    chunks: Iterable[bytes],
    prefilter: Prefilter,
    progress: Callable[[int], None] | None = None,
) -> list[Signal]:
    tally = Tally()
    behind = b""  # whole lines kept for look-behind
    pending: list[bytes] = []  # bytes not yet scanned, starting at a line start
    pending_size = 0
    line_no = 1
    done = 0
    origin = 0  # absolute offset of the scanned buffer's first byte
    threshold = MIN_BLOCK
    for chunk in chunks:
        if chunk:
            done += len(chunk)
            pending.append(chunk)
            pending_size += len(chunk)
        if pending_size >= threshold:
            buf = behind + b"".join(pending)
            scan_from = len(behind)
            complete_end = buf.rfind(b"\n", scan_from) + 1
            cut = _holdback_start(buf, complete_end, scan_from) if complete_end else scan_from
            if cut > scan_from:
                line_no = scan_block(
                    buf, scan_from, cut, complete_end, line_no, prefilter, tally, origin
                )
                starts = line_starts_before(buf, cut, 0, WINDOW_LINES)
                kept = starts[-1] if starts else cut
                origin += kept
                behind = buf[kept:cut]
                rest = buf[cut:]
                pending, pending_size = [rest], len(rest)
                threshold = MIN_BLOCK
            else:
                # No whole window yet (a very long line): wait for twice as much before
                # joining the pending bytes again.
                pending = [buf[scan_from:]]
                threshold = 2 * pending_size
        if progress is not None and chunk:
            progress(done)
    buf = behind + b"".join(pending)
    if len(buf) > len(behind):
        scan_block(buf, len(behind), len(buf), len(buf), line_no, prefilter, tally, origin)
    return tally.signals()
