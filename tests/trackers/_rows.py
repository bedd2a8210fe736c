"""Metric rows as a run's ``MetricRow`` carries them (the fields sinks read), for tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Row:
    seq: int
    task: str
    metric: str
    value: float | None
    labels: dict[str, Any] = field(default_factory=dict)
    filter: str = "none"
    stderr: float | None = None
    model: str | None = "qwen2_vl"
    key: str | None = None


def job(seq: int, step: int | None, **values: float) -> list[Row]:
    """One job's rows: ``mme__acc=0.5`` is task mme, metric acc; labelled with its step."""
    labels: dict[str, Any] = {} if step is None else {"step": step}
    rows = []
    for name, value in values.items():
        task, metric = name.split("__")
        rows.append(Row(seq=seq, task=task, metric=metric, value=value, labels=labels))
    return rows


def scalars(log_dir: Path, tag: str) -> list[tuple[int, float]]:
    """A TensorBoard tag's points as (step, value), read back with TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    points = [(e.step, round(e.value, 6)) for e in events.Scalars(tag)]  # (32-bit floats)
    print(f"tensorboard read-back {tag}: {points}")
    return points
