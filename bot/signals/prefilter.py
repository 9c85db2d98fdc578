"""Find the lines that may hold a message, at memory speed.

The needles are the literals `template.needle` derives from `messages.MESSAGES` (plus their
`\\uXXXX` forms for JSON serialised with non-ASCII escaped). Only the lines holding one go on
to the parser. Backends, fastest first: Hyperscan (literal multi-pattern, block mode), RE2,
and Python's `re` over a trie-shaped alternation; a small paste is read with plain
`bytes.find` per needle, which needs nothing built first. Hyperscan reports every match
rather than one per pattern (`HS_FLAG_SINGLEMATCH` would stop after the first line a needle
appears in); the callback only records offsets, and lines are grouped afterwards.
`PGCONN_PREFILTER=re` (or `use("re")`) forces a backend.
"""

from __future__ import annotations

import os
import re
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from bot.signals.messages import MESSAGES
from bot.signals.template import json_escaped, needle_forms


def _needles() -> tuple[tuple[bytes, ...], tuple[frozenset[int], ...]]:
    forms: dict[bytes, set[int]] = {}
    for i, message in enumerate(MESSAGES):
        for text in needle_forms(message):
            escaped = json_escaped(text)
            for form in (text, escaped) if escaped else (text,):
                forms.setdefault(form.encode(), set()).add(i)
    return tuple(forms), tuple(frozenset(ids) for ids in forms.values())


# Each needle and the messages (indices into MESSAGES) it stands for.
NEEDLES, NEEDLE_IDS = _needles()


@dataclass(frozen=True, slots=True)
class Candidate:
    """A line `buf[start:end]` (newline excluded) and the messages whose needles it holds."""

    start: int
    end: int
    ids: frozenset[int]


class Prefilter(ABC):
    name: str

    @abstractmethod
    def lines(self, buf: bytes) -> list[Candidate]:
        """The candidate lines of `buf`, in order."""


def _line_of(buf: bytes, at: int) -> tuple[int, int]:
    start = buf.rfind(b"\n", 0, at) + 1
    end = buf.find(b"\n", at)
    return start, len(buf) if end < 0 else end


class _Hyperscan(Prefilter):
    name = "hyperscan"

    def __init__(self) -> None:
        import hyperscan

        self._hs: Any = hyperscan
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        db.compile(
            expressions=list(NEEDLES),
            ids=list(range(len(NEEDLES))),
            elements=len(NEEDLES),
            flags=0,
            literal=True,
        )
        self._db = db
        self._local = threading.local()

    def _scratch(self) -> Any:
        # Scratch space is per thread; the database is shared.
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._hs.Scratch(self._db)
        return scratch

    def lines(self, buf: bytes) -> list[Candidate]:
        if not buf:
            return []
        out: list[Candidate] = []
        late: list[tuple[int, int]] = []
        # The line being collected: [start, end, ids]. Matches come in order of their end
        # offset, so a line is complete once a match ends past it; any that arrives late is
        # merged afterwards.
        cur: list[Any] = [0, -1, set()]

        def on_match(pattern: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            if cur[0] < end <= cur[1]:
                cur[2].update(NEEDLE_IDS[pattern])
            elif end > cur[1]:
                if cur[2]:
                    out.append(Candidate(cur[0], cur[1], frozenset(cur[2])))
                cur[0], cur[1] = _line_of(buf, end - 1)
                cur[2] = set(NEEDLE_IDS[pattern])
            else:
                late.append((end, pattern))

        self._db.scan(buf, match_event_handler=on_match, scratch=self._scratch())
        if cur[2]:
            out.append(Candidate(cur[0], cur[1], frozenset(cur[2])))
        return _merge(buf, out, late) if late else out


def _merge(buf: bytes, lines: list[Candidate], late: list[tuple[int, int]]) -> list[Candidate]:
    by_start = {c.start: (c.end, set(c.ids)) for c in lines}
    for end, pattern in late:
        start, stop = _line_of(buf, end - 1)
        by_start.setdefault(start, (stop, set()))[1].update(NEEDLE_IDS[pattern])
    return [Candidate(s, e, frozenset(ids)) for s, (e, ids) in sorted(by_start.items())]


def _trie_pattern(words: tuple[bytes, ...]) -> bytes:
    """One alternation shaped as a trie, so `re` tests a handful of branches per position
    rather than every needle."""
    root: dict[int, Any] = {}
    for word in words:
        node = root
        for byte in word:
            node = node.setdefault(byte, {})
        node[-1] = {}

    def emit(node: dict[int, Any]) -> bytes:
        # Runs of single-child nodes become plain literals; only branch points recurse.
        run = bytearray()
        while -1 not in node and len(node) == 1:
            ((byte, node),) = node.items()
            run.append(byte)
        head = re.escape(bytes(run))
        branches = [
            re.escape(bytes([byte])) + emit(child)
            for byte, child in sorted(node.items())
            if byte != -1
        ]
        if not branches:
            return head
        group = b"(?:" + b"|".join(branches) + b")"
        return head + group + (b"?" if -1 in node else b"")

    return emit(root)


class _Regex(Prefilter):
    """Finds the first needle of a line with one regex, then which needles the line holds."""

    def __init__(self, name: str, search: Any) -> None:
        self.name = name
        self._search = search

    def lines(self, buf: bytes) -> list[Candidate]:
        out: list[Candidate] = []
        pos = 0
        size = len(buf)
        while pos < size:
            m = self._search(buf, pos)
            if m is None:
                break
            start, end = _line_of(buf, m.start())
            line = buf[start:end]
            ids: set[int] = set()
            for k, text in enumerate(NEEDLES):
                if text in line:
                    ids.update(NEEDLE_IDS[k])
            out.append(Candidate(start, end, frozenset(ids)))
            pos = end + 1
        return out


class _Literal(Prefilter):
    """Each needle looked for with `bytes.find`: nothing to compile, so the fastest way to
    read a paste of a few kilobytes (a regex or a Hyperscan database costs milliseconds to
    build before the first byte is read)."""

    name = "literal"

    def lines(self, buf: bytes) -> list[Candidate]:
        by_start: dict[int, tuple[int, set[int]]] = {}
        for k, text in enumerate(NEEDLES):
            at = buf.find(text)
            while at >= 0:
                start, end = _line_of(buf, at)
                by_start.setdefault(start, (end, set()))[1].update(NEEDLE_IDS[k])
                at = buf.find(text, end)
        return [Candidate(s, e, frozenset(ids)) for s, (e, ids) in sorted(by_start.items())]


# Below this size `scan` uses the literal backend whatever the active one is.
SMALL_BYTES = 64 * 1024


def _make(name: str) -> Prefilter:
    if name == "hyperscan":
        return _Hyperscan()
    if name == "re2":
        import re2  # type: ignore[import-not-found, import-untyped, unused-ignore]

        options = re2.Options()
        options.max_mem = 256 << 20  # the default DFA budget is too small for this alternation
        options.log_errors = False
        alternation = b"|".join(re.escape(n) for n in NEEDLES)
        return _Regex("re2", re2.compile(alternation, options).search)
    if name == "re":
        return _Regex("re", re.compile(_trie_pattern(NEEDLES)).search)
    if name == "literal":
        return _Literal()
    raise ValueError(f"unknown prefilter backend {name!r}; use hyperscan, re2 or re")


BACKENDS = ("hyperscan", "re2", "re")  # in order of preference; `literal` is for small input
_lock = threading.Lock()
_built: dict[str, Prefilter] = {}
_active: Prefilter | None = None
_forced = False  # a backend was named: small pastes use it too


def build(name: str) -> Prefilter:
    """The named backend (built once); ImportError if its library is missing."""
    with _lock:
        if name not in _built:
            _built[name] = _make(name)
        return _built[name]


def use(name: str | None) -> Prefilter:
    """Make `name` the backend `scan` uses (None: the fastest available) and return it."""
    global _active, _forced
    _forced = name is not None
    if name is None:
        chosen = None
        for candidate in BACKENDS:
            try:
                chosen = build(candidate)
                break
            except ImportError:
                continue
        assert chosen is not None  # `re` is always there
    else:
        chosen = build(name)
    _active = chosen
    return chosen


def for_size(size: int) -> Prefilter:
    """The backend for `size` bytes: the literal one for a small paste, unless a backend was
    forced (`use`, `PGCONN_PREFILTER`)."""
    if size <= SMALL_BYTES and not _forced and not os.environ.get("PGCONN_PREFILTER"):
        return build("literal")
    return active()


def active() -> Prefilter:
    if _active is None:
        return use(os.environ.get("PGCONN_PREFILTER") or None)
    return _active
