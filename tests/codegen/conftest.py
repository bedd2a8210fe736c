"""Shared helpers of the codegen tests: the spec-check modules and openapi.yaml."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "openapi.yaml"
SPEC_CHECK = ROOT / "codegen" / "spec_check.py"


def load_spec_check() -> ModuleType:
    """codegen/spec_check.py, imported by path (codegen/ is not a package)."""
    spec = importlib.util.spec_from_file_location("spec_check", SPEC_CHECK)
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def spec_check() -> ModuleType:
    return load_spec_check()


@pytest.fixture
def contract() -> dict[str, Any]:
    """A fresh copy of openapi.yaml as a dict (tests may change it)."""
    data: dict[str, Any] = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    return data
