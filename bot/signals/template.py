"""Compile a catalogue text into a prefilter needle and an anchored matcher.

Matching is whitespace-tolerant (a translated message may be wrapped over lines, and a log
pipeline may leave `\\n` escaped), accepts a literal `"` escaped as `\\"` (a JSON string seen
raw), and finds a quoted name's end by what follows it, since the server does not escape a `"`
inside the name it quotes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from bot.signals.messages import Message

# A role or database name is a PostgreSQL `name`: at most NAMEDATALEN - 1 bytes.
MAX_NAME_BYTES = 63
# Raw characters a quoted name may span before unescaping (`\u00fc` is six for one).
_MAX_RAW_NAME = MAX_NAME_BYTES * 6 + 8

_PLACEHOLDER = re.compile(r"%\((?P<name>[a-z_]+)\)(?P<conv>[sdf])|%(?P<pos>[sd])")
_WS = r"(?:\s|\\[nrt])+"
# After punctuation the space may be absent: full-width forms carry their own.
_WS_AFTER_PUNCT = r"(?:\s|\\[nrt])*"
# Punctuation and its full-width form (CJK catalogues and hand-typed translations mix them).
_WIDE = {",": "\uff0c", ":": "\uff1a", "(": "\uff08", ")": "\uff09", ";": "\uff1b", "!": "\uff01"}
_NARROW = {w: n for n, w in _WIDE.items()}
_CJK = frozenset({"ja", "ko", "zh_CN", "zh_TW"})
_SPACEISH = "[ \u00a0\u202f]"
_NUMBER = {"d": r"\d+", "f": r"\d+(?:\.\d+)?", "s": r"\S+"}

# Opening quote of a name in a catalogue text -> (regex of the opening token, regex of the
# closing token, the closing quote as the catalogue writes it). For `"` the opening token
# decides the closing one: `\"` (escaped) or `"` (plain).
_QUOTES: dict[str, tuple[str, str | None, str]] = {
    '"': (r'(?P<q>\\"|")', None, '"'),
    "»": ("»", "«", "«"),
    "«": ("«", "»", "»"),
    "« ": (f"«{_SPACEISH}", f"{_SPACEISH}»", " »"),
}
_CLOSE_PLAIN = re.compile('"')
_CLOSE_ESCAPED = re.compile(r'\\"')

# What may follow a message: its end, a driver's SQLSTATE suffix, a pooler's suffix, the end of
# the string or structure it sits in, or the next label of a report joined onto one line.
TRAILER = re.compile(
    r"""[ \t]*(?:\r?\n|$)
    | [ \t]*\((?:SQLSTATE[ ])?[0-9A-Z]{5}\)
    | [ \t]*\((?:age=|server_login_retry\))
    | \\[nrt"'0] | \x00
    | ["'`)\]}>,;|]
    | \.(?:\s|$)
    | [ \t]+(?:DETAIL|HINT|CONTEXT|LOCATION|STATEMENT):
    | [ \t]+\([A-Z][\w:.]*\)   # Ruby's full_message: "<message> (PG::ConnectionBad)"
    """,
    re.VERBOSE,
)


def _literal(text: str) -> str:
    out: list[str] = []
    punct = False
    for ch in text:
        if ch.isspace():
            ws = _WS_AFTER_PUNCT if punct else _WS
            if not out or out[-1] not in (_WS, _WS_AFTER_PUNCT):
                out.append(ws)
            continue
        narrow = _NARROW.get(ch, ch)
        punct = narrow in _WIDE
        if punct:
            out.append(f"[{re.escape(narrow)}{_WIDE[narrow]}]")
        elif ch == '"':
            out.append(r'(?:\\"|")')
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _pattern(text: str) -> str:
    """Regex for a stretch of template text without a quoted name."""
    out: list[str] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(text):
        out.append(_literal(text[pos : m.start()]))
        if m["pos"]:
            out.append(r"(?P<n>\d+)")
        else:
            out.append(f"(?P<{m['name']}>{_NUMBER[m['conv']]})")
        pos = m.end()
    out.append(_literal(text[pos:]))
    return "".join(out)


def utf8_len(text: str) -> int:
    # A replacement character stands for one undecodable byte.
    return len(text.encode("utf-8", "replace")) - 2 * text.count("\ufffd")


def _unescape_json(raw: str) -> str:
    try:
        value = json.loads(f'"{raw}"')
    except ValueError:
        return raw.replace('\\"', '"')
    return value if isinstance(value, str) else raw


@dataclass(frozen=True, slots=True)
class Found:
    end: int
    name: str | None
    values: dict[str, str]


class Matcher:
    """Anchored matcher for one message."""

    def __init__(self, message: Message) -> None:
        self.message = message
        text = message.text
        self.needle = needle(message)
        self.needles = needle_forms(message)
        head_literal = _NEEDLE_SPLIT.split(text.split("\n", 1)[0], maxsplit=1)[0]
        self._needle_first = head_literal.strip().startswith(self.needle) or text.startswith(
            self.needle
        )
        # What the message begins with when the needle comes later: a literal, or the quote.
        self._first = head_literal.rstrip() if head_literal.strip() else text[0]
        # The regexes are compiled on first use: a one-line paste needs two or three of the
        # table's two hundred, and compiling them all would dominate a short command's run.
        self._built = False
        self.has_name = _has_name(text)
        self._head: re.Pattern[str]
        self._tail: re.Pattern[str] | None = None
        self._close: re.Pattern[str] | None = None

    def _build(self) -> None:
        text = self.message.text
        entity = None
        for m in _PLACEHOLDER.finditer(text):
            if m["pos"] == "s":
                entity = m
                break
        self._built = True
        if entity is None:
            self._head = re.compile(_pattern(text))
            return
        before, after = text[: entity.start()], text[entity.end() :]
        opener = next(
            (q for q in ("« ", '"', "»", "«") if before.endswith(q)),
            None,
        )
        if opener is None:
            raise ValueError(f"unquoted name in {text!r}")
        open_rx, close_rx, closer = _QUOTES[opener]
        if not after.startswith(closer):
            raise ValueError(f"unbalanced quotes in {text!r}")
        self._head = re.compile(_pattern(before[: -len(opener)]) + open_rx)
        self._close = re.compile(close_rx) if close_rx else None
        self._tail = re.compile(_pattern(after[len(closer) :]))

    def match(self, text: str, pos: int) -> Found | None:
        """Match the message starting exactly at `pos`."""
        if not self._built:
            self._build()
        head = self._head.match(text, pos)
        if head is None:
            return None
        values = {k: v for k, v in head.groupdict().items() if v is not None and k != "q"}
        if not self.has_name:
            return Found(head.end(), None, values)
        assert self._tail is not None
        escaped = head.groupdict().get("q") == '\\"'
        close = self._close or (_CLOSE_ESCAPED if escaped else _CLOSE_PLAIN)
        start = head.end()
        limit = min(len(text), start + _MAX_RAW_NAME)
        found: list[Found] = []
        for c in close.finditer(text, start, limit + 3):
            raw = text[start : c.start()]
            if "\n" in raw or "\x00" in raw or "\\0" in raw:
                break  # a name never spans a line or a field of a printed ErrorResponse
            name = _unescape_json(raw) if escaped else raw
            if utf8_len(name) > MAX_NAME_BYTES:
                break
            if not name:
                continue
            tail = self._tail.match(text, c.end())
            if tail is not None:
                extra = {k: v for k, v in tail.groupdict().items() if v is not None}
                found.append(Found(tail.end(), name, values | extra))
        if not found:
            return None
        # The name ends at the last closing quote after which the message ends; failing that
        # (a sentence goes on after the quote), at the first.
        for f in reversed(found):
            if TRAILER.match(text, f.end):
                return f
        return found[0]

    def starts(self, text: str) -> Iterator[int]:
        """Where this message may start in `text`, found from where its needle occurs: at the
        needle when the message begins with it, else at an earlier occurrence of what the message
        begins with (the literal before the name, or the quote opening it)."""
        seen: set[int] = set()
        for n in self.needles:
            yield from self._starts(text, n, seen)

    def _starts(self, text: str, n: str, seen: set[int]) -> Iterator[int]:
        first = self._first
        p = text.find(n)
        while p >= 0:
            if self._needle_first:
                if p not in seen:
                    seen.add(p)
                    yield p
            else:
                lo = max(0, p - _MAX_RAW_NAME - 2 * len(first))
                q = text.find(first, lo, p)
                while q >= 0:
                    s = q - 1 if first == '"' and q > 0 and text[q - 1] == "\\" else q
                    if s not in seen:
                        seen.add(s)
                        yield s
                    q = text.find(first, q + 1, p)
            p = text.find(n, p + 1)

    def finditer(self, text: str) -> Iterator[Found]:
        """Every occurrence of a message without a quoted name, anywhere in `text`."""
        if not self._built:
            self._build()
        for m in self._head.finditer(text):
            yield Found(m.end(), None, {k: v for k, v in m.groupdict().items() if v is not None})

    def prefix_of(self, text: str) -> bool:
        """Whether `text` is the beginning of this message cut short (a truncated buffer)."""
        literal = _PLACEHOLDER.split(self.message.text, maxsplit=1)[0]
        literal = literal.rstrip('"»« ')
        n = min(len(text), len(literal))
        return n >= 16 and text[:n] == literal[:n]


def _has_name(text: str) -> bool:
    return any(m["pos"] == "s" for m in _PLACEHOLDER.finditer(text))


_NEEDLE_SPLIT = re.compile(r'%\([a-z_]+\)[sdf]|%[sd]|["»«]')


def needle(message: Message) -> str:
    """The literal the prefilter looks for: the longest piece of the message's first line that
    no name, number or quote interrupts (quotes may arrive escaped or doubled)."""
    first_line = message.text.split("\n", 1)[0]
    pieces = [p.strip() for p in _NEEDLE_SPLIT.split(first_line)]
    best = max(pieces, key=lambda p: len(p.encode()))
    if len(best.encode()) < 6:
        raise ValueError(f"no usable needle in {message.text!r}")
    return best


def needle_forms(message: Message) -> tuple[str, ...]:
    """The needle, and for CJK catalogues its form with the other width of punctuation
    (`对不起, ` as the catalogue has it, `对不起，` as a translated server may print it)."""
    base = needle(message)
    if message.lang not in _CJK:
        return (base,)
    wide = base.replace(", ", ",").replace(": ", ":")
    wide = "".join(_WIDE.get(ch, ch) for ch in wide)
    narrow = "".join(_NARROW.get(ch, ch) for ch in base)
    forms = dict.fromkeys((base, wide, narrow))
    return tuple(f for f in forms if len(f.encode()) >= 6)


def json_escaped(text: str, max_bytes: int = 60) -> str | None:
    """The start of `text` as a JSON string serialised with non-ASCII escaped (`\\u00fc`, as
    Python's json and most exporters write it), cut at `max_bytes`: enough to select a line."""
    if text.isascii():
        return None
    # Any prefix of the escaped form is a substring of the JSON text, wherever it is cut.
    return json.dumps(text)[1:-1][:max_bytes]
