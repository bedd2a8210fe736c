"""Generate the sync classes from their async source, per concept package.

Each concept package with I/O (``_client``, ``_runs``, ``_pool`` of src/lmms_eval_client/)
keeps its hand-written async source in ``<package>/_async/`` and the generated twin in
``<package>/_sync/``, as elasticsearch-py runs unasync per concept folder.

    python codegen/make_sync.py           write src/lmms_eval_client/<package>/_sync/<name>.py
    python codegen/make_sync.py --check   fail, showing the diff, when one differs

Code is rewritten token by token by the ``unasync`` package (``async``/``await`` dropped,
``__aenter__`` -> ``__enter__``, and the names below); docstrings and comments get the
phrase substitutions below, each of which must match at least once (a stale entry fails
the generation). The output is formatted by ruff. What is genuinely different between the
two lives in the hand-written ``_async/_io.py`` and ``_sync/_io.py`` of ``_http`` and ``_pool``.
"""

from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
import tempfile
from pathlib import Path

import tokenize_rt
import unasync

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "lmms_eval_client"
# The async modules that have a generated sync twin: <package>/_async/<name>.
GENERATED = (
    "_client/client.py", "_client/server.py", "_client/results.py", "_client/submit.py",
    "_client/waiting.py",
    "_runs/delivery.py", "_runs/polling.py", "_runs/records.py", "_runs/recovery.py",
    "_runs/run.py",
    "_pool/pool.py", "_pool/reading.py", "_pool/servers.py", "_pool/server_calls.py",
)  # fmt: skip

NAMES = {
    "_async": "_sync",  # imports across packages: ..._client._async.client
    "AsyncEvalClient": "EvalClient",
    "AsyncEvalPool": "EvalPool",
    "AsyncClient": "Client",  # httpx
    "asyncio_detailed": "sync_detailed",  # the generated endpoint functions
    "set_async_httpx_client": "set_httpx_client",
    "aclose": "close",
    "AsyncIO": "SyncIO",  # the mixins of _async/_io.py and _sync/_io.py
    "AsyncEvalRun": "EvalRun",
    "AsyncRunPoller": "RunPoller",
    "AsyncRunDelivery": "RunDelivery",  # the mixins of _runs/_async/run.py
    "AsyncRunRecords": "RunRecords",
    "AsyncRunRecovery": "RunRecovery",  # the mixin of _runs/_async/polling.py
    "AsyncClosing": "Closing",  # _closing.py: the with-block that ends in close()
}
# In docstrings and comments, in this order: specific sentences first, then names.
PHRASES = (
    (
        "Use ``async with``, or ``await client.close()``: a client collected unclosed warns\n"
        "    with a ResourceWarning.",
        "Use it as a context manager, or call ``close()``, to release its connections (a\n"
        "    client collected unclosed closes them).",
    ),
    ("Asynchronous client", "Synchronous client"),
    ("httpx.AsyncClient", "httpx.Client"),
    ("AsyncEvalClient", "EvalClient"),
    ("AsyncEvalRun", "EvalRun"),
    ("async for ", "for "),
    ("AsyncEvalPool", "EvalPool"),
    ("async with ", "with "),
    ("await ", ""),
)


def _rewrite_text(tokens: list[tokenize_rt.Token], used: set[str]) -> list[tokenize_rt.Token]:
    out = []
    for token in tokens:
        if token.name in ("STRING", "COMMENT"):
            src = token.src
            for old, new in PHRASES:
                if old in src:
                    used.add(old)
                    src = src.replace(old, new)
            token = token._replace(src=src)
        out.append(token)
    return out


def _async_path(name: str) -> str:
    """``_client/client.py`` -> ``_client/_async/client.py``."""
    package, module = name.split("/")
    return f"{package}/_async/{module}"


def _sync_path(name: str) -> str:
    package, module = name.split("/")
    return f"{package}/_sync/{module}"


def _generated_docstring(tokens: list[tokenize_rt.Token], name: str) -> None:
    """Replace the module docstring with the first line of it and a do-not-edit notice."""
    for i, token in enumerate(tokens):
        if token.name == "STRING":
            first = token.src.strip('"').splitlines()[0]
            source = _async_path(name)
            tokens[i] = token._replace(
                src=f'"""{first}\n\nGenerated from ``{source}`` by ``codegen/make_sync.py``\n'
                "(``make generate``): do not edit. ``make check-generated`` fails when this\n"
                'file differs from a fresh generation.\n"""'
            )
            return
    raise SystemExit(f"{_async_path(name)} has no module docstring")


def generate(package: Path, name: str, used: set[str]) -> str:
    """The formatted source of ``<package>/_sync/<module>``."""
    module = name.split("/")[1]
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "_async", module)
        source.parent.mkdir()
        source.write_text((package / _async_path(name)).read_text())
        rule = unasync.Rule("/_async/", "/_sync/", additional_replacements=NAMES)
        unasync.unasync_files([str(source)], [rule])
        text = Path(tmp, "_sync", module).read_text()
    tokens = _rewrite_text(tokenize_rt.src_to_tokens(text), used)
    _generated_docstring(tokens, name)
    header = (
        f"# GENERATED FILE from src/lmms_eval_client/{_async_path(name)} by"
        " codegen/make_sync.py."
        "\n# Do not edit: edit the async source and run `make generate`.\n"
    )
    code = header + tokenize_rt.tokens_to_src(tokens)
    ruff = str(Path(sys.executable).parent / "ruff")
    stdin = f"--stdin-filename=src/lmms_eval_client/{_sync_path(name)}"
    # Renamed names can change the order of imports: sort them, then format.
    for command in ([ruff, "check", "--quiet", "--select", "I", "--fix", stdin, "-"],
                    [ruff, "format", "--quiet", stdin, "-"]):  # fmt: skip
        done = subprocess.run(command, input=code, capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            raise SystemExit(f"ruff failed on the generated {_sync_path(name)}:\n{done.stderr}")
        code = done.stdout
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a file is stale")
    parser.add_argument("--package", type=Path, default=PACKAGE, help=argparse.SUPPRESS)
    args = parser.parse_args()
    check, package = args.check, args.package
    used: set[str] = set()
    stale = []
    for name in GENERATED:
        fresh = generate(package, name, used)
        target = package / _sync_path(name)
        if check:
            current = target.read_text() if target.exists() else ""
            if current != fresh:
                stale.append(name)
                sys.stdout.writelines(
                    difflib.unified_diff(
                        current.splitlines(keepends=True),
                        fresh.splitlines(keepends=True),
                        f"{_sync_path(name)} (committed)",
                        f"{_sync_path(name)} (fresh from {_async_path(name)})",
                    )
                )
        else:
            target.write_text(fresh)
            print(f"generated src/lmms_eval_client/{_sync_path(name)}")
    unused = [old for old, _ in PHRASES if old not in used]
    if unused:
        print(f"codegen/make_sync.py: phrases that matched nothing (remove them): {unused}")
        return 1
    if stale:
        print(f"_sync/ is out of date with _async/ ({', '.join(stale)}): run 'make generate'")
        return 1
    if check:
        print("_sync/ matches a fresh generation from _async/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
