"""Two EvalResults are equal when their data is: the file's fields and extra keys, not
where each was read, nor what each has computed and cached."""

from __future__ import annotations

import pickle

from lmms_eval_client import EvalResults

from .conftest import GROUP, SINGLE


def test_equality_does_not_depend_on_what_was_read_or_where() -> None:
    # An adversarial try: two loads compared equal until one had read a metric (its cache
    # of Metric rows compared too); a load and from_json of the same bytes never did.
    a, b = EvalResults.load(SINGLE), EvalResults.load(SINGLE)
    assert a == b
    a.metric("e2e_arith", "exact_match")
    assert a == b and b == a
    assert b.sample_files  # found and kept by b only
    assert a == b
    assert EvalResults.from_json(SINGLE.read_bytes()) == a
    assert pickle.loads(pickle.dumps(a)) == b


def test_different_data_is_not_equal() -> None:
    single = EvalResults.load(SINGLE)
    assert single != EvalResults.load(GROUP)
    changed = EvalResults.from_json(SINGLE.read_bytes().replace(b"{", b'{"new_key": 1, ', 1))
    assert changed != single and changed.model_extra == {"new_key": 1}
    assert single != "not results" and single != object()
