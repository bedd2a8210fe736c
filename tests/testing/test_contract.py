"""The local app and openapi.yaml describe the same API, checked both ways."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from lmms_eval_client.testing import create_app

ROOT = Path(__file__).resolve().parents[2]


def spec_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("spec_check", ROOT / "codegen" / "spec_check.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return module


def operations(document: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (method.upper(), path, op.get("operationId", ""))
        for path, item in document["paths"].items()
        for method, op in item.items()
    }


def test_local_app_and_openapi_yaml_cover_each_other() -> None:
    check = spec_check()
    ours = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    local = create_app().openapi()
    assert check.compare_contracts(ours, local, "openapi.yaml", "the local app") == []
    assert check.compare_contracts(local, ours, "the local app", "openapi.yaml") == []
    assert operations(local) == operations(ours)  # same operationIds too
    assert local["info"]["title"] == ours["info"]["title"]


def test_comparison_catches_a_difference() -> None:
    check = spec_check()
    ours = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    local = create_app().openapi()
    del local["components"]["schemas"]["JobInfo"]["properties"]["error"]
    del local["paths"]["/queue"]
    problems = check.compare_contracts(ours, local, "openapi.yaml", "the local app")
    assert "GET /queue: operation missing from the local app" in problems
    assert any("JobInfo.error missing from the local app" in p for p in problems)


def test_importing_the_sdk_does_not_import_the_server() -> None:
    code = (
        "import sys, lmms_eval_client\n"
        "assert 'fastapi' not in sys.modules, 'fastapi'\n"
        "assert 'uvicorn' not in sys.modules, 'uvicorn'\n"
        "assert 'lmms_eval_client.testing' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
