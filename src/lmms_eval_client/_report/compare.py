"""Two checkpoints compared sample by sample: per task and metric the mean difference with
lmms-eval's paired t-test (``stats.py``), and the samples whose score changed ("flips").

Samples are streamed (``EvalResults.samples``): only each sample's numeric scores are kept,
an entry per document and metric (about 0.2 KB: 500,000 samples a side take ~200 MB), and
each flip found.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from .._exceptions import InvalidArgumentError
from .._results.file_access import FileSystem
from .._results.files import load_job_results
from .._results.path_map import PathMap
from .._results.results import EvalResults
from .._results.samples import Sample
from .._text import shown
from .stats import PairedTest, paired_ttest

if TYPE_CHECKING:
    from lmms_eval_api.models import JobInfo

DocId = int | str
Scores = dict[str, dict[DocId, float]]  # metric -> doc_id -> score


class MetricComparison(BaseModel):
    """One task's metric compared between checkpoints ``a`` and ``b`` on their common samples.

    Example::

        for row in comparison.metrics:
            print(row.task, row.metric, row.mean_a, row.mean_b, row.test.p_value)
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(frozen=True)

    task: str = Field(description="The task, e.g. `mme`.")
    metric: str = Field(description="The per-sample metric, e.g. `exact_match`.")
    n: int = Field(description="Samples scored in both (paired by doc_id).")
    mean_a: float | None = Field(description="Mean score of a over those samples.")
    mean_b: float | None = Field(description="Mean score of b over those samples.")
    test: PairedTest = Field(description="lmms-eval's paired t-test of the scores of a against b.")


class Flip(BaseModel):
    """A sample whose score differs between the two checkpoints.

    Example::

        for flip in comparison.flips:
            print(flip.task, flip.doc_id, flip.score_a, "->", flip.score_b)
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(frozen=True)

    task: str = Field(description="The task.")
    metric: str = Field(description="The per-sample metric whose value changed.")
    doc_id: DocId = Field(description="The document's id in both samples files.")
    score_a: float = Field(description="Its score in a.")
    score_b: float = Field(description="Its score in b.")


class Comparison(BaseModel):
    """Checkpoint ``a`` against ``b``: per task x metric, and the samples that flipped.

    Example::

        comparison = compare(job_a, job_b)
        print(comparison.table())
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(frozen=True)

    a: str = Field(description="What a is (a job id, a key...).")
    b: str = Field(description="What b is.")
    metrics: list[MetricComparison] = Field(description="One row per task x metric.")
    flips: list[Flip] = Field(description="Samples whose score changed, by task, metric, doc_id.")

    def table(self) -> str:
        """A text table: task, metric, n, mean a, mean b, difference, 95% CI, p-value.

        Example::

            print(run.compare("step-100", "step-200").table())
        """
        lines = [f"a = {self.a}", f"b = {self.b}"]
        lines.append(
            f"{'task':<20} {'metric':<16} {'n':>6} {'mean a':>8} {'mean b':>8} "
            f"{'a - b':>8} {'95% CI':>19} {'p':>8}"
        )
        for row in self.metrics:
            t = row.test
            lines.append(
                f"{row.task:<20} {row.metric:<16} {row.n:>6} {_num(row.mean_a):>8} "
                f"{_num(row.mean_b):>8} {_num(t.mean_diff):>8} "
                f"{'[' + _num(t.ci_lower) + ', ' + _num(t.ci_upper) + ']':>19} "
                f"{_num(t.p_value):>8}"
            )
        lines.append(f"{len(self.flips)} samples flipped")
        return "\n".join(lines)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def sample_scores(samples: Iterable[Sample]) -> Scores:
    """Each numeric per-sample metric of ``samples``, by metric and doc_id (the last wins)."""
    scores: Scores = {}
    for sample in samples:
        if sample.doc_id is None:
            continue
        for metric in sample.metrics:
            value = sample.score(metric)
            if value is not None:
                scores.setdefault(metric, {})[sample.doc_id] = value
    return scores


def _order(doc_id: DocId) -> tuple[int, int | str]:
    return (0, doc_id) if isinstance(doc_id, int) else (1, doc_id)


def compare_scores(
    a: Mapping[str, Scores], b: Mapping[str, Scores], *, label_a: str = "a", label_b: str = "b"
) -> Comparison:
    """The comparison of two checkpoints' scores (task -> ``sample_scores``): every task and
    metric both have, paired on the doc_ids both scored.

    Example::

        compare_scores({"mme": sample_scores(s1)}, {"mme": sample_scores(s2)})
    """
    rows: list[MetricComparison] = []
    flips: list[Flip] = []
    for task in sorted(a.keys() & b.keys()):
        for metric in sorted(a[task].keys() & b[task].keys()):
            left, right = a[task][metric], b[task][metric]
            docs = sorted(left.keys() & right.keys(), key=_order)
            xs, ys = [left[d] for d in docs], [right[d] for d in docs]
            n = len(docs)
            rows.append(
                MetricComparison(
                    task=task,
                    metric=metric,
                    n=n,
                    mean_a=sum(xs) / n if n else None,
                    mean_b=sum(ys) / n if n else None,
                    test=paired_ttest(xs, ys),
                )
            )
            flips.extend(
                Flip(task=task, metric=metric, doc_id=d, score_a=x, score_b=y)
                for d, x, y in zip(docs, xs, ys, strict=True)
                if x != y and not (math.isnan(x) and math.isnan(y))  # NaN != NaN: no change
            )
    return Comparison(a=label_a, b=label_b, metrics=rows, flips=flips)


def results_scores(results: EvalResults, tasks: Collection[str] | None = None) -> dict[str, Scores]:
    """The per-sample scores of every task of ``results`` with a samples file (of ``tasks``)."""
    return {
        task: sample_scores(results.samples(task))
        for task in results.sample_files
        if tasks is None or task in tasks
    }


def compare(
    a: EvalResults | JobInfo,
    b: EvalResults | JobInfo,
    *,
    tasks: Collection[str] | None = None,
    model: str | None = None,
    path_map: PathMap | None = None,
    filesystem: FileSystem | None = None,
) -> Comparison:
    """Compare two checkpoints on their samples: per task and metric, the mean difference
    ``a - b`` with lmms-eval's paired t-test over the documents both scored, and the
    samples whose score changed.

    ``a`` and ``b`` are completed jobs (their samples files are read through ``path_map``
    / ``filesystem``, as ``load_job_results``; ``model`` picks one of several) or loaded
    results. Only tasks with a samples file in both count (submit with
    ``log_samples=True``). Raises the errors of ``load_job_results``, and
    InvalidArgumentError when the two share no task with samples.

    Example::

        comparison = compare(client.get_job(id_a), client.get_job(id_b))
        print(comparison.table())
    """
    from lmms_eval_api.models import JobInfo

    if tasks is not None and (
        isinstance(tasks, str)
        or not isinstance(tasks, Collection)
        or not all(isinstance(task, str) for task in tasks)
    ):
        raise InvalidArgumentError(
            f"tasks must be a collection of task names (e.g. ['mme']) or None, got {shown(tasks)}"
        )
    loaded = []
    labels = []
    for name, side in (("a", a), ("b", b)):
        if not isinstance(side, (EvalResults, JobInfo)):
            raise InvalidArgumentError(
                f"{name} must be a completed job (a JobInfo: client.get_job(job_id)) or "
                f"EvalResults, got {shown(side)}; to compare jobs by id or a run's by key: "
                "lmms-eval-client compare, or run.compare(key_a, key_b)"
            )
        if isinstance(side, EvalResults):
            loaded.append(side)
            labels.append(side.path or "results")
        else:
            loaded.append(
                load_job_results(side, model=model, path_map=path_map, filesystem=filesystem)
            )
            labels.append(side.job_id)
    first, second = loaded
    common = first.sample_files.keys() & second.sample_files.keys()
    if tasks is not None:
        common &= set(tasks)
    if not common:
        raise InvalidArgumentError(
            f"{labels[0]} and {labels[1]} have no task with samples in common (tasks with "
            f"samples: {', '.join(sorted(first.sample_files)) or 'none'} and "
            f"{', '.join(sorted(second.sample_files)) or 'none'}); submit with log_samples=True"
        )
    return compare_scores(
        results_scores(first, common),
        results_scores(second, common),
        label_a=labels[0],
        label_b=labels[1],
    )
