"""``make mutate``'s list (scripts/mutations.toml) still matches the code: each ``old``
occurs once in its file and each test file exists. A refactor that moves a promise's code
otherwise breaks the mutation run (which is not part of ``make test``) unnoticed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_mutation_matches_the_code_and_names_existing_tests() -> None:
    spec = importlib.util.spec_from_file_location("mutate", ROOT / "scripts" / "mutate.py")
    assert spec is not None and spec.loader is not None
    mutate = importlib.util.module_from_spec(spec)
    sys.modules["mutate"] = mutate  # (its dataclasses look their module up)
    try:
        spec.loader.exec_module(mutate)
    finally:
        del sys.modules["mutate"]
    mutations = mutate.load(mutate.DATA)  # SystemExit naming each entry that does not match
    assert len(mutations) >= 70
    missing = [
        f"{m.name}: {test}"
        for m in mutations
        for test in m.tests
        if not (ROOT / test.split("::")[0]).exists()
    ]
    assert not missing
