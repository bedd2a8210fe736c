"""Metric keys a crafted results file may hold: how they split, in time linear in the file.

Adversarial tries: a name the stderr regex backtracked on (144 KB: 56 s), and an entry of
many ``<m>_stderr`` keys whose metrics were looked up in a tuple (1 MB: 33 s).
"""

from __future__ import annotations

import itertools
import json
import re

import pytest

from lmms_eval_client import EvalResults
from lmms_eval_client._results.metrics import _stderr_split

# What a stderr name is: the regex the client used before (now its specification only).
SPEC = re.compile(r"(?P<base>.+)_(?P<kind>stderr(?:_[A-Za-z0-9]+)*)", re.DOTALL)


def by_spec(name: str) -> tuple[str, str] | None:
    match = SPEC.fullmatch(name)
    return (match["base"], match["kind"]) if match else None


REAL = [
    "exact_match_stderr",
    "exact_match_stderr_clt",
    "exact_match_stderr_clustered",
    "acc_norm_stderr",
    "acc_stderr_stderr",
    "acc_stderr_clt_stderr",
    "bleu_4_stderr_v2",
    "f1_stderr_a_b_c",
    "stderr",
    "_stderr",
    "x_stderr_",
    "x_stderr__a",
    "a__stderr",
    "x_stderrs",
    "x_stderr_é",
    "x_stderr_a!",
    "x_stderr_a_stderrb",
    "a_stderr_b_stderrx",
    "x_stderr_a_stderr!_stderr",
]
TOKENS = ["_stderr", "_", "a", "1", "!", "stderr", "é"]
GENERATED = ["".join(p) for n in range(1, 6) for p in itertools.product(TOKENS, repeat=n)]


@pytest.mark.parametrize("name", REAL)
def test_stderr_names_split_as_the_regex_said(name: str) -> None:
    assert _stderr_split(name) == by_spec(name)


def test_every_short_name_of_stderr_parts_splits_as_the_regex_said() -> None:
    wrong = [(n, _stderr_split(n), by_spec(n)) for n in GENERATED if _stderr_split(n) != by_spec(n)]
    assert not wrong, wrong[:5]


def test_a_name_the_regex_backtracked_on_is_a_metric_of_its_own() -> None:
    # "x_stderr_a..._stderr_a!": the regex tried each "_stderr" against each rest, 4,000
    # repeats took 3 s, this size would take 5 minutes (pytest's timeout); split by string
    # operations it takes milliseconds.
    name = "x" + "_stderr_a" * 40_000 + "!"
    assert _stderr_split(name) is None
    entry = {f"{name},none": 1.0, "x,none": 0.5}
    results = EvalResults.from_json(json.dumps({"results": {"t": entry}}))
    assert [(m.name, m.value, m.stderrs) for m in results.metrics] == [
        (name, 1.0, {}),
        ("x", 0.5, {}),
    ]
