"""Secrets masked in what a server's files and errors say (an evaluation log's tail, a
failed job's reason): API keys, tokens and passwords become ``[REDACTED]``, the
user:password of URLs ``***``. Each rule starts only where a name starts, so a hostile
line is read once (linear), never rescanned from every position."""

from __future__ import annotations

import re

from .._secret_args import SECRET_ARG_WORDS
from .._text import without_userinfo

# A name that ends with a secret word (SECRET_ARG_WORDS, the ledger's rule for model_args):
# hf_token, api-key, aws_secret_access_key; not max_new_tokens.
_NAME = rf"[\w.-]*(?:{'|'.join(map(re.escape, (*SECRET_ARG_WORDS, 'passwd')))})(?![\w-])"
# name=value, name = "value", 'value' (a model_args line, a config dump, a shell line)
_SECRET_PAIR = re.compile(rf"(?i)((?<![\w.-]){_NAME}\s*=\s*)(?:(\\?[\"'])(.*?)\2|[^\s,;&)'\"]+)")
# "name": "value" in JSON, Python's repr or JSON escaped in a string (\"name\": \"value\")
_SECRET_QUOTED = re.compile(rf"(?i)((\\?[\"']){_NAME}\2\s*:\s*(\\?[\"']))(.*?)\3")
# --name value, --name=value (a command line)
_SECRET_FLAG = re.compile(rf"(?i)((?<![\w-])--{_NAME}(?:\s+|=))(?!-)[^\s'\"]+")
_SECRET_SHAPES = re.compile(
    r"\b(?:sk-[A-Za-z0-9_-]{8,}|hf_[A-Za-z0-9]{20,})|(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}"
)
# A header as a log or an error quotes it: "Authorization: Basic ...", "x-api-key: ...".
_SECRET_HEADER_LINE = re.compile(
    r"(?i)(\b(?:proxy-)?authorization\s*:\s*)(?:(?:basic|bearer|token|digest)\s+)?[^\s,'\"]+"
    r"|((?<![\w.-])[\w.-]*(?:api[-_]?key|token|secret|password)\s*:\s*)[^\s,'\"{}\[\]]+"
)
_REDACTED = "[REDACTED]"


def redact_secrets(text: str) -> str:
    """``text`` with API keys, tokens and passwords replaced by ``[REDACTED]`` (and the
    user:password of URLs by ``***``)."""
    text = without_userinfo(text)
    text = _SECRET_HEADER_LINE.sub(lambda m: (m[1] or m[2]) + _REDACTED, text)
    text = _SECRET_PAIR.sub(
        lambda m: m[1] + (f"{m[2]}{_REDACTED}{m[2]}" if m[2] else _REDACTED), text
    )
    text = _SECRET_QUOTED.sub(lambda m: f"{m[1]}{_REDACTED}{m[3]}", text)
    text = _SECRET_FLAG.sub(lambda m: m[1] + _REDACTED, text)
    return _SECRET_SHAPES.sub(_REDACTED, text)
