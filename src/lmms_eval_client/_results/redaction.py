"""Secrets masked in what a server's files and errors say (an evaluation log's tail, a
failed job's reason): API keys, tokens and passwords become ``[REDACTED]``, the
user:password of URLs ``***``. Each rule starts only where a name starts, so a hostile
line is read once (linear), never rescanned from every position."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING
from urllib.parse import unquote

from .._secret_args import (
    SECRET_ARG_WORDS,
    authorization_credential,
    is_secret_arg,
    secret_arg_words,
    secret_bearing,
    url_userinfo,
)
from .._text import MIN_MASKED_CHARS, without_userinfo

if TYPE_CHECKING:
    from lmms_eval_api.models import JobInfo

# A name that ends with a secret's word: hf_token, api-key, aws_secret_access_key, password;
# not max_new_tokens, a tokenizer's unk_token, nor a plain key (sort_key, key=answer).
_WORDS = (
    r"(?:api|access|secret|private)[-_]?key|apikey|secret|password|passwd"
    r"|(?<!pad_)(?<!eos_)(?<!bos_)(?<!unk_)(?<!sep_)(?<!cls_)(?<!mask_)token"
)
_NAME = rf"[\w.-]*(?:{_WORDS})(?![\w-])"
# A value: quoted (its quotes kept, a backslash before them too), else up to a separator.
_VALUE = r"(?:(\\?[\"'])(.*?)\2|[^\s,;&)'\"{}\[\]]+)"
# name=value, name: value, name = "value" (model_args, a config dump, a header, YAML)
_SECRET_PAIR = re.compile(rf"(?i)((?<![\w.-]){_NAME}\s*[=:]\s*){_VALUE}")
# "name": "value" in JSON, Python's repr or JSON escaped in a string (\"name\": \"value\")
_SECRET_QUOTED = re.compile(rf"(?i)((\\?[\"']){_NAME}\2\s*:\s*(\\?[\"']))(.*?)\3")
# --name value, --name=value, --name 'value' (a command line)
_SECRET_FLAG = re.compile(rf"(?i)((?<![\w-])--{_NAME}(?:\s+|=))(?!-){_VALUE}")
_SECRET_SHAPES = re.compile(
    r"\b(?:sk-[A-Za-z0-9_-]{8,}|hf_[A-Za-z0-9]{20,})|(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}"
)
# An Authorization header as a log or an error quotes it: "Authorization: Basic ...".
_AUTHORIZATION = re.compile(
    r"(?i)(\b(?:proxy-)?authorization\s*:\s*)(?:(?:basic|bearer|token|digest)\s+)?[^\s,'\"]+"
)
_REDACTED = "[REDACTED]"


# Characters of a job's error redacted, its middle cut beyond: a server's 50 MB error took 80 s
# of regular expressions per pass (runs watch --timeout 10 ran 108 s), and a run stored it
# three times (its ledger grew 150 MB). lmms-eval's errors are tens of KB; what says why a
# job failed (and what a retry's pattern looks for) is at the end: most is kept from there.
MAX_REDACTED_CHARS = 1024 * 1024
_HEAD = MAX_REDACTED_CHARS // 8
_MARGIN = 1024  # around a cut inside a line: longer than a secret's name and value


def redact_secrets(text: str, values: Sequence[str] = (), *, cut: bool = False) -> str:
    """``text`` with API keys, tokens and passwords replaced by ``[REDACTED]`` (and the
    user:password of URLs by ``***``): ``values`` (known secrets, longest first) wherever
    they stand, then every secret-looking ``name=value``. With ``cut`` (a job's error), a
    text of more than MAX_REDACTED_CHARS keeps its start and its end, its middle said cut
    (a log's tail is bounded where it is read)."""
    for value in values:  # (str.replace is cheap: before the cut, none is left in part)
        text = text.replace(value, _REDACTED)
    return _rules(_cut(text) if cut else text)


def _rules(text: str) -> str:
    """``text`` with every secret-looking ``name=value`` (and URL user:password) masked."""
    text = without_userinfo(text)
    text = _AUTHORIZATION.sub(lambda m: m[1] + _REDACTED, text)
    text = _SECRET_QUOTED.sub(lambda m: f"{m[1]}{_REDACTED}{m[3]}", text)
    text = _SECRET_PAIR.sub(_masked_value, text)
    text = _SECRET_FLAG.sub(_masked_value, text)
    return _SECRET_SHAPES.sub(_REDACTED, text)


def _cut(text: str) -> str:
    """``text`` within about MAX_REDACTED_CHARS, a line saying what was cut: cut at a line's
    end near each cut point, else inside the line, where a value ends; a secret's name left
    before a cut and its value after it are masked first, together (the review: cut between
    them, the value was shown whole)."""
    if len(text) <= MAX_REDACTED_CHARS:
        return text
    line = text.rfind("\n", _HEAD - _MARGIN, _HEAD)
    if line >= 0:
        head = text[:line]
    else:
        window = _rules(text[_HEAD - _MARGIN : _HEAD + _MARGIN])
        ends = [m.start() for m in _BREAK.finditer(window, 0, _MARGIN)]
        head = text[: _HEAD - _MARGIN] + window[: ends[-1] if ends else 0]
    tail_from = len(text) - (MAX_REDACTED_CHARS - _HEAD)
    line = text.find("\n", tail_from, tail_from + _MARGIN)
    if line >= 0:
        tail = text[line:]
    else:
        window = _rules(text[tail_from - _MARGIN : tail_from + _MARGIN])
        found = _BREAK.search(window, min(_MARGIN, len(window)))
        tail = window[found.start() if found else _MARGIN :] + text[tail_from + _MARGIN :]
    cut = len(text) - len(head) - len(tail)  # (about: the windows were masked)
    return f"{head}\n[... {cut:,} characters cut ...]{tail}"


_BREAK = re.compile(r"[\s,;&)'\"{}\[\]]")  # where a value ends (_VALUE's separators)


def _masked_value(match: re.Match[str]) -> str:
    quote = match[2]
    return match[1] + (f"{quote}{_REDACTED}{quote}" if quote else _REDACTED)


# What a flag's value reads as: masked wherever it stood, it would hide ordinary words.
_NOT_SECRET_VALUES = frozenset({"true", "false", "none", "null", "yes", "no"})
# Where a default secret word stands in a name of ordinary text: a tokenizer's model name,
# a number of tokens, a special token.
_ORDINARY_WORDS = re.compile(
    r"tokenizer|(?:max|min|num|new|batched)\w*_tokens|(?:pad|eos|bos|unk|sep|cls|mask)_token"
)


def is_secret_name(key: object, words: Collection[str]) -> bool:
    """Whether a model_args name holds a secret to mask in a text: named by ``words``, and
    with the default words not only where they stand in a tokenizer's name
    (``max_new_tokens``, ``pad_token``: a number or a model name is ordinary text)."""
    if not (isinstance(key, str) and is_secret_arg(key, words)):
        return False
    default = tuple(words) == SECRET_ARG_WORDS
    return not default or is_secret_arg(_ORDINARY_WORDS.sub(" ", key.lower()), words)


def job_secrets(model_args: object, words: Collection[str]) -> tuple[str, ...]:
    """The values of a request's secret model_args, as given and as JSON quotes them,
    longest first: to mask wherever a server's text repeats them, whatever its wording.

    A name is secret as the request's display reads it (``words``: ``openai_key``,
    ``api_key_2`` and a bare ``key`` too); with the default words, not where they only
    stand in a tokenizer's name (``tokenizer``, ``max_new_tokens``, ``pad_token``), whose
    model name or number is ordinary text.
    """
    found: set[str] = set()
    for key, value in _named_values(model_args, words):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # a key of digits (the command line reads it as a number)
        if not (isinstance(value, str) and is_secret_name(key, words)):
            continue
        if value.lower() in _NOT_SECRET_VALUES:
            continue
        found.update((value, json.dumps(value)[1:-1]))
    kept = (value for value in found if len(value) >= MIN_MASKED_CHARS)
    return tuple(sorted(kept, key=len, reverse=True))


def _named_values(data: object, words: Collection[str], depth: int = 0) -> list[tuple[str, object]]:
    """(name, value) of a request's fields, and of what they hold as the ledger reads a
    secret in a value (``holds_secret``): the names and values nested in a mapping, the
    user and password of a URL (the review: masked in the request, told by its error), and
    the credential of an Authorization value (``Bearer KEY``: KEY, told alone)."""
    pairs: list[tuple[str, object]] = []
    items = data.items() if isinstance(data, dict) and depth < 8 else ()
    for key, value in items:
        pairs.append((str(key), value))
        if isinstance(value, (dict, list)):
            nested = value if isinstance(value, dict) else dict(enumerate(value))
            pairs += _named_values(nested, words, depth + 1)
        elif isinstance(value, str) and (user := url_userinfo(value)) is not None:
            name, _, password = user.partition(":")  # (no password: the user is a token)
            pairs.append(("password", unquote(password or name)))
        elif (credential := authorization_credential(value)) is not None:
            pairs.append(("credential", credential))  # (a credential's name whatever the words)
    return pairs


def job_secret_values(job: JobInfo) -> tuple[str, ...]:
    """``job_secrets`` of a JobInfo's request, by the words in force."""
    fields = secret_bearing(job.request) if job.request is not None else None
    return job_secrets(fields, secret_arg_words())


def redacted_error(job: JobInfo) -> str | None:
    """A job's error text without its secrets: the values of its own secret model_args
    (however the text words them), then every secret-looking ``name=value``."""
    if job.error is None:
        return None
    return redact_secrets(job.error, job_secret_values(job), cut=True)
