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

import json
import math
from collections.abc import Callable, Iterable

from pydantic import JsonValue

from lmms_eval_client import InvalidArgumentError

from .._checks import check_seconds

_OPENING = {"{": "}", "[": "]"}  # as lmms-eval: parentheses do not group


def split_outside_brackets(text: str, separator: str = ",") -> list[str]:
    """Split at ``separator`` where it is outside quotes and (nested) brackets.

    >>> split_outside_brackets('a=1,b={"x": 1, "y": 2},c="p,q"')
    ['a=1', 'b={"x": 1, "y": 2}', 'c="p,q"']
    """
    pieces: list[str] = []
    current: list[str] = []
    closers: list[str] = []
    quote: str | None = None
    previous = ""
    for char in text:
        if quote is not None:
            if char == quote and previous != "\\":
                quote = None
        elif char in "\"'":
            quote = char
        elif char in _OPENING:
            closers.append(_OPENING[char])
        elif closers and char == closers[-1]:
            closers.pop()
        elif char == separator and not closers:
            pieces.append("".join(current))
            current = []
            previous = char
            continue
        current.append(char)
        previous = char
    if quote is not None:
        raise InvalidArgumentError(f"unclosed quote {quote} in {text!r}")
    if closers:
        raise InvalidArgumentError(f"unclosed bracket (missing {closers[-1]!r}) in {text!r}")
    pieces.append("".join(current))
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
    """
    found: dict[str, JsonValue] = {}
    for item in items:
        if not item.strip():
            continue
        for piece in split_outside_brackets(item.strip()):
            key, equals, raw = piece.partition("=")
            key = key.strip()
            if not equals or not key:
                raise InvalidArgumentError(
                    f"{what}: {piece!r} is not key=value (e.g. pretrained=Qwen/Qwen2-VL-2B)"
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
        InvalidArgumentError: A piece is not ``key=value``, a key is given twice, a quote or
            bracket is unclosed, or the JSON is invalid or not an object.
    """
    merged: dict[str, JsonValue] = {}
    given = False
    for item in items:
        given = True
        text = item.strip()
        part = (
            _json_object(text, "--model-args")
            if text.startswith("{")
            else parse_key_values([text], "--model-args")
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
    """``--tasks`` values (repeatable, or comma-separated, as lmms-eval's ``--tasks``).

    >>> parse_tasks(["mme,mmmu_val", "ai2d"])
    ['mme', 'mmmu_val', 'ai2d']
    """
    tasks = [name.strip() for item in items for name in item.split(",") if name.strip()]
    if not tasks:
        raise InvalidArgumentError("--tasks must name at least one task (e.g. --tasks mme)")
    return tasks


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
