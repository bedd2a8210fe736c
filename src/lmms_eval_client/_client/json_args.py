"""JSON-object arguments of a request (model_args, gen_kwargs, extra_body), a run's labels
and summaries: what strict JSON, the server and a PostgreSQL ledger can carry (str keys,
no NaN or infinities, no NUL, nesting bounded). No I/O."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from .._exceptions import InvalidArgumentError
from .._text import clip, shown

_NUL_SAID = (
    "holds a NUL character (\\x00): no model, task, path or argument has one, and a "
    "PostgreSQL ledger cannot store it"
)


# Nesting a request can carry: pydantic's serializer stops at 255 levels of the whole
# request, model_args and extra_body sitting a level or two below its top.
MAX_JSON_DEPTH = 200


def _json_items(value: Any, *, keys: bool = False) -> Iterator[tuple[Any, int]]:
    """Every value of JSON data (and with ``keys``, every key) with its depth (1: the top),
    iteratively (any depth is fine); an item is yielded before its children are looked at."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        yield item, depth
        if isinstance(item, Mapping):
            children = (*item.keys(), *item.values()) if keys else item.values()
            pending.extend((child, depth + 1) for child in children)
        elif isinstance(item, (list, tuple)):
            pending.extend((child, depth + 1) for child in item)


def _too_deep(value: Any) -> bool:
    """Whether JSON data nests deeper than MAX_JSON_DEPTH (stops at the first such level)."""
    containers = (Mapping, list, tuple)
    return any(d > MAX_JSON_DEPTH and isinstance(i, containers) for i, d in _json_items(value))


def json_object(name: str, value: Mapping[Any, Any]) -> dict[str, Any]:
    """A mapping that strict JSON can carry: str keys, no NaN/inf, serialisable values."""
    if not all(isinstance(key, str) for key in value):
        raise InvalidArgumentError(f"{name} keys must be str, got {shown(list(value))}")
    value = dict(value)
    if _too_deep(value):
        raise InvalidArgumentError(
            f"{name} is nested too deeply to be sent as JSON (more than {MAX_JSON_DEPTH} levels)"
        )
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
        text.encode("utf-8")
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise InvalidArgumentError(f"{name} must be JSON-serialisable: {clip(str(exc))}") from None
    except RecursionError:
        raise InvalidArgumentError(f"{name} is nested too deeply to be sent as JSON") from None
    if "\\u0000" in text and _holds_nul(value):  # json.dumps writes a NUL as \u0000
        raise InvalidArgumentError(f"{name} {_NUL_SAID}")
    return value


def _holds_nul(value: Any) -> bool:
    """Whether a key or a str of JSON data holds a NUL."""
    items = _json_items(value, keys=True)
    return any(isinstance(item, str) and "\x00" in item for item, _ in items)
