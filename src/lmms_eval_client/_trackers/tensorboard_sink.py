"""TensorBoard: scalars in an event file of a log directory, at the training step.

Written with TensorBoard's own event file writer (no TensorFlow or PyTorch needed). Each
sink opens a new event file in ``log_dir`` (a resumed process adds one; TensorBoard reads
them all). Its files declare event format 2, under which TensorBoard keeps points that
arrive at a lower step than earlier ones instead of purging later ones as after a restart.
TensorBoard stores a scalar as a 32-bit float.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._checks import check_path
from .base import (
    DEFAULT_METRIC_NAME,
    DEFAULT_STEP_LABEL,
    MetricRowLike,
    TemplateSink,
    import_extra,
)


class TensorBoardSink(TemplateSink):
    """Write each completed job's metrics as TensorBoard scalars in ``log_dir``.

    View them with ``tensorboard --logdir <log_dir>``. Each write is flushed to disk
    before it returns (the run records it as written only then).

    Raises:
        MissingDependencyError: tensorboard is not installed (``pip install
            'lmms-eval-client[tensorboard]'``).
        InvalidArgumentError: ``log_dir`` is empty.

    Example:
        >>> from lmms_eval_client import TensorBoardSink
        >>> sink = TensorBoardSink("runs/evals")  # doctest: +SKIP
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        *,
        metric_name: str = DEFAULT_METRIC_NAME,
        step_label: str | None = DEFAULT_STEP_LABEL,
        stderr: bool = False,
    ) -> None:
        super().__init__(metric_name=metric_name, step_label=step_label, stderr=stderr)
        # ("" resolved to the working folder, which then got the event files)
        self.log_dir: Path = Path(check_path("log_dir", log_dir)).resolve()
        feature = "TensorBoardSink"
        self._writer_module: Any = import_extra(
            "tensorboard.summary.writer.event_file_writer",
            feature=feature,
            extra="tensorboard",
            package="tensorboard",
        )
        self._event_pb2: Any = import_extra(
            "tensorboard.compat.proto.event_pb2",
            feature=feature,
            extra="tensorboard",
            package="tensorboard",
        )
        self._summary_pb2: Any = import_extra(
            "tensorboard.compat.proto.summary_pb2",
            feature=feature,
            extra="tensorboard",
            package="tensorboard",
        )
        self._writer: Any = None  # the event file is made with the first write

    @property
    def name(self) -> str:
        """``tensorboard:<absolute log_dir>``.

        Example:
            >>> TensorBoardSink("/tmp/evals").name  # doctest: +SKIP
            'tensorboard:/tmp/evals'
        """
        return f"tensorboard:{self.log_dir}"

    def _write_values(
        self, values: dict[str, float], step: int, rows: Sequence[MetricRowLike]
    ) -> None:
        """Append the scalars to the event file and flush it."""
        if self._writer is None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._writer = self._writer_module.EventFileWriter(str(self.log_dir))
        summary = self._summary_pb2.Summary
        event = self._event_pb2.Event(
            wall_time=time.time(),
            step=step,
            summary=summary(
                value=[summary.Value(tag=tag, simple_value=v) for tag, v in values.items()]
            ),
        )
        try:
            self._writer.add_event(event)
            self._writer.flush()
        except BaseException:
            # A writer that failed (a full disk) fails every later write: the next one
            # opens a new event file (the values are written again from the ledger).
            writer, self._writer = self._writer, None
            with contextlib.suppress(Exception):
                writer.close()
            raise

    def close(self) -> None:
        """Flush and close the event file (a later write opens a new one).

        Example:
            >>> sink.close()  # doctest: +SKIP
        """
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __repr__(self) -> str:
        return f"<TensorBoardSink {str(self.log_dir)!r}>"
