"""Secrets masked in what a server's files and errors say (an evaluation log's tail, a
failed job's reason): API keys, tokens and passwords become ``[REDACTED]``, the
user:password of URLs ``***``. Each rule starts only where a name starts, so a hostile
line is read once (linear), never rescanned from every position."""

from __future__ import annotations

import re

from .._text import without_userinfo

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


def redact_secrets(text: str) -> str:
    """``text`` with API keys, tokens and passwords replaced by ``[REDACTED]`` (and the
    user:password of URLs by ``***``)."""
    text = without_userinfo(text)
    text = _AUTHORIZATION.sub(lambda m: m[1] + _REDACTED, text)
    text = _SECRET_QUOTED.sub(lambda m: f"{m[1]}{_REDACTED}{m[3]}", text)
    text = _SECRET_PAIR.sub(_masked_value, text)
    text = _SECRET_FLAG.sub(_masked_value, text)
    return _SECRET_SHAPES.sub(_REDACTED, text)


def _masked_value(match: re.Match[str]) -> str:
    quote = match[2]
    return match[1] + (f"{quote}{_REDACTED}{quote}" if quote else _REDACTED)
