"""The report in a real browser (issue 25): headless Chromium loads the file from disk with
nothing else reachable, no console error, the charts drawn, the sample's script not run,
the sample viewer paged; the screenshot is kept in build/report-screenshots/ (untracked).

Chromium is driven by scripts/docs_screenshots.py (the docs' driver, over the DevTools pipe).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from lmms_eval_client import write_report

from .conftest import MadeRun

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "report-screenshots"

# Run in the loaded page: what the charts drew, whether the sample's script ran, and the
# sample viewer's state before and after "next".
PROBE = """(() => {
  const charts = Array.from(document.querySelectorAll('svg.chart'));
  const boxes = charts.map(c => {
    const b = c.getBoundingClientRect();
    return [b.width, b.height];
  });
  const visible = () => Array.from(document.querySelectorAll('#samples tbody tr'))
      .filter(r => !r.hidden).length;
  const before = [visible(), document.getElementById('sample-page').textContent];
  document.getElementById('sample-next').click();
  const after = [visible(), document.getElementById('sample-page').textContent];
  return {
    charts: charts.length,
    boxes: boxes,
    lines: document.querySelectorAll('svg.chart path.line').length,
    dots: document.querySelectorAll('svg.chart circle.dot').length,
    best: document.querySelectorAll('svg.chart circle.best').length,
    xss: typeof window.__xss,
    before: before,
    after: after,
  };
})()"""


def _driver() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "docs_screenshots", ROOT / "scripts" / "docs_screenshots.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(
    not any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")),
    reason="no chromium (`make chromium` installs Debian's)",
)
@pytest.mark.slow
def test_the_report_renders_in_chromium_without_error(made_run: MadeRun, tmp_path: Path) -> None:
    out = write_report(
        made_run.ledger,
        tmp_path / "report.html",
        samples_job="step-400",
        compare_jobs=("step-100", "step-400"),
    )
    page = _driver().load(out.resolve().as_uri(), 1280, 1600, expression=PROBE)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "report.png").write_bytes(page.png)
    assert page.errors == []
    found = page.value
    assert found["charts"] == 2  # mme and pope exact_match
    assert all(width > 300 and height > 150 for width, height in found["boxes"]), found
    assert found["lines"] == 2 and found["dots"] == 2 * 3 and found["best"] == 2
    assert found["xss"] == "undefined"  # the sample's <script> is text, never run
    # mme has 21 documents, pope 30 (limit=30): 51 samples, 20 a page
    assert found["before"] == [20, "page 1 of 3 (51 samples)"]
    assert found["after"] == [20, "page 2 of 3 (51 samples)"]
    assert page.png.startswith(b"\x89PNG") and len(page.png) > 10_000
