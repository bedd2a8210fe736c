"""Parsing what lmms-eval writes: whole results files, and samples files a line at a time.

Both go through pydantic-core's JSON parser (``pydantic_core.from_json``, part of
pydantic). On a 100 MB results file it is about twice as fast as ``json.loads`` and,
because it reuses repeated short strings, holds half the memory; on a samples line it is
about three times as fast. It reads ``NaN`` and ``Infinity`` as Python's json writes them,
integers of any size, and refuses JSON nested deeper than about 200 levels (before
Python's own recursion limit could be reached).

orjson was measured too, and is not used: a little faster on a line, but it reads large
integers as floats, refuses ``NaN`` and nests to 1,024 levels, and the checks that would
keep a line's meaning cost more than it saves; on a whole file it is slower than
pydantic-core and holds twice the memory.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import from_json

from .errors import ResultsFormatError


class TooDeep(ValueError):
    """JSON nested deeper than pydantic-core reads (about 200 levels)."""


def _too_deep(exc: ValueError) -> bool:
    return "recursion limit" in str(exc)


def parse_document(data: bytes | bytearray | str) -> Any:
    """A whole JSON document (a results file).

    Raises TooDeep, or ValueError with pydantic-core's reason (``EOF while parsing an
    object at line 1 column 7``) for what is not JSON.
    """
    try:
        return from_json(data)
    except ValueError as exc:
        if _too_deep(exc):
            raise TooDeep(str(exc)) from None
        raise


def results_document(data: bytes | bytearray | str, where: str) -> Any:
    """The document of a results file; ResultsFormatError (naming ``where``) for an empty
    file, JSON nested too deeply, what is not JSON, or a str with no UTF-8."""
    # A UTF-8 BOM (an editor's save) is no JSON, but json.loads of bytes skips it, as the
    # samples lines are read: so here (a copy, of a file that has one only).
    if isinstance(data, str) and data.startswith("\ufeff"):
        data = data[1:]
    elif isinstance(data, (bytes, bytearray)) and data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data or data.isspace():  # (strip() would copy a large file)
        reason = "an empty file (lmms-eval writes it at the end: still being written?)"
    else:
        try:
            return parse_document(data)
        except TooDeep as exc:
            reason = f"JSON nested too deeply to read ({exc})"
        except ValueError as exc:
            reason = f"not valid JSON, truncated or corrupt ({exc})"
        except TypeError:  # a str that has no UTF-8: a lone surrogate (surrogateescape)
            reason = f"not valid text ({_no_utf8(data)}); give the file's bytes instead"
    raise ResultsFormatError(f"{where}: {reason}", path=where, reason=reason) from None


def _no_utf8(data: bytes | bytearray | str) -> str:
    """Where a str that pydantic-core refused has no UTF-8 (a lone surrogate, e.g. of a
    byte read with errors="surrogateescape"), its characters counted from 1."""
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"{exc.reason}: {data[exc.start]!r} at character {exc.start + 1}"
    return "the JSON parser refused it"


def parse_line(line: bytes) -> Any:
    """One line of a samples file, as ``json.loads`` reads it (its errors included).

    Raises TooDeep for JSON nested deeper than about 200 levels.
    """
    try:
        return from_json(line)
    except ValueError as exc:
        if _too_deep(exc):
            raise TooDeep(str(exc)) from None
    # What pydantic-core refused (a lone surrogate escape, UTF-16 text, or not JSON):
    # json's meaning of it, or json's error, as before.
    return json.loads(line)
