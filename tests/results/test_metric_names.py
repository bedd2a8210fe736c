"""``metric_names`` of iter_samples and Sample.from_record: a collection of names, checked.

An adversarial try: ``metric_names="exact_match"`` was read as the set of its letters (every
metric silently moved out of ``Sample.metrics``), ``metric_names=5`` a raw TypeError.
"""

from __future__ import annotations

from typing import Any

import pytest

from lmms_eval_client import InvalidArgumentError, Sample, iter_samples

from .conftest import SINGLE_SAMPLES

BAD: list[tuple[Any, str]] = [
    ("exact_match", "not a str"),
    (b"exact_match", "not a bytes"),
    (5, "got 5"),
    (["exact_match", 5], "got 5"),
    ([None], "got None"),
]


@pytest.mark.parametrize(("names", "says"), BAD)
def test_iter_samples_refuses_metric_names_that_are_no_collection_of_names(
    names: Any, says: str
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        iter_samples("/nonexistent/nothing_read_samples_t.jsonl", metric_names=names)
    assert "metric_names" in str(caught.value) and says in str(caught.value)


@pytest.mark.parametrize(("names", "says"), BAD)
def test_from_record_refuses_them_too(names: Any, says: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        Sample.from_record({"doc_id": 0, "exact_match": 1.0}, metric_names=names)
    assert "metric_names" in str(caught.value) and says in str(caught.value)


def test_a_collection_of_names_keeps_those_metrics() -> None:
    for names in (["exact_match"], ("exact_match",), {"exact_match"}, iter(["exact_match"])):
        first = next(iter_samples(SINGLE_SAMPLES, metric_names=names))
        assert first.score("exact_match") is not None and not first.model_extra
    sample = Sample.from_record({"exact_match": 1.0, "other": 2}, metric_names={"exact_match"})
    assert sample.metrics == {"exact_match": 1.0} and sample.model_extra == {"other": 2}
