"""Screenshots of the built docs in headless Chromium, and the pages' console errors.

    python scripts/docs_screenshots.py build/docs/html build/docs-screenshots

Loads the home page and one API page of a built site (``PAGES``) in Debian's ``chromium``,
writes a PNG of each into the output folder, and prints every console error: a
``console.error``/``console.assert``, an uncaught exception, or a browser log entry at
level error (a stylesheet or script that failed to load). Exits 1 when there is one.

Chromium is driven by the DevTools protocol over ``--remote-debugging-pipe`` (file
descriptors 3 and 4, NUL-separated JSON): no port, no websocket client, and the events are
typed, where ``--enable-logging=stderr`` prints console.log and console.error alike and
not failed loads at all. ``make docs-screenshots`` runs it; tests/docs checks it.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# page of the built site -> screenshot name
PAGES = {"index.html": "home.png", "reference/clients.html": "api-clients.png"}
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
]
TIMEOUT = 60.0  # seconds for one page: load, screenshot


class ChromiumError(RuntimeError):
    """Chromium is missing, did not answer in time, or answered a command with an error."""


def chromium() -> str:
    """The Chromium executable (Debian's ``chromium``; ``make chromium`` installs it)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise ChromiumError("no chromium on PATH: `make chromium` installs Debian's")


@dataclass
class Page:
    png: bytes
    errors: list[str] = field(default_factory=list)
    value: Any = None  # what ``load(..., expression=...)`` evaluated to in the page


class _Browser:
    """One headless Chromium, spoken to over the DevTools pipe."""

    def __init__(self, profile: Path) -> None:
        reading, self._to_browser = os.pipe()
        self._from_browser, writing = os.pipe()
        # Above 4, so that placing one end at 3 cannot overwrite the other before it is moved.
        to_child, from_child = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (reading, writing))
        os.close(reading)
        os.close(writing)
        # The protocol reads fd 3 and writes fd 4 of chromium: bash puts our pipe ends there
        # (dash takes only fds 0-9 in a redirection).
        script = f'exec "$@" 3<&{to_child} 4>&{from_child}'
        args = [chromium(), *FLAGS, f"--user-data-dir={profile}", "about:blank"]
        self._process = subprocess.Popen(
            ["bash", "-c", script, "bash", *args],
            pass_fds=(to_child, from_child),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise ChromiumError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        while True:
            for i, event in enumerate(self.events):
                if event["method"] == method:
                    return self.events.pop(i)
            self.events.append(self._read())

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(self._from_browser, selectors.EVENT_READ)
            while b"\0" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    raise ChromiumError(f"chromium did not answer within {TIMEOUT:.0f} s")
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise ChromiumError("chromium closed the DevTools pipe (it exited)")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (ChromiumError, OSError):
            self._process.kill()
        finally:
            self._process.wait(timeout=TIMEOUT)
            os.close(self._to_browser)
            os.close(self._from_browser)


def _errors(events: list[dict[str, Any]]) -> list[str]:
    found = []
    for event in events:
        params = event.get("params", {})
        if event["method"] == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            found.append(f"console.{params['type']}: {text}")
        elif event["method"] == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description", details.get("text", ""))
            found.append(f"uncaught: {text}")
        elif event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            found.append(f"{entry['source']}: {entry['text']} {entry.get('url', '')}".strip())
    return found


def load(url: str, width: int = 1280, height: int = 900, expression: str | None = None) -> Page:
    """Loads ``url`` in a fresh headless Chromium: its screenshot and console errors, and
    the value of the JavaScript ``expression`` evaluated in the loaded page, if given."""
    with tempfile.TemporaryDirectory(prefix="docs-chromium-") as profile:
        browser = _Browser(Path(profile))
        try:
            targets = browser.send("Target.getTargets")["targetInfos"]
            page = next(t["targetId"] for t in targets if t["type"] == "page")
            session = browser.send("Target.attachToTarget", targetId=page, flatten=True)[
                "sessionId"
            ]
            for domain in ("Runtime", "Log", "Page"):
                browser.send(f"{domain}.enable", session)
            browser.send(
                "Emulation.setDeviceMetricsOverride",
                session,
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
            browser.send("Page.navigate", session, url=url)
            browser.wait_for("Page.loadEventFired")
            # Fonts and late scripts settle before the picture is taken.
            browser.send(
                "Runtime.evaluate", session, expression="document.fonts.ready", awaitPromise=True
            )
            value = None
            if expression is not None:
                result = browser.send(
                    "Runtime.evaluate", session, expression=expression, returnByValue=True
                )
                value = result.get("result", {}).get("value")
            shot = browser.send("Page.captureScreenshot", session, format="png")
            return Page(base64.b64decode(shot["data"]), _errors(browser.events), value)
        finally:
            browser.close()


def screenshots(site: Path, out: Path) -> dict[str, list[str]]:
    """Screenshots of ``PAGES`` of the built ``site`` into ``out``; each page's errors."""
    out.mkdir(parents=True, exist_ok=True)
    errors = {}
    for page, name in PAGES.items():
        loaded = load((site / page).resolve().as_uri())
        (out / name).write_bytes(loaded.png)
        errors[page] = loaded.errors
    return errors


def main() -> int:
    site, out = Path(sys.argv[1]), Path(sys.argv[2])
    errors = screenshots(site, out)
    for page, found in errors.items():
        for error in found:
            print(f"{page}: {error}")
    print(f"screenshots of {len(PAGES)} pages in {out}")
    return 1 if any(errors.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
