"""The docs site: every public name in the API reference, every command in the CLI
reference, the HTTP contract shown, every guide built; and in headless Chromium, the home
page and an API page render without a console error (screenshots in build/docs-screenshots)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

import lmms_eval_client
from lmms_eval_client.cli.app import COMMANDS

from .conftest import BUILT_ENV, ROOT

SCREENSHOTS = ROOT / "build" / "docs-screenshots"


def _screenshots_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "docs_screenshots", ROOT / "scripts" / "docs_screenshots.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_every_public_name_is_in_the_api_reference(site: Path) -> None:
    documented: set[str] = set()
    for page in (site / "reference").glob("*.html"):
        ids = re.findall(r'id="lmms_eval_client\.([A-Za-z_][A-Za-z0-9_]*)"', _text(page))
        documented |= set(ids)
    missing = sorted(set(lmms_eval_client.__all__) - documented)
    assert missing == [], f"public names missing from the API reference: {missing}"


def test_the_api_reference_has_the_docstrings(site: Path) -> None:
    page = _text(site / "reference" / "clients.html")
    assert 'id="lmms_eval_client.EvalClient.wait_for_job"' in page
    first_line = lmms_eval_client.EvalClient.wait_for_job.__doc__.strip().splitlines()[0]
    assert first_line.split()[0] in page


def test_the_cli_reference_has_every_command(site: Path) -> None:
    page = _text(site / "reference" / "cli.html")
    missing = [name for name in COMMANDS if f"lmms-eval-client {name}" not in page]
    assert missing == []
    assert "--model-args" in page  # a command's options, not only the list


def test_the_http_contract_is_shown(site: Path) -> None:
    page = _text(site / "reference" / "http.html")
    contract = _text(ROOT / "openapi.yaml")
    for path in re.findall(r"^  (/[^:]*):$", contract, flags=re.MULTILINE):
        assert path in page


def test_every_page_is_built(site: Path) -> None:
    sources = [p.relative_to(ROOT / "docs") for p in (ROOT / "docs").rglob("*.md")]
    sources += [p.relative_to(ROOT / "docs") for p in (ROOT / "docs").rglob("*.rst")]
    pages = [p for p in sources if not p.name.startswith("_")]
    missing = [str(p) for p in pages if not (site / p.with_suffix(".html")).is_file()]
    assert missing == []


def _chromium_or_skip() -> None:
    if shutil.which("chromium") is None:
        if os.environ.get(BUILT_ENV):  # under `make test`, which installs it
            pytest.fail("no chromium on PATH: `make chromium` installs it")
        pytest.skip("no chromium on PATH: `make chromium` installs Debian's")


@pytest.mark.slow
def test_the_pages_render_without_console_errors(site: Path) -> None:
    _chromium_or_skip()
    screenshots = _screenshots_module()
    errors = screenshots.screenshots(site, SCREENSHOTS)
    assert errors == {page: [] for page in screenshots.PAGES}
    for name in screenshots.PAGES.values():
        png = (SCREENSHOTS / name).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_the_console_check_sees_errors(tmp_path: Path) -> None:
    # Guards the check above: a broken page's errors are all seen.
    _chromium_or_skip()
    (tmp_path / "bad.html").write_text(
        '<html><head><link rel="stylesheet" href="missing.css"></head><body>'
        '<script>console.error("boom"); console.log("fine"); notDefined();</script></body></html>'
    )
    errors = _screenshots_module().load((tmp_path / "bad.html").as_uri()).errors
    assert len(errors) == 3, errors
    assert any("missing.css" in e for e in errors)
    assert any("console.error: boom" in e for e in errors)
    assert any("notDefined" in e for e in errors)
