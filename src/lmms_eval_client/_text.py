"""Text for messages: clipping long server texts, excerpts of bodies, URLs without secrets.

Every message this client builds quotes servers through these helpers, so that a
multi-megabyte body never becomes a message and a password in a URL is never shown; what
a server quotes of the client's own credentials is masked by :class:`SecretMask`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx

# An error message quotes at most this much of the server's reason (the full text stays in
# the error's .detail / .body): a multi-megabyte detail must not become the message.
MAX_DETAIL_CHARS = 600
# How much of a response body an error message quotes: enough to recognise an HTML error
# page or a truncated document, never megabytes.
BODY_EXCERPT_BYTES = 200
REDACTED = "<redacted>"


def clip(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """The start of a long text, marked with its full length when cut."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def clip_middle(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """Keep the start and the end of a long text (a log tail: where and why it failed)."""
    if len(text) <= limit:
        return text
    head, tail = limit // 3, limit - limit // 3
    return f"{text[:head]}\n... ({len(text) - limit} characters left out) ...\n{text[-tail:]}"


def shown(value: object, limit: int = 80) -> str:
    """A value for a message: its repr, clipped; never an error of its own (a 5,000-digit
    int or a 100,000-deep dict cannot even be repr'd)."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return f"a {type(value).__name__} too large to show"
    return clip(text, limit)


def first_lines(text: str, count: int) -> str:
    """At most ``count`` lines, each clipped, marked when lines were left out."""
    lines = [clip(line, 200) for line in text.splitlines()]
    return "\n".join(lines[:count] + (["..."] if len(lines) > count else []))


def body_excerpt(content: bytes) -> str:
    """The first bytes of a body, printable, marked when cut."""
    text = repr(content[:BODY_EXCERPT_BYTES])
    if len(content) > BODY_EXCERPT_BYTES:
        text += f" ... ({len(content)} bytes)"
    return text


# Greedy up to the last "@" of the authority: a password may itself contain "@".
# (or at the very start of a URL written without its scheme: "alice:pw@host"). No
# whitespace: in a message, a URL ends at a space ("http://h failed for me@x" keeps "me@").
_USERINFO = re.compile(r"//[^/?#\s]*@|^[^/:@\s]*:[^/\s]*@")
# Header names whose values are credentials: never shown, never carried by an error.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_SECRET_WORDS = ("key", "token", "secret", "auth", "password", "session", "cookie")


def is_secret_header(name: str) -> bool:
    """Whether a header's value is to be treated as a credential (by name)."""
    lowered = name.lower()
    return lowered in _SECRET_HEADERS or any(word in lowered for word in _SECRET_WORDS)


def redacted_request(request: httpx.Request) -> httpx.Request:
    """A copy of a request with credential headers replaced, no user:password in its URL,
    and its JSON body's secrets (model_args and extra_body fields named like one) ``***``.

    What an error carries (and pickles) goes through this: the Bearer key, the password of
    the base URL or an API key of model_args must not travel with a traceback or into a
    worker pool's result queue.
    """
    headers = [
        (name, REDACTED if is_secret_header(name) else value)
        for name, value in request.headers.multi_items()
    ]
    url = url_without_userinfo(request.url)
    try:
        content: bytes | None = request.content
    except httpx.RequestNotRead:  # a streamed body: nothing to keep
        content = None
    if content and _body_secrets(request):  # model_args secrets: *** (the length changes)
        from ._secret_args import masked_for_display

        content = json.dumps(masked_for_display(json.loads(content))).encode()
        headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
    copy = httpx.Request(request.method, url, headers=headers, content=content)
    copy.extensions = {}
    return copy


# A shorter secret is not masked in free text: masking every "abc" of a server's text would
# mangle it and show the password by its absence (its "user:password" and base64 still are).
MIN_MASKED_CHARS = 4
# Headers that describe the body: a masked copy of a response is given its own.
_FRAMING = frozenset({"content-length", "content-encoding", "transfer-encoding"})


def _basic_credentials(token: str) -> tuple[str, ...]:
    """``user:password`` and ``password`` of a basic-auth token (none if it is not one)."""
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return ()
    return (decoded, decoded.partition(":")[2]) if ":" in decoded else ()


def secrets_sent(request: httpx.Request) -> tuple[str, ...]:
    """The client's own credentials as a request carries them, longest first: each credential
    header's value and the part after its scheme ("Bearer KEY" and "KEY"), basic auth's
    decoded "user:password" and password, cookie values, a password left in the URL."""
    found: set[str] = set()
    for name, value in request.headers.multi_items():
        if not is_secret_header(name) or value == REDACTED:
            continue
        found.add(value)
        scheme, _, credential = value.strip().partition(" ")
        if credential.strip():
            found.add(credential.strip())
            if scheme.lower() == "basic":
                found.update(_basic_credentials(credential.strip()))
        if "cookie" in name.lower():
            found.update(pair.partition("=")[2].strip() for pair in value.split(";"))
    if request.url.password:
        found.update((request.url.password, f"{request.url.username}:{request.url.password}"))
    found.update(_body_secrets(request))
    # As a JSON string quotes it, too ("\"" and "\\" escaped).
    found.update([json.dumps(secret)[1:-1] for secret in found])
    return tuple(sorted((s for s in found if len(s) >= MIN_MASKED_CHARS), key=len, reverse=True))


def _body_secrets(request: httpx.Request) -> tuple[str, ...]:
    """The values of a JSON request body's secrets (its model_args and extra_body fields
    named like a secret): a server that echoes the body (FastAPI's 422 quotes it as
    ``input``, a gateway its request) must not put them in an error or its pickle."""
    if "json" not in request.headers.get("content-type", ""):
        return ()
    try:
        body = json.loads(request.content)
    except (ValueError, httpx.RequestNotRead):
        return ()
    if not isinstance(body, dict):
        return ()
    from ._results.redaction import job_secrets  # (loaded with an error, not the client)
    from ._secret_args import secret_arg_words, secret_bearing

    return job_secrets(secret_bearing(body), secret_arg_words())


@dataclass(frozen=True)
class SecretMask:
    """Masks the client's own credentials (as its request carried them) in a server's text.

    A server's text enters an error through this (APIStatusError and
    APIResponseValidationError mask what they carry; status_error, body_error and
    too_large mask before they cut, so that a key cut in two is still found): a gateway
    that quotes the Authorization header it got must not put the API key into a message,
    a pickle or a log. (An answer's body is masked of long credentials as it is read:
    ``_http.transport``.)
    """

    secrets: tuple[str, ...]

    @classmethod
    def of(cls, request: httpx.Request) -> SecretMask:
        return cls(secrets_sent(request))

    def text(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def json(self, value: Any) -> Any:
        """A copy of decoded JSON with every string masked (keys too); iterative, as a body
        nested 900 deep must not overflow the stack."""
        if not self.secrets or not isinstance(value, (dict, list, str)):
            return value
        if isinstance(value, str):
            return self.text(value)
        top: list[Any] = [None]
        pending: list[tuple[Any, Any, Any]] = [(value, top, 0)]
        while pending:
            source, parent, slot = pending.pop()
            copy: Any = {} if isinstance(source, dict) else [None] * len(source)
            parent[slot] = copy
            items = source.items() if isinstance(source, dict) else enumerate(source)
            for key, item in items:
                key = self.text(key) if isinstance(key, str) else key
                if isinstance(item, (dict, list)):
                    copy[key] = None
                    pending.append((item, copy, key))
                else:
                    copy[key] = self.text(item) if isinstance(item, str) else item
        return top[0]

    def response(self, response: httpx.Response) -> httpx.Response:
        """The response with its request redacted; a copy with its body, headers and reason
        masked when any of them quotes a secret."""
        request = redacted_request(response.request)
        try:
            content: bytes | None = response.content
        except httpx.ResponseNotRead:  # a streamed body: nothing kept to mask
            content = None
        masked = content
        for secret in self.secrets:
            masked = masked and masked.replace(secret.encode(), REDACTED.encode())
        headers = response.headers.multi_items()
        masked_headers = [(name, self.text(value)) for name, value in headers]
        reason = self.text(response.reason_phrase)
        if masked == content and masked_headers == headers and reason == response.reason_phrase:
            response.request = request
            return response
        extensions = {k: v for k, v in response.extensions.items() if k == "http_version"}
        extensions["reason_phrase"] = reason.encode("ascii", "replace")
        return httpx.Response(
            response.status_code,
            headers=[(n, v) for n, v in masked_headers if n.lower() not in _FRAMING],
            content=masked,
            request=request,
            extensions=extensions,
        )


def without_userinfo(text: str) -> str:
    """A URL, or a message quoting URLs, with any user:password replaced.

    >>> without_userinfo("POST http://me:p@ss@host:5000/api failed")
    'POST http://***@host:5000/api failed'
    """
    return _USERINFO.sub(lambda m: "//***@" if m[0].startswith("//") else "***@", text)


# A word of a text (what a URL in it is part of): split at spaces and quotes.
_WORD = re.compile(r"[^\s'\"]+")


def without_passwords(text: str, known: Iterable[str] = ()) -> str:
    """A text with the password of every ``user:password@`` it quotes masked, the user
    kept where it can be told (what the command line does to every error line it prints):
    the password is all between the user's ":" and the word's last "@". ``known`` passwords
    (those the command line was given, which may hold a space or a quote) are masked
    first, wherever they stand.

    >>> without_passwords("Invalid value: 'postgresql://evals:p%40ss@db/evals' is not an int")
    "Invalid value: 'postgresql://evals:***@db/evals' is not an int"
    """
    for password in sorted(known, key=len, reverse=True):
        text = text.replace(password, "***")
    return _WORD.sub(_masked_word, text)


def _password_start(head: str) -> int | None:
    """Where the password of ``user:password`` begins in ``head``, a word's text before its
    last "@": after the user's ":", the user after a scheme's "://" (found, not searched
    for: one pass; a scheme mistyped, "postgresql:/u:pw", is taken for the user, so all
    after it is the password); None without a ":"."""
    scheme = head.find("://")
    colon = head.find(":", scheme + 3 if scheme >= 0 else 0)
    return None if colon < 0 else colon + 1


def _masked_word(match: re.Match[str]) -> str:
    word = match[0]
    head, at, tail = word.rpartition("@")
    start = _password_start(head) if at else None
    if start is None or head[start:] in ("", "***"):
        return word
    return f"{head[:start]}***@{tail}"


def url_passwords(texts: Iterable[str]) -> set[str]:
    """The passwords of the URLs among ``texts`` (a command line's arguments), as written
    and percent-decoded, as ``without_passwords`` reads a word; those shorter than
    MIN_MASKED_CHARS are left to its rule."""
    found: set[str] = set()
    for text in texts:
        head = text.rpartition("@")[0]
        start = _password_start(head)
        password = "" if start is None else head[start:]
        found.update(
            form for form in (password, unquote(password)) if len(form) >= MIN_MASKED_CHARS
        )
    return found


def url_without_userinfo(url: httpx.URL) -> httpx.URL:
    """The URL without the user:password the base URL may have carried."""
    if url.userinfo:
        return url.copy_with(username=None, password=None)
    return url


def where(request: httpx.Request) -> str:
    """METHOD and URL of a request, without any user:password the base URL carried."""
    return f"{request.method} {url_without_userinfo(request.url)}"


# CSI sequences (colours, cursor moves) and the two-character escapes.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
# "ValueError: ...", "torch.OutOfMemoryError: ...": the line a traceback ends with.
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit)\b: .+")
# loguru's "2026-12-01 21:56:25 | ERROR    | module:function:line - message" (the place
# holds no "|": a line of "| ERROR |" repeated is read in linear time, not quadratic).
_LOG_ERROR = re.compile(r"\|\s*(?:ERROR|CRITICAL)\s*\|[^-|]*- (.+)")


def strip_ansi(text: str) -> str:
    """Text without terminal colour codes (the server's log tail carries them)."""
    return _ANSI.sub("", text)


def failure_reason(error: str | None) -> str:
    """The line of a failed job's error that says why: its last exception, else its last
    logged error, else its last non-empty line (lmms-eval's error is mostly log boilerplate).
    """
    if not error:
        return "the server gave no error text"
    lines = [line.strip() for line in strip_ansi(error).splitlines() if line.strip()]
    for pattern in (_EXCEPTION_LINE, _LOG_ERROR):
        for line in reversed(lines):
            match = pattern.search(line)
            if match:
                found = match.group(1) if match.groups() else match.group(0)
                return clip(found.strip(), 300)
    return clip(lines[-1], 300) if lines else "the server gave no error text"
