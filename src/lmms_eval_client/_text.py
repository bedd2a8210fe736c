"""Text for messages: clipping long server texts, excerpts of bodies, URLs without secrets.

Every message this client builds quotes servers through these helpers, so that a
multi-megabyte body never becomes a message and a password in a URL is never shown.
"""

from __future__ import annotations

import re

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


# user:password@ after "//", or at the very start of a URL written without its scheme
_USERINFO = re.compile(r"//[^@]*@|^[^/:@]*:[^/@]*@")


def without_userinfo(text: str) -> str:
    """A URL as text with any user:password replaced, for messages."""
    return _USERINFO.sub(lambda m: "//***@" if m[0].startswith("//") else "***@", text)


def where(request: httpx.Request) -> str:
    """METHOD and URL of a request, without any user:password the base URL carried."""
    url = request.url
    if url.userinfo:
        url = url.copy_with(username=None, password=None)
    return f"{request.method} {url}"
