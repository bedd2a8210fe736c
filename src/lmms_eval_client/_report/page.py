"""The report as one HTML page, from ``ReportData``: charts, jobs, comparison, samples.

Every text that comes from a ledger, a server or a samples file (labels, keys, errors, log
tails, sample inputs and answers) is untrusted and goes through ``_e``: HTML-escaped, its
control and bidirectional characters shown as escapes (``html_visible``). A sample's texts
are masked as a log tail is (``redact_secrets``: ``api_key=...`` and the like).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from .._job_times import run_seconds
from .._results.redaction import redact_secrets
from .._runs.outcomes import TrackedJob
from .._runs.table import MetricRow
from .._trackers.base import NO_FILTER, integer_step
from .._visible import html_visible
from .compare import Comparison
from .data import ReportData, RunData, SampleData, cut_text
from .svg import COLORS, Point, Series, chart, drawable
from .template import SCRIPT, STYLE

MAX_FLIPS = 200  # flips listed in the page (all are counted)


def _e(value: Any) -> str:
    return html_visible(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))


def _cut(value: Any) -> str:
    return _e(cut_text(value))


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


_DECIMAL_TEXT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]{1,4})?")


def _x(labels: dict[str, Any], step_label: str, seq: int) -> float:
    """Where a job is drawn: its step label (a number, or a number's text as the command
    line's ``--label step=100`` or ``--label epoch=0.5`` stores it), else its seq."""
    value = labels.get(step_label)
    if isinstance(value, str):
        text = value.strip()
        step = integer_step(text)
        # Decimal text too (not float()'s "nan", "inf" or "1_0"): an epoch of 0.5 was drawn
        # at its seq, out of order among the others.
        value = step if step is not None or not _DECIMAL_TEXT.fullmatch(text) else float(text)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        with contextlib.suppress(OverflowError):  # an int past float's range: no x
            if math.isfinite(number := float(value)):
                return number
    return float(seq)


def _best(points: list[Point], rows: list[MetricRow]) -> int | None:
    said = {row.higher_is_better for row in rows} - {None}
    if len(said) != 1:
        return None  # the direction is unknown (or disputed): no best is marked
    higher = said.pop()
    best: int | None = None
    for i, p in enumerate(points):  # seq order: strictly better only, ties keep the earliest
        if not (drawable(p.x) and drawable(p.y)):  # the best is a point the chart shows
            continue
        if best is None or (p.y > points[best].y if higher else p.y < points[best].y):
            best = i
    return best


def charts_section(data: ReportData) -> str:
    """One chart per task x metric x filter, a series per run."""
    keys: dict[tuple[str, str, str], None] = {}
    for run in data.runs:
        for row in run.rows:
            keys.setdefault((row.task, row.metric, row.filter), None)
    if not keys:
        return "<h2>Metrics</h2><p>No completed job has metrics yet.</p>"
    legend = "".join(
        f'<span><i class="swatch" style="background:{COLORS[i % len(COLORS)]}"></i>'
        f"{_e(run.name)}</span>"
        for i, run in enumerate(data.runs)
    )
    # Each run's rows by chart, grouped once (a scan of every row per chart was quadratic).
    grouped: list[dict[tuple[str, str, str], list[MetricRow]]] = []
    for run in data.runs:
        charts: dict[tuple[str, str, str], list[MetricRow]] = {}
        for r in run.rows:
            if r.value is not None:
                charts.setdefault((r.task, r.metric, r.filter), []).append(r)
        grouped.append(charts)
    cards = []
    for task, metric, filter_ in keys:
        series, captions = [], []
        for run, charts in zip(data.runs, grouped, strict=True):
            rows = charts.get((task, metric, filter_), [])
            points = [
                Point(
                    x=_x(r.labels, data.step_label, r.seq),
                    y=float(r.value or 0.0),
                    stderr=r.stderr if r.stderr is not None and math.isfinite(r.stderr) else None,
                    tip=f"{run.name} seq {r.seq} {r.key or ''} "
                    f"{data.step_label}={r.labels.get(data.step_label, '-')}: {_num(r.value)}",
                )
                for r in rows
            ]
            best = _best(points, rows)
            series.append(Series(name=run.name, points=points, best=best))
            if best is not None:
                top = rows[best]
                captions.append(
                    f"best in {_e(run.name)}: {_e(data.step_label)} "
                    f"{_e(top.labels.get(data.step_label, '-'))} = {_num(top.value)}"
                )
            elif rows:
                captions.append(f"{_e(run.name)}: direction unknown, no best marked")
        title = f"{task}: {metric} ({filter_})"
        cards.append(
            f'<div class="card" data-task="{_e(task)}" data-metric="{_e(metric)}">'
            f"<h3>{_e(title)}</h3>{chart(title, data.step_label, series)}"
            f'<div class="meta">{"<br>".join(captions)}</div></div>'
        )
    return (
        f'<h2 id="metrics">Metrics vs {_e(data.step_label)}</h2>'
        f'<div class="legend">{legend}</div><div class="charts">{"".join(cards)}</div>'
    )


def _duration(job: TrackedJob) -> str:
    seconds = None if job.info is None else run_seconds(job.info)
    return "-" if seconds is None else f"{seconds:.1f} s"


def _labels(labels: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in labels.items())


def jobs_section(run: RunData) -> str:
    """The jobs of one ledger: every attempt, its status, duration, metrics, why it failed."""
    by_seq: dict[int, list[MetricRow]] = defaultdict(list)
    for row in run.rows:
        by_seq[row.seq].append(row)
    lines = []
    for job in run.jobs:
        metrics = "<br>".join(
            f"{_e(r.task)} {_e(r.metric)}"
            + (f" ({_e(r.filter)})" if r.filter != NO_FILTER else "")  # gsm8k's two filters
            + f": {_num(r.value)}"
            + (f" ± {_num(r.stderr)}" if r.stderr is not None else "")
            for r in by_seq.get(job.seq, [])
        )
        why = _e(run.reasons.get(job.seq, ""))
        log = run.logs.get(job.seq)
        if log:
            why += f"<details><summary>log tail</summary><pre>{_e(log)}</pre></details>"
        lines.append(
            f'<tr data-seq="{job.seq}"><td class="num">{job.seq}</td><td>{_e(job.key or "-")}</td>'
            f"<td>{_e(_labels(job.labels))}</td><td>{_e(job.job_id or '-')}</td>"
            f'<td>{_e(job.server)}</td><td class="s-{_e(job.state)}">{_e(job.state)}</td>'
            f'<td class="num">{_duration(job)}</td><td>{metrics}</td><td>{why}</td></tr>'
        )
    return (
        f'<h3>{_e(run.name)} <span class="meta">({len(run.jobs)} jobs)</span></h3>'
        '<table class="jobs"><thead><tr><th>seq</th><th>key</th><th>labels</th>'
        "<th>job id</th><th>server</th><th>status</th><th>duration</th><th>metrics</th>"
        f"<th>reason</th></tr></thead><tbody>{''.join(lines)}</tbody></table>"
    )


def comparison_section(comparison: Comparison) -> str:
    """Two checkpoints: per task x metric the paired test, and the flipped samples."""
    # Names and doc_ids from the samples files, cut as the sample viewer cuts them: 200
    # flips of 64 MiB ids made a page of gigabytes.
    rows = "".join(
        f'<tr><td>{_cut(m.task)}</td><td>{_cut(m.metric)}</td><td class="num">{m.n}</td>'
        f'<td class="num">{_num(m.mean_a)}</td><td class="num">{_num(m.mean_b)}</td>'
        f'<td class="num">{_num(m.test.mean_diff)}</td>'
        f'<td class="num">[{_num(m.test.ci_lower)}, {_num(m.test.ci_upper)}]</td>'
        f'<td class="num">{_num(m.test.p_value)}</td></tr>'
        for m in comparison.metrics
    )
    flips = "".join(
        f"<tr><td>{_cut(f.task)}</td><td>{_cut(f.metric)}</td><td>{_cut(f.doc_id)}</td>"
        f'<td class="num">{_num(f.score_a)}</td><td class="num">{_num(f.score_b)}</td></tr>'
        for f in comparison.flips[:MAX_FLIPS]
    )
    more = len(comparison.flips) - MAX_FLIPS
    return (
        f'<h2 id="compare">Compare: a = {_e(comparison.a)}, b = {_e(comparison.b)}</h2>'
        "<p>Paired t-test of the per-sample scores (lmms-eval's <code>paired_ttest</code>), "
        "difference a - b, on the documents both scored.</p>"
        '<table class="comparison"><thead><tr><th>task</th><th>metric</th><th>n</th>'
        "<th>mean a</th><th>mean b</th><th>a - b</th><th>95% CI</th><th>p</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        f"<details open><summary>{len(comparison.flips)} samples flipped</summary>"
        + (f'<p class="note">the first {MAX_FLIPS} are listed</p>' if more > 0 else "")
        + '<table class="flips"><thead><tr><th>task</th><th>metric</th><th>doc_id</th>'
        f"<th>score a</th><th>score b</th></tr></thead><tbody>{flips}</tbody></table></details>"
    )


def _sample(text: str) -> str:
    """A sample's text as the page shows it: masked as a failed job's log tail is (the
    review: an ``api_key=sk-...`` a sample held was shown bare), then escaped."""
    return _e(redact_secrets(text))


def samples_section(samples: SampleData) -> str:
    """The sample viewer: the capped rows, paged by the page's script."""
    job = samples.job
    tasks = sorted({row.task for row in samples.rows})
    options = "".join(f'<option value="{_e(t)}">{_e(t)}</option>' for t in tasks)
    notes = [
        f"At most {samples.max_samples} samples a task are included (read from the start of "
        "each samples file, so the page stays small whatever their size)."
    ]
    if samples.capped:
        notes.append(f"Capped: {_e(', '.join(samples.capped))} have more samples than shown.")
    notes.extend(_e(problem) for problem in samples.problems)
    rows = "".join(
        f'<tr data-task="{_e(r.task)}"><td>{_e(r.task)}</td><td>{_sample(r.doc_id)}</td>'
        f"<td>{_sample(r.input)}</td><td>{_sample(r.target)}</td>"
        f"<td>{_sample(r.prediction)}</td><td>{_sample(r.score)}</td></tr>"
        for r in samples.rows
    )
    return (
        f'<h2 id="samples-of">Samples of {_e(job.key or "seq " + str(job.seq))} '
        f'<span class="meta">({_e(_labels(job.labels))}; job {_e(job.job_id or "-")})</span></h2>'
        + "".join(f'<p class="note">{note}</p>' for note in notes)
        + '<div class="pager"><label>task <select id="sample-task"><option value="">all</option>'
        f"{options}</select></label>"
        '<button id="sample-prev" type="button">previous</button>'
        '<span id="sample-page"></span><button id="sample-next" type="button">next</button></div>'
        '<table id="samples" class="samples"><thead><tr><th>task</th><th>doc_id</th>'
        "<th>input</th><th>target</th><th>prediction</th><th>score</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def render(data: ReportData, title: str | None = None) -> str:
    """The whole page."""
    names = ", ".join(run.name for run in data.runs)
    heading = title or f"Evaluation run report: {names}"
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    jobs = sum(len(run.jobs) for run in data.runs)
    body = [
        f"<h1>{_e(heading)}</h1>",
        f'<p class="meta">{len(data.runs)} run(s), {jobs} jobs; written {made} by '
        "lmms-eval-client. Ledgers: "
        + ", ".join(f"<code>{_e(run.path)}</code>" for run in data.runs)
        + "</p>",
        charts_section(data),
        '<h2 id="jobs">Jobs</h2>',
        *(jobs_section(run) for run in data.runs),
    ]
    if data.comparison is not None:
        body.append(comparison_section(data.comparison))
    if data.samples is not None:
        body.append(samples_section(data.samples))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(heading)}</title><style>{STYLE}</style></head><body>"
        + "".join(body)
        + f"<script>{SCRIPT}</script></body></html>\n"
    )
