"""A candidate line and, decoded on demand, the lines around it.

Multi-line forms (a libpq error split after `failed:`, node-postgres' printed error object, a
csvlog record whose message holds a newline, a Java stack trace) need a few neighbours. The
window is bounded in lines and bytes, and the streaming scanner keeps exactly that much
before and after each block, so a chunked scan sees what a whole-buffer scan sees.
"""

from __future__ import annotations

from collections.abc import Callable

WINDOW_LINES = 200
WINDOW_BYTES = 256 * 1024


def decode(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    return text[:-1] if text.endswith("\r") else text


def _prev_start(buf: bytes, pos: int, floor: int) -> int:
    """Start of the line before the one starting at `pos`, or -1 if it starts before `floor`."""
    newline = buf.rfind(b"\n", floor, pos - 1)
    if newline >= 0:
        return newline + 1
    if floor == 0 or buf[floor - 1 : floor] == b"\n":
        return floor
    return -1


def line_starts_before(buf: bytes, pos: int, lo: int, max_lines: int) -> list[int]:
    """Starts of the whole lines before offset `pos` (a line start), nearest first, as far back
    as the window allows but not before `lo` (itself a line start)."""
    starts: list[int] = []
    floor = max(lo, pos - WINDOW_BYTES)
    while pos > lo and len(starts) < max_lines:
        pos = _prev_start(buf, pos, floor)
        if pos < 0:
            break
        starts.append(pos)
    return starts


class Neighbourhood:
    """One candidate line of `buf` (bytes `start:end`) with lazy access to its neighbours in
    `buf[lo:hi]` (`lo` a line start). `near(lo, hi)` tells whether a candidate line carrying a
    server message starts within those offsets."""

    __slots__ = (
        "_after",
        "_before",
        "_buf",
        "_ceiling",
        "_floor",
        "_hi",
        "_lo",
        "_near",
        "end",
        "line",
        "memo",
        "start",
    )

    def __init__(
        self,
        buf: bytes,
        start: int,
        end: int,
        lo: int,
        hi: int,
        near: Callable[[int, int], bool] | None = None,
    ) -> None:
        self._buf = buf
        self.start = start
        self.end = end
        self._lo = lo
        self._hi = hi
        self._near = near
        self._floor = max(lo, start - WINDOW_BYTES)
        self._ceiling = min(hi, end + 1 + WINDOW_BYTES)
        self.line = decode(buf[start:end])
        # (offset, text): line starts going back, line ends going forward.
        self._before: list[tuple[int, str]] = []
        self._after: list[tuple[int, str]] = []
        # Per-line facts computed once however many messages the line holds.
        self.memo: dict[str, object] = {}

    def _load_before(self, n: int) -> list[tuple[int, str]]:
        got = self._before
        n = min(n, WINDOW_LINES)
        while len(got) < n:
            pos = got[-1][0] if got else self.start
            if pos <= self._lo:
                break
            prev = _prev_start(self._buf, pos, self._floor)
            if prev < 0:
                break
            got.append((prev, decode(self._buf[prev : pos - 1])))
        return got[:n]

    def _load_after(self, n: int) -> list[tuple[int, str]]:
        got = self._after
        n = min(n, WINDOW_LINES)
        buf, hi = self._buf, self._hi
        while len(got) < n:
            start = got[-1][0] + 1 if got else self.end + 1
            if start >= hi:
                break
            end = buf.find(b"\n", start, hi)
            if end < 0:
                end = hi
            if end > self._ceiling:
                break
            got.append((end, decode(buf[start:end])))
        return got[:n]

    def before(self, n: int) -> list[str]:
        """Up to `n` previous lines, in text order."""
        return [text for _, text in reversed(self._load_before(n))]

    def after(self, n: int) -> list[str]:
        """Up to `n` following lines, in text order."""
        return [text for _, text in self._load_after(n)]

    def server_message_near(self, before: int, after: int) -> bool:
        """Whether this line, or one of `before` lines above or `after` below, holds the needle
        of a server message."""
        if self._near is None:
            return False
        prev = self._load_before(before)
        nxt = self._load_after(after)
        lo = prev[-1][0] if prev else self.start
        hi = nxt[-1][0] if nxt else self.end
        return self._near(lo, hi)
