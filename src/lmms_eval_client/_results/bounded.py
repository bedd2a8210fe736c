"""Reading within bounds: only regular files are opened, and only so many bytes are read.

The server's answer names the files the client reads. What is there is not trusted: a FIFO
blocks whoever opens it until a writer comes (forever), ``/dev/zero`` never ends, and a
"results file" of many GB would be held whole. So a local path is checked before it is
opened, opened without waiting for a writer and checked again (it may have been swapped in
between); reading stops one byte past the limit; lines are cut in bounded chunks, never by
an unbounded ``readline()``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import IO, Any

from .._checks import check_count

MiB = 1024 * 1024
DEFAULT_MAX_RESULTS_BYTES = 256 * MiB
"""The largest results file read (real ones are KBs to a few MB; parsing takes a few times
the file's size in memory)."""
DEFAULT_MAX_LINE_BYTES = 64 * MiB
"""The longest samples line read (a line is one document: its prompt, answers, scores)."""
CHUNK_BYTES = 64 * 1024
"""What one read asks for: the most held beyond a limit."""

# Python opens file descriptors non-inheritable already; these flags keep open() itself
# from blocking (a FIFO without a writer) or taking a terminal, and stop Windows' CRT from
# translating line ends. Absent flags are 0.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_BINARY", 0)
)


class NotRegularFile(Exception):
    """A path that is not a regular file; ``kind`` says what it is ("a FIFO", ...)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class LimitExceeded(Exception):
    """More than ``limit`` bytes (of a file, or of one line) were there to read."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def check_limit(name: str, value: object) -> int:
    """A byte limit: an int > 0, else an InvalidArgumentError naming the parameter."""
    return check_count(name, value, alternatives="bytes")


def describe_size(limit: int) -> str:
    """``67,108,864 bytes (64 MiB)``."""
    mib = limit / MiB
    return f"{limit:,} bytes ({mib:.3g} MiB)" if mib >= 1 else f"{limit:,} bytes"


def kind_of_mode(mode: int) -> str | None:
    """What a ``st_mode`` is when it is not a regular file (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "a special file"


def open_regular(path: str) -> IO[bytes]:
    """Open a local regular file for reading; NotRegularFile for anything else.

    OSError (FileNotFoundError, PermissionError, ...) passes through.
    """
    kind = kind_of_mode(os.stat(path).st_mode)  # before open(): some devices act on open
    if kind is not None:
        raise NotRegularFile(kind)
    fd = os.open(path, _OPEN_FLAGS)
    try:
        kind = kind_of_mode(os.fstat(fd).st_mode)  # what was opened, if it changed since
        if kind is not None:
            raise NotRegularFile(kind)
        # O_NONBLOCK stays set: it changes nothing for a regular file.
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def remote_kind(filesystem: Any, path: str) -> str | None:
    """What an fsspec path is when its ``info()`` says it is not a file (None otherwise:
    a file, or ``info()`` failed; opening it then says what is wrong)."""
    try:
        kind = filesystem.info(path).get("type")
    except Exception:  # unknown here: let open() report it
        return None
    if kind is None or kind == "file":
        return None
    return "a directory" if kind == "directory" else f"not a file (its type is {kind!r})"


def read_at_most(handle: IO[bytes], limit: int) -> bytes:
    """The whole of ``handle``, or LimitExceeded once more than ``limit`` bytes came."""
    data = bytearray()
    while True:
        block = handle.read(min(CHUNK_BYTES, limit + 1 - len(data)))
        if not block:
            return bytes(data)
        data += block
        if len(data) > limit:
            raise LimitExceeded(limit)


def bounded_lines(handle: IO[bytes], limit: int) -> Iterator[bytes]:
    """The lines of ``handle`` without their ``\\n``; LimitExceeded for a line longer than
    ``limit`` bytes, raised before more than ``limit`` plus one chunk is held."""
    pending = bytearray()  # the start of a line that goes on in the next block
    while True:
        block = handle.read(CHUNK_BYTES)
        if not block:
            if pending:
                yield bytes(pending)
            return
        start = 0
        while (end := block.find(b"\n", start)) >= 0:
            if len(pending) + end - start > limit:
                raise LimitExceeded(limit)
            if pending:
                pending += block[start:end]
                yield bytes(pending)
                pending.clear()
            else:
                yield block[start:end]
            start = end + 1
        pending += block[start:]
        if len(pending) > limit:
            raise LimitExceeded(limit)
