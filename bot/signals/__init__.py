"""Recognise connection-limit signals in pasted text, log files and snippets.

    scan(text)                          -> list[Signal]
    scan_stream(chunks, progress=None)  -> list[Signal]
    scan_file(path, progress=None)      -> list[Signal]   (plain or gzip)

One `Signal` per distinct (kind, role, database, detail identity), with how often it occurred,
the 1-based line of its first occurrence and that line, in order of first occurrence. What
counts as a signal (and what is only chatter) is described in `bot.signals.parse`; the
messages known, in every language, in `bot.signals.messages`.

Pure: nothing is read but the text given (and the file named, for `scan_file`). Lines are
split on `\\n` only; bytes are decoded as UTF-8 with invalid sequences replaced.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from collections.abc import Callable, Iterable, Iterator

from bot.signals.model import Signal, SignalKind
from bot.signals.prefilter import active, for_size
from bot.signals.scanner import scan_chunks

__all__ = ["CHUNK_BYTES", "Signal", "SignalKind", "scan", "scan_file", "scan_stream"]

CHUNK_BYTES = 4 * 1024 * 1024
_PIECE_BYTES = 256 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


def scan(text: str | bytes) -> list[Signal]:
    """The signals in `text` (a paste, a log, an exception's `str()`)."""
    data = text.encode("utf-8", "replace") if isinstance(text, str) else bytes(text)
    return scan_chunks([data], for_size(len(data)))


def scan_stream(
    chunks: Iterable[bytes], progress: Callable[[int], None] | None = None
) -> list[Signal]:
    """The signals in the concatenation of `chunks`, read one at a time (lines may span chunks).
    `progress` is called after each chunk with the number of bytes consumed so far."""
    return scan_chunks(chunks, active(), progress)


def _read(
    fh: io.BufferedIOBase, raw: io.BufferedIOBase, progress: Callable[[int], None] | None
) -> Iterator[bytes]:
    pieces: list[bytes] = []
    size = 0
    while True:
        try:
            # Small reads: a damaged archive then loses at most the piece being inflated.
            piece = fh.read1(_PIECE_BYTES)
        except (EOFError, gzip.BadGzipFile, zlib.error):
            piece = b""
        if piece:
            pieces.append(piece)
            size += len(piece)
        if pieces and (size >= CHUNK_BYTES or not piece):
            yield b"".join(pieces)
            pieces, size = [], 0
            if progress is not None:
                progress(raw.tell())
        if not piece:
            return


def scan_file(
    path: str | os.PathLike[str], progress: Callable[[int], None] | None = None
) -> list[Signal]:
    """The signals in a log file, plain or gzip-compressed (recognised by its magic bytes),
    streamed in `CHUNK_BYTES` chunks. `progress` receives the bytes of the file read so far
    (compressed bytes for a gzip file), to compare with its size on disk."""
    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if compressed:
            with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                return scan_chunks(_read(gz, raw, progress), active())
        size = os.fstat(raw.fileno()).st_size
        return scan_chunks(_read(raw, raw, progress), for_size(size))
