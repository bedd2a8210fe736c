"""A deterministic OpenAI-compatible chat server for the real-completion lane (stdlib only).

Run as ``python chat_server.py``: it binds 127.0.0.1 on a port the OS picks, prints that port
alone on the first line of stdout (then nothing more there) and serves until SIGTERM.

``POST /v1/chat/completions`` answers the last user message the way the lane's tasks expect:
``What is A <op> B?`` with ``+``, ``-`` or ``*`` is computed, ``What is the capital of X?`` is
looked up in ``CAPITALS``; anything else (a division, an unknown country) is ``unknown``. So a
task's score is known in advance. ``usage`` counts words, which lmms-eval records as tokens.

Test controls (not OpenAI's): ``POST /_hold`` makes later chat requests wait until
``POST /_release`` (so a real job stays running for as long as a test needs);
``GET /_stats`` is ``{"requests": N, "held": N}``.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"
MAX_HOLD = 120.0  # seconds a held request waits at most, whatever the test does
UNKNOWN = "unknown"
CAPITALS = {"france": "Paris", "japan": "Tokyo", "italy": "Rome", "kenya": "Nairobi"}

_ARITHMETIC = re.compile(r"what is (-?\d+) ([+\-*]) (-?\d+)\?", re.IGNORECASE)
_CAPITAL = re.compile(r"capital of ([a-z ]+?)\?", re.IGNORECASE)


def answer(prompt: str) -> str:
    """The deterministic reply to one prompt."""
    if match := _ARITHMETIC.search(prompt):
        left, op, right = int(match[1]), match[2], int(match[3])
        value = left + right if op == "+" else left - right if op == "-" else left * right
        return str(value)
    if match := _CAPITAL.search(prompt):
        return CAPITALS.get(match[1].strip().lower(), UNKNOWN)
    return UNKNOWN


def last_user_text(messages: list[Any]) -> str:
    """The text of the last user message (content as a string or as a list of parts)."""
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(
                str(part.get("text", ""))
                for part in content
                if isinstance(part, dict) and part.get("type") == "text"
            )
    return ""


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.held = 0
        self.released = threading.Event()
        self.released.set()


STATE = _State()


class Handler(BaseHTTPRequestHandler):
    server_version = "lane-chat/1"

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/_stats":
            with STATE.lock:
                self._send(200, {"requests": STATE.requests, "held": STATE.held})
        elif self.path == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": "lane-model", "object": "model"}]})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path == "/_hold":
            STATE.released.clear()
            self._send(200, {"held": True})
        elif self.path == "/_release":
            STATE.released.set()
            self._send(200, {"held": False})
        elif self.path.rstrip("/").endswith("/chat/completions"):
            self._chat(raw)
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def _chat(self, raw: bytes) -> None:
        try:
            body = json.loads(raw or b"{}")
            messages = body.get("messages", [])
        except (ValueError, AttributeError):
            self._send(400, {"error": {"message": "the body is not a JSON object"}})
            return
        with STATE.lock:
            STATE.requests += 1
            STATE.held += 1
            number = STATE.requests
        try:
            STATE.released.wait(MAX_HOLD)
        finally:
            with STATE.lock:
                STATE.held -= 1
        prompt = last_user_text(messages if isinstance(messages, list) else [])
        reply = answer(prompt)
        prompt_tokens, completion_tokens = len(prompt.split()), len(reply.split())
        self._send(
            200,
            {
                "id": f"chatcmpl-lane-{number}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": str(body.get("model", "lane-model")),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )


def main() -> None:
    server = ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    sys.stdout.write(f"{server.server_address[1]}\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    finally:
        STATE.released.set()
        server.server_close()


if __name__ == "__main__":
    main()
