"""Read what an offline W&B run wrote: its ``run-<id>.wandb`` file, record by record.

wandb 0.31 ships no Python reader of it (its core is in Go), so this reads the file's
framing (LevelDB's log format under a ``:W&B`` header, as wandb's old ``datastore.py``
documented it) and decodes each record with wandb's own protobuf schema.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_BLOCK = 32768
_HEADER = 7  # checksum (4), length (2), type (1)
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def _chunks(data: bytes) -> Iterator[bytes]:
    ident, magic, _version = struct.unpack("<4sHB", data[:7])
    assert (ident, magic) == (b":W&B", 0xBEE1), "not a W&B run file"
    pos, pending = 7, b""
    while pos + _HEADER <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _HEADER:  # a block's tail too short for a header is padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + _HEADER])
        chunk = data[pos + _HEADER : pos + _HEADER + length]
        pos += _HEADER + length
        if kind == _FULL:
            yield chunk
        elif kind == _FIRST:
            pending = chunk
        elif kind == _MIDDLE:
            pending += chunk
        elif kind == _LAST:
            yield pending + chunk
            pending = b""


def history(run_file: Path) -> list[dict[str, Any]]:
    """The history rows (``run.log`` commits) of a run file, in the order written."""
    from wandb.proto import wandb_internal_pb2  # ~2 s: when read, not at collection

    rows = []
    for chunk in _chunks(run_file.read_bytes()):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(chunk)
        if record.WhichOneof("record_type") == "history":
            rows.append(
                {
                    (item.key or "/".join(item.nested_key)): json.loads(item.value_json)
                    for item in record.history.item
                }
            )
    return rows


def points(folder: Path, metric: str, step_metric: str) -> list[tuple[Any, Any]]:
    """(step metric, value) of every history row holding ``metric``, over every run file
    under ``folder`` (a resumed offline run writes a second one), in the order written.
    Call it after ``wandb.teardown()``: W&B's service process writes the files, and has
    closed them only once it has stopped."""
    # (not latest-run/: a link to the last run's folder)
    files = sorted(folder.glob("wandb/offline-run-*/run-*.wandb"), key=lambda p: p.parent.name)
    found = [
        (row.get(step_metric), row[metric])
        for run_file in files
        for row in history(run_file)
        if metric in row
    ]
    print(f"wandb read-back {metric} against {step_metric}: {found}")
    return found


def names(folder: Path) -> set[str]:
    """Every name logged in the history of the run files under ``folder`` (as ``points``)."""
    files = folder.glob("wandb/offline-run-*/run-*.wandb")
    return {name for run_file in files for row in history(run_file) for name in row}
