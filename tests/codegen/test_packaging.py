"""The license the package metadata declares is the one it ships."""

from __future__ import annotations

import pytest

from .conftest import ROOT

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11


def test_mit_license_file_matches_the_metadata() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT"  # an SPDX expression (PEP 639)
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 lmms-eval-client contributors" in text
    assert not any(c.startswith("License ::") for c in project.get("classifiers", []))
