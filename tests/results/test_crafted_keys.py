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
from lmms_eval_client._results.metrics import parse_task_metrics
from lmms_eval_client._results.stderr_names import stderr_split as _stderr_split

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


class CountedKey(str):
    """A key that counts the comparisons made with it (a lookup among the keys)."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        CountedKey.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_looking_up_each_stderrs_metric_is_not_a_scan_of_the_keys() -> None:
    # An adversarial try: an entry of 60,000 "m<i>_stderr,none" keys (1 MB) took 33 s,
    # each stderr's metric ("m<i>,none", absent) looked for in a tuple of all the keys.
    count = 2_000
    entry = {CountedKey(f"m{i}_stderr,none"): 0.1 for i in range(count)}
    entry[CountedKey("m0,none")] = 1.0
    CountedKey.compared = 0
    rows = parse_task_metrics("t", entry, is_group=False)
    assert CountedKey.compared <= 4 * count  # a scan for each: about count**2 / 2
    assert len(rows) == count and rows[-1].name == "m0" and rows[-1].stderrs == {"stderr": 0.1}
    assert [m.name for m in rows[:2]] == ["m1_stderr", "m2_stderr"]


def test_the_plans_kept_after_a_file_are_bounded_by_their_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An adversarial try: 1,000 tasks of 5,000 distinct keys each kept 5 million key
    # strings (GBs) in the module's cache of plans after the EvalResults was gone.
    from lmms_eval_client._results import metrics

    monkeypatch.setattr(metrics, "_PLANS", {})
    monkeypatch.setattr(metrics, "_MAX_PLANNED_KEYS", 100, raising=False)
    for task in range(10):
        entry = {f"m{task}_{k},none": 0.5 for k in range(30)}
        assert len(parse_task_metrics(f"t{task}", entry, is_group=False)) == 30
        assert sum(map(len, metrics._PLANS)) <= 100
    big = {f"b{k},none": 0.5 for k in range(101)}
    assert len(parse_task_metrics("big", big, is_group=False)) == 101
    assert tuple(big) not in metrics._PLANS and sum(map(len, metrics._PLANS)) <= 100
    rows = parse_task_metrics("again", big, is_group=False)  # the same rows, planned again
    assert rows[0].model_fields_set == set(metrics.Metric.model_fields)
