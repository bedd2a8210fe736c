"""Check that openapi.yaml covers the live contract of an lmms-eval server, both ways.

Usage::

    python codegen/spec_check.py [--pin VERSION] openapi.yaml    # the installed server
    python codegen/spec_check.py --url http://host:port/openapi.json openapi.yaml

Without ``--url`` the live contract is the installed lmms-eval's own ``app.openapi()``
export, taken in-process (no server is started); this is what ``make spec-check`` runs,
with ``--pin`` set to the Makefile's ``LMMS_EVAL_VERSION``: a different installed version
is an error (a stale environment), and ``info.version`` of openapi.yaml must name the pin
(bumping the pin makes the check fail until the contract has been reviewed for it).

With ``--url`` the live contract is fetched from a running server (FastAPI serves it at
``/openapi.json``), for users of a server other than the pinned one: every line printed is
something the SDK's contract and that server disagree on.

The rules are in ``contract_diff.py``. Exits 1 printing one line per difference, 0 printing
a one-line summary, 2 when the check cannot run.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

# The comparison lives beside this file; make it importable however this file was loaded
# (run as a script, or imported by path from the tests).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from contract_diff import Checker, compare_contracts
from openapi_schemas import Document, Schema

__all__ = ["compare_contracts", "fetch_contract", "live_contract", "main"]

FETCH_TIMEOUT = 30.0  # seconds: /openapi.json is built once and cached by FastAPI


class CheckError(Exception):
    """The check cannot run (exit status 2); the message says why."""


def live_contract() -> Schema:
    """The installed server's OpenAPI export, taken in-process without starting it."""
    from loguru import logger

    logger.remove()  # keep the check's output to its findings
    from lmms_eval.entrypoints.http_server import app

    contract: Schema = app.openapi()
    return contract


def fetch_contract(url: str, timeout: float = FETCH_TIMEOUT) -> Schema:
    """The OpenAPI document a running server serves at ``url`` (its ``/openapi.json``)."""
    import httpx

    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=True)
        response.raise_for_status()
        data: Any = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise CheckError(f"cannot read the live contract from {url}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("paths"), dict):
        raise CheckError(f"{url} did not answer an OpenAPI document (no 'paths' object)")
    return data


def installed_version() -> str:
    """The version of the installed lmms-eval distribution."""
    try:
        return version("lmms-eval")
    except PackageNotFoundError as exc:
        raise CheckError("lmms-eval is not installed: run `make install`") from exc


def pin_problems(ours: Schema, ours_label: str, pin: str) -> list[str]:
    """Differences between the pinned version and the one openapi.yaml says it describes."""
    described = str((ours.get("info") or {}).get("version", ""))
    if described == pin:
        return []
    return [
        f"{ours_label}: info.version is {described or 'missing'}, the pinned lmms-eval is "
        f"{pin} (review the contract against it, then `make generate`)"
    ]


def load_contract(path: Path) -> Schema:
    """openapi.yaml as a dict."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CheckError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CheckError(f"{path} is not an OpenAPI document")
    return data


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line (``argv`` without the program name)."""
    parser = argparse.ArgumentParser(
        prog="spec_check.py",
        description="Check that an OpenAPI contract covers a live lmms-eval server's, both ways.",
    )
    parser.add_argument("contract", type=Path, help="the checked-in contract (openapi.yaml)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--url", help="compare with the /openapi.json of a running server instead")
    source.add_argument(
        "--pin", metavar="VERSION", help="the lmms-eval version that must be installed"
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Run the check on ``argv`` (without the program name); return the exit status."""
    args = parse_args(argv)
    try:
        ours = load_contract(args.contract)
        problems: list[str] = []
        if args.url:
            live, live_label = fetch_contract(args.url), f"the server at {args.url}"
        else:
            installed = installed_version()
            if args.pin and installed != args.pin:
                raise CheckError(
                    f"lmms-eval {installed} is installed but {args.pin} is pinned: "
                    "run `make install`"
                )
            if args.pin:
                problems.extend(pin_problems(ours, args.contract.name, args.pin))
            live, live_label = live_contract(), f"the live lmms-eval {installed} export"
    except CheckError as exc:
        print(f"spec-check: {exc}", file=sys.stderr)
        return 2
    checker = Checker(live=Document(live, live_label), ours=Document(ours, args.contract.name))
    checker.run()
    problems.extend(checker.problems)
    if problems:
        for line in problems:
            print(line)
        count = len(problems)
        print(
            f"spec-check: {args.contract} does not cover {live_label} "
            f"({count} difference{'' if count == 1 else 's'})",
            file=sys.stderr,
        )
        return 1
    print(
        f"spec-check: {args.contract} covers {live_label} ({checker.operations_checked} "
        f"operations, {len(checker.fields_checked)} schema fields checked, both ways)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
