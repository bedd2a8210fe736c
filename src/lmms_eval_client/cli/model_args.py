"""Command-line values: ``--model-args`` in lmms-eval's ``key=value,...`` syntax or JSON,
``--label k=v``, ``--extra-body`` JSON, options in seconds. No typer or rich here: plain
functions, typed errors (a usage error each, exit 2).

lmms-eval reads ``--model_args pretrained=org/x,dtype=bfloat16`` by splitting on commas that
are outside quotes and brackets, cutting each piece at its first ``=``, and reading
``true``/``false`` as booleans and numbers as numbers. ``parse_model_args`` reads the same
text the same way, so what works with ``python -m lmms_eval`` works here. (The server turns
the mapping back into that text for lmms-eval, so the values' types only show in the job's
echoed request.)
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Iterable

from pydantic import JsonValue

from lmms_eval_client import InvalidArgumentError

from .._checks import check_seconds

_OPENING = {"{": "}", "[": "]"}  # as lmms-eval: parentheses do not group
# What an error about a piece says instead of its text: a text that cannot be read cannot
# say which part of it is a value, and a value may be a secret (an api_key=, an hf_token=).
NOT_SHOWN = "its text is not shown, as it may hold a secret"
# A name an error may show: one lmms-eval can pass on (a model's keyword argument).
_MAX_SHOWN_NAME = 64


def _piece(what: str, number: int, piece: str, start: int, before: int | None = None) -> str:
    """How an error names a piece: ``what: piece 2 (api_key=...)`` when a name can be read
    in it (before its column ``before``), else ``what: piece 2 (at column 14)``; never its
    value. ``start``: the piece's column (1-based) in the option's value."""
    head = piece if before is None else piece[: before - start]
    key, equals, _ = head.partition("=")
    key = key.strip()
    if equals and key.isascii() and key.isidentifier() and len(key) <= _MAX_SHOWN_NAME:
        return f"{what}: piece {number} ({key}=...)"
    return f"{what}: piece {number} (at column {start})"


def split_outside_brackets(text: str, separator: str = ",", *, what: str = "the text") -> list[str]:
    """Split at ``separator`` where it is outside quotes and (nested) brackets.

    >>> split_outside_brackets('a=1,b={"x": 1, "y": 2},c="p,q"')
    ['a=1', 'b={"x": 1, "y": 2}', 'c="p,q"']

    Raises:
        InvalidArgumentError: A quote or a bracket is unclosed: the message names the piece
            (its number, its name when one can be read) and the column where it opened,
            never the text (``what`` names the option).
    """
    return [piece for _, piece in _pieces(text, separator, what=what)]


def _pieces(
    text: str, separator: str = ",", *, what: str, column: int = 1
) -> list[tuple[int, str]]:
    """The pieces of ``text`` (``split_outside_brackets``), each with its column: that of
    ``text``'s first character is ``column``."""
    pieces: list[tuple[int, str]] = []
    current: list[str] = []
    start = column
    closers: list[tuple[str, int]] = []  # what closes each open bracket, and its column
    quote: tuple[str, int] | None = None
    previous = ""
    for at, char in enumerate(text, column):
        if quote is not None:
            if char == quote[0] and previous != "\\":
                quote = None
        elif char in "\"'":
            quote = (char, at)
        elif char in _OPENING:
            closers.append((_OPENING[char], at))
        elif closers and char == closers[-1][0]:
            closers.pop()
        elif char == separator and not closers:
            pieces.append((start, "".join(current)))
            current, start = [], at + 1
            previous = char
            continue
        current.append(char)
        previous = char
    piece = "".join(current)
    named = functools.partial(_piece, what, len(pieces) + 1, piece, start)
    if quote is not None:
        mark, at = quote
        raise InvalidArgumentError(
            f"{named(at)} has an unclosed quote {mark} (at column {at}: no {mark} closes "
            f"it); {NOT_SHOWN}"
        )
    if closers:
        closer, at = closers[-1]
        opener = next(o for o, c in _OPENING.items() if c == closer)
        raise InvalidArgumentError(
            f"{named(at)} has an unclosed bracket {opener} (at column {at}: no {closer} "
            f"closes it); {NOT_SHOWN}"
        )
    pieces.append((start, piece))
    return pieces


def value_of(text: str) -> JsonValue:
    """A value as lmms-eval reads it: ``true``/``false``, an int, a finite float, else text.

    >>> value_of("True"), value_of("64"), value_of("0.5"), value_of("bfloat16")
    (True, 64, 0.5, 'bfloat16')
    """
    lowered = text.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return text
    # "nan"/"inf" stay text: JSON has no such numbers (and lmms-eval gets the same text).
    return number if math.isfinite(number) else text


def _json_object(text: str, what: str) -> dict[str, JsonValue]:
    try:
        loaded = json.loads(text)
    except ValueError as exc:
        raise InvalidArgumentError(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:  # json's decoder recurses: ~1,000 levels end it
        raise InvalidArgumentError(f"{what} is nested too deeply to be sent as JSON") from None
    if not isinstance(loaded, dict):
        raise InvalidArgumentError(f"{what} must be a JSON object, not {type(loaded).__name__}")
    return loaded


def parse_key_values(
    items: Iterable[str], what: str, *, typed: bool = True
) -> dict[str, JsonValue]:
    """``k=v,k2=v2`` pieces (each item may hold several) as a mapping; a key given twice is
    an error. ``typed`` reads values as lmms-eval does (:func:`value_of`), else keeps text.

    >>> parse_key_values(["pretrained=org/x,dtype=bfloat16", "max_pixels=1024"], "model_args")
    {'pretrained': 'org/x', 'dtype': 'bfloat16', 'max_pixels': 1024}

    Raises:
        InvalidArgumentError: A piece is empty or not ``key=value``, a key is given twice, a
            quote or a bracket is unclosed. The message names the piece (its number, its
            name when one can be read, its column), never a value: it may be a secret.
    """
    found: dict[str, JsonValue] = {}
    for item in items:
        if not item.strip():
            continue
        lead = len(item) - len(item.lstrip())
        for number, (start, piece) in enumerate(
            _pieces(item.strip(), what=what, column=lead + 1), 1
        ):
            key, equals, raw = piece.partition("=")
            key = key.strip()
            if not piece.strip():
                raise InvalidArgumentError(
                    f"{what}: piece {number} (at column {start}) is empty: a comma too many? "
                    "(e.g. pretrained=Qwen/Qwen2-VL-2B,dtype=bfloat16)"
                )
            if not equals:
                colon = piece.find(":")
                hint = f" (a ':' at column {start + colon}: meant '='?)" if colon >= 0 else ""
                raise InvalidArgumentError(
                    f"{what}: piece {number} (at column {start}) is not key=value: it has no "
                    f"'='{hint} (e.g. pretrained=Qwen/Qwen2-VL-2B); {NOT_SHOWN}"
                )
            if not key:
                raise InvalidArgumentError(
                    f"{what}: piece {number} (at column {start}) is not key=value: nothing "
                    f"before its '=' (e.g. pretrained=Qwen/Qwen2-VL-2B); {NOT_SHOWN}"
                )
            if key in found:
                raise InvalidArgumentError(f"{what}: {key!r} is given twice")
            found[key] = value_of(raw) if typed else raw
    return found


def parse_model_args(items: Iterable[str]) -> dict[str, JsonValue] | None:
    """``--model-args`` values (repeatable) as one mapping, None when none was given.

    Each is lmms-eval's ``key=value,...`` text, or a JSON object (starting with ``{``).

    >>> parse_model_args(["pretrained=org/x,dtype=bfloat16"])
    {'pretrained': 'org/x', 'dtype': 'bfloat16'}
    >>> parse_model_args(['{"pretrained": "org/x", "max_pixels": 1024}'])
    {'pretrained': 'org/x', 'max_pixels': 1024}

    Raises:
        InvalidArgumentError: A piece is empty or not ``key=value``, a key is given twice, a
            quote or bracket is unclosed, or the JSON is invalid or not an object. No message
            shows a value (it may be a secret): each names the piece, its column, and its
            name when one can be read (``--model-args: piece 2 (hf_token=...) has an
            unclosed quote " (at column 23 ...)``).
    """
    merged: dict[str, JsonValue] = {}
    given = list(items)
    for number, item in enumerate(given, 1):
        what = (
            f"--model-args (value {number} of {len(given)})" if len(given) > 1 else "--model-args"
        )
        part = (
            _json_object(item.strip(), what)
            if item.strip().startswith("{")
            else parse_key_values([item], what)
        )
        for key, value in part.items():
            if key in merged:
                raise InvalidArgumentError(f"--model-args: {key!r} is given twice")
            merged[key] = value
    return merged if given else None


def parse_labels(items: Iterable[str]) -> dict[str, str]:
    """``--label k=v`` values (repeatable, or ``k=v,k2=v2``) as text labels; a value holding
    a comma or a quote is quoted (the quotes are not kept).

    >>> parse_labels(["epoch=3", "lane=nightly", 'ckpt="runs/a,b"'])
    {'epoch': '3', 'lane': 'nightly', 'ckpt': 'runs/a,b'}
    """
    return {
        key: _unquoted(str(value))
        for key, value in parse_key_values(items, "--label", typed=False).items()
    }


def _unquoted(text: str) -> str:
    quoted = len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'"
    return text[1:-1] if quoted else text


def parse_extra_body(text: str | None) -> dict[str, JsonValue] | None:
    """``--extra-body`` JSON: fields of a newer server, sent as given.

    >>> parse_extra_body('{"seed": 7}')
    {'seed': 7}
    """
    return None if text is None else _json_object(text, "--extra-body")


def parse_tasks(items: Iterable[str]) -> list[str]:
    """``--tasks`` values (repeatable, or comma-separated, as lmms-eval's ``--tasks``): each
    name once, none empty (the SDK's rule, ``check_task_names``).

    >>> parse_tasks(["mme,mmmu_val", "ai2d"])
    ['mme', 'mmmu_val', 'ai2d']
    """
    from .._client.arguments import check_task_names  # (not for --help)

    entries = list(items)
    if not any(name.strip() for item in entries for name in item.split(",")):
        raise InvalidArgumentError("--tasks must name at least one task (e.g. --tasks mme)")
    return check_task_names(entries, "--tasks")


def parse_batch_size(text: str | None) -> int | str | None:
    """``--batch-size``: a number, or lmms-eval's text forms (``auto``, ``auto:4``).

    >>> parse_batch_size("8"), parse_batch_size("auto:4")
    (8, 'auto:4')
    """
    if text is None:
        return None
    return int(text) if text.isascii() and text.isdigit() else text


def parse_limit(text: str | None) -> int | float | None:
    """``--limit``: a count, a fraction in (0, 1), or -1 (the SDK checks the range).

    >>> parse_limit("8"), parse_limit("0.25"), parse_limit("-1")
    (8, 0.25, -1)
    """
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise InvalidArgumentError(
            f"--limit must be a number (a count, a fraction in (0, 1), or -1), not {text!r}"
        ) from None


def seconds(option: str, *, zero: bool = False) -> Callable[[float | None], float | None]:
    """The typer callback of an option in seconds: the SDK's ``check_seconds`` when the
    command line is read, so that NaN, infinity (``1e400``) and out-of-range values are
    usage errors naming the option, before anything is sent (None: the option's "none").

    >>> seconds("--timeout", zero=True)(0.0), seconds("--timeout")(None)
    (0.0, None)
    """

    def check(value: float | None) -> float | None:
        return None if value is None else check_seconds(option, value, zero=zero)

    return check
