"""The response size cap: a body is read, and decompressed, only up to ``max_response_bytes``.

lmms-eval's answers are a few KB (a failed job's log tail, about 2,000 task names), so the
default of 64 MiB is generous. The limit counts *decoded* bytes, and decompression itself
is bounded: a 1 MB gzip body that inflates to 1 GB is stopped after 64 MiB, without ever
holding more than the limit plus one small piece. httpx's own decoders inflate each network
chunk at once (64 KB of gzip can become 64 MB, and ``gzip, gzip`` multiplies that), so
bodies are read raw and inflated here; only the encodings this can bound are asked for.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterator

import httpx

from .._checks import check_count
from .._exceptions import ResponseTooLargeError
from .._text import SecretMask, body_excerpt, where

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
# The most one decompression step may produce: the pieces held besides the body so far.
_PIECE = 1024 * 1024
_ZLIB_CODINGS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": 0}
# What requests ask for; identity needs no decoder.
ACCEPT_ENCODING = "gzip, deflate"
_ACCEPTABLE = frozenset({*_ZLIB_CODINGS, "identity"})
# Codings httpx can decode (with brotli / zstandard installed) but this reader cannot bound.
_UNBOUNDED = frozenset({"br", "zstd"})


def check_max_response_bytes(value: object) -> int:
    """max_response_bytes must be a positive int (bytes, after decompression)."""
    return check_count("max_response_bytes", value, alternatives="bytes of a decoded body")


@functools.lru_cache(maxsize=32)  # called per request with one of very few values
def accept_encoding(current: str | None) -> str:
    """The Accept-Encoding to send: the caller's, unless it asks for codings we cannot bound."""
    if current is not None:
        codings = {part.split(";")[0].strip().lower() for part in current.split(",")}
        if codings <= _ACCEPTABLE:
            return current
    return ACCEPT_ENCODING


def _size(limit: int) -> str:
    mib = limit / (1024 * 1024)
    return f"{limit:,} bytes ({mib:.3g} MiB)" if mib >= 1 else f"{limit:,} bytes"


# Bytes of a refused body kept to show its start: the 200 shown, and room for a secret
# across the cut to be masked whole.
EXCERPT_READ = 4096


def too_large(response: httpx.Response, limit: int, start: bytes) -> ResponseTooLargeError:
    """The error for a body beyond ``limit``; ``start`` is the beginning of the decoded body
    (longer than shown: masked before it is cut, so a key across the cut is not half shown)."""
    response._content = b""  # the body is not kept; .content and .text stay usable
    request = response.request
    start = SecretMask.of(request).text(start.decode("utf-8", "replace")).encode()[:200]
    message = (
        f"{where(request)} -> {response.status_code}: the response body is larger than "
        f"max_response_bytes = {_size(limit)} after decompression; reading stopped there"
        f"{f' (it starts: {body_excerpt(start)})' if start else ''}. No lmms-eval answer needs "
        "that much: check base_url (is this the lmms-eval server?) and any proxy in between; "
        "if the body is legitimate, raise the limit, e.g. "
        "EvalClient(..., max_response_bytes=256 * 1024 * 1024)."
    )
    if request.method == "POST":
        message += (
            " The server received and answered the request: a job submission may have "
            "created a job; check get_queue_status() before submitting again."
        )
    return ResponseTooLargeError(message, response=response, limit=limit)


class _Inflater:
    """zlib decompression that never produces more than ``_PIECE`` bytes at once."""

    def __init__(self, wbits: int) -> None:
        self._deflate = wbits == 0  # zlib-wrapped as the RFC says, or raw as some servers send
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS if self._deflate else wbits)
        self._started = False

    def pieces(self, data: bytes) -> Iterator[bytes]:
        """The decoded pieces of the next raw chunk, one at a time (raises zlib.error)."""
        while True:
            try:
                piece = self._zlib.decompress(data, _PIECE)
            except zlib.error:
                if self._deflate and not self._started:  # no zlib header: raw deflate
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._deflate = False
                    continue
                raise
            self._started = True
            if piece:
                yield piece
            data = self._zlib.unconsumed_tail
            # A full piece may leave output pending inside zlib even when no input is left.
            if not data and len(piece) < _PIECE:
                return


class BodyReader:
    """Collects one response body, decoded, up to ``limit`` bytes; ``feed`` it raw chunks.

    Raises ResponseTooLargeError beyond the limit and httpx.DecodingError for a body that
    cannot be decoded (as httpx does), or that uses an encoding this reader cannot bound.
    """

    def __init__(self, response: httpx.Response, limit: int) -> None:
        self._response = response
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        codings = [
            value.strip().lower()
            for value in response.headers.get_list("content-encoding", split_commas=True)
        ]
        codings = [c for c in codings if c and c != "identity"]
        self._inflater: _Inflater | None = None
        known = [c for c in codings if c in _ZLIB_CODINGS or c in _UNBOUNDED]
        if len(known) > 1 or any(c in _UNBOUNDED for c in known):
            raise httpx.DecodingError(
                f"the server sent Content-Encoding {', '.join(codings)!r}, which this client "
                f"did not ask for (it asks for {ACCEPT_ENCODING!r}) and cannot decompress "
                "within max_response_bytes",
                request=response.request,
            )
        # An unknown coding is passed through as it is, as httpx does.
        self._coding = known[0] if known else "identity"
        if known:
            self._inflater = _Inflater(_ZLIB_CODINGS[self._coding])
        length = response.headers.get("content-length", "")
        if self._inflater is None and length.isascii() and length.isdigit() and int(length) > limit:
            raise too_large(response, limit, b"")

    def feed(self, raw: bytes) -> None:
        """Add the next raw (still encoded) chunk of the body."""
        if self._inflater is None:
            self._add(raw)
            return
        try:
            for piece in self._inflater.pieces(raw):
                self._add(piece)
        except zlib.error as exc:
            raise httpx.DecodingError(
                f"the body is not valid {self._coding}: {exc}", request=self._response.request
            ) from exc

    def _add(self, piece: bytes) -> None:
        self._size += len(piece)
        if self._size > self._limit:
            start = (self._parts[0] if self._parts else piece)[:EXCERPT_READ]
            self._parts.clear()
            raise too_large(self._response, self._limit, start)
        self._parts.append(piece)

    def content(self) -> bytes:
        """The whole decoded body."""
        return b"".join(self._parts)
