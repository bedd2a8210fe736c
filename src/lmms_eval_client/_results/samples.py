"""Per-document samples: ``<timestamp>_samples_<task>.jsonl``, one JSON object a line.

Streamed line by line, so a samples file of any size is read in constant memory; a line
is read in bounded chunks up to ``max_line_bytes``, never by an unbounded ``readline()``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterator
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError
from pydantic_core import from_json

from .bounded import DEFAULT_MAX_LINE_BYTES, LimitExceeded, bounded_lines, check_limit
from .errors import ResultsFormatError, check_metric_names
from .file_access import FileLocation, FileSystem, client_location
from .jsonparse import TooDeep, parse_line
from .metrics import _new, _set_attribute, as_number

# The keys lmms-eval 0.7.3 writes for every sample; the rest are per-sample metric values.
# (doc and arguments: older versions; input_media: multimodal tasks.)
SAMPLE_KEYS = frozenset(
    {
        "doc_id",
        "target",
        "resps",
        "filtered_resps",
        "token_counts",
        "doc_hash",
        "input",
        "input_media",
        "doc",
        "arguments",
    }
)


class TokenCount(BaseModel):
    """Token counts of one request of a sample (API models report them).

    >>> sample.token_counts[0].input_tokens
    12
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(extra="allow")

    input_tokens: int | None = Field(default=None, description="Prompt tokens.")
    output_tokens: int | None = Field(default=None, description="Generated tokens.")
    reasoning_tokens: int | None = Field(default=None, description="Reasoning tokens.")


class Sample(BaseModel):
    """One evaluated document of a task: what the model was asked, answered, and scored.

    Keys this model does not know are kept (``model_extra``). ``metrics`` holds the
    per-sample metric values, e.g. ``{"exact_match": 1.0}`` (for some tasks a dict that
    the task's aggregation consumes).

    >>> for sample in iter_samples("20261202_055237_samples_e2e_arith.jsonl"):
    ...     print(sample.doc_id, sample.target, sample.filtered_resps, sample.metrics)
    0 5 5 {'exact_match': 1.0}
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(extra="allow")

    doc_id: int | str | None = Field(default=None, description="The document's index.")
    target: JsonValue = Field(default=None, description="The expected answer (as text).")
    filtered_resps: JsonValue = Field(
        default=None,
        description="The model's answer after the task's filters (one request: the answer "
        "itself; several, e.g. multiple choice: a list).",
    )
    resps: JsonValue = Field(
        default=None,
        description="The raw answer, when it differs from `filtered_resps` (else absent).",
    )
    input: JsonValue = Field(default=None, description="The prompt sent to the model.")
    token_counts: list[TokenCount | None] = Field(
        default_factory=list, description="Token counts per request (None where unknown)."
    )
    doc_hash: str | None = Field(default=None, description="A hash of the document.")
    input_media: JsonValue = Field(
        default=None, description="References to the images/audio/video of the input."
    )
    doc: JsonValue = Field(default=None, description="The document (older lmms-eval only).")
    arguments: JsonValue = Field(
        default=None, description="The request arguments (older lmms-eval only)."
    )
    metrics: dict[str, JsonValue] = Field(
        default_factory=dict,
        description='Per-sample metric values by metric name, e.g. `{"exact_match": 1.0}`.',
    )

    @classmethod
    def from_record(
        cls, record: dict[str, Any], *, metric_names: Collection[str] | None = None
    ) -> Sample:
        """A sample from one decoded line of a samples file.

        Keys lmms-eval writes for every sample become fields. The others are the task's
        metric values and go to ``metrics``; with ``metric_names``, only those names do
        and other unknown keys stay in ``model_extra``. ``metric_names`` that is not a
        collection of str (a str is refused: it would be read as its letters) raises
        :class:`InvalidArgumentError`.
        """
        return cls.model_validate(_split(record, check_metric_names(metric_names)))

    @classmethod
    def _from_json(cls, record: dict[str, Any], metric_keys: frozenset[str] | None) -> Sample:
        """``from_record`` for a record a JSON parser made: its JSON values need no check,
        so when the typed fields have their types already, the sample is built without
        validation (pydantic's check of every value was most of a streamed line's cost);
        anything else is validated as ``from_record`` does, errors included.
        ``metric_keys``: the metric names and "metrics" (``_metric_keys``), or None. Takes
        ``record`` over: its metric values are moved out of it.

        Run once per line of files of millions of lines: one pass, written for speed.
        """
        # The record is this reader's own (just parsed): its keys that are not fields are
        # moved out of it, then it is laid over the defaults (field order kept), in C.
        others = record.keys() - SAMPLE_KEYS
        metrics: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        if others:
            for key in (k for k in list(record) if k in others) if len(others) > 1 else others:
                if metric_keys is None or key in metric_keys:
                    metrics[key] = record.pop(key)
                else:
                    extra[key] = record.pop(key)
        values = {**_DEFAULTS, **record}
        values["metrics"] = metrics
        doc_id, doc_hash, counts = values["doc_id"], values["doc_hash"], values["token_counts"]
        if (
            (doc_id is None or type(doc_id) is int or type(doc_id) is str)
            and (doc_hash is None or type(doc_hash) is str)
            and (built := _token_counts(counts)) is not None
        ):
            values["token_counts"] = built
            given = set(record)
            given.add("metrics")
            given.update(extra)  # extra keys count as set, as in pydantic
            sample = _new(cls)  # trusted(), inlined
            _set_attribute(sample, "__dict__", values)
            _set_attribute(sample, "__pydantic_fields_set__", given)
            _set_attribute(sample, "__pydantic_extra__", extra)
            _set_attribute(sample, "__pydantic_private__", None)
            return sample
        return cls.model_validate({**record, **extra, "metrics": metrics})

    def score(self, metric: str) -> float | None:
        """The value of a per-sample metric as a number (None when absent or not a number).

        >>> sample.score("exact_match")
        1.0
        """
        return as_number(self.metrics.get(metric))

    def _token_sum(self, name: str) -> int | None:
        counts = [getattr(c, name) for c in self.token_counts if c is not None]
        known = [n for n in counts if n is not None]
        return sum(known) if known else None

    @property
    def input_tokens(self) -> int | None:
        """Prompt tokens over all requests of this sample (None when unknown)."""
        return self._token_sum("input_tokens")

    @property
    def output_tokens(self) -> int | None:
        """Generated tokens over all requests of this sample (None when unknown)."""
        return self._token_sum("output_tokens")


# Every field, in order, with its default (None for token_counts and metrics: set apart).
_DEFAULTS: dict[str, Any] = {
    name: None if info.default_factory else info.default
    for name, info in Sample.model_fields.items()
}
_COUNT_DEFAULTS: dict[str, Any] = dict.fromkeys(TokenCount.model_fields)  # in order
_COUNT_SIZE = len(_COUNT_DEFAULTS)
assert _COUNT_SIZE == 3  # _token_counts checks three counts


def _metric_keys(metric_names: Collection[str] | None) -> frozenset[str] | None:
    """The keys of a record that go to ``metrics``: the names, and "metrics" itself."""
    return None if metric_names is None else frozenset(metric_names) | {"metrics"}


def _split(record: dict[str, Any], metric_names: Collection[str] | None) -> dict[str, Any]:
    """The fields of a sample: known keys as they are, metric values under ``metrics``."""
    fields: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    for key, value in record.items():
        if key in SAMPLE_KEYS:
            fields[key] = value
        elif metric_names is None or key in metric_names or key == "metrics":
            metrics[key] = value
        else:
            fields[key] = value
    fields["metrics"] = metrics
    return fields


def _token_counts(counts: object) -> list[TokenCount | None] | None:
    """TokenCounts of a JSON list of objects with int counts, none unknown; None (to
    validate the sample instead) for anything else."""
    if counts is None:
        return []
    if type(counts) is not list:
        return None
    built: list[TokenCount | None] = []
    for count in counts:
        if count is None:
            built.append(None)
            continue
        if type(count) is not dict:
            return None
        fields = {**_COUNT_DEFAULTS, **count}
        if len(fields) != _COUNT_SIZE:  # a key TokenCount does not know: validate
            return None
        a, b, c = fields.values()  # every count an int or None, else validate
        if not (
            (a is None or type(a) is int)
            and (b is None or type(b) is int)
            and (c is None or type(c) is int)
        ):
            return None
        model = _new(TokenCount)  # trusted(), inlined: once or more per line
        _set_attribute(model, "__dict__", fields)
        _set_attribute(model, "__pydantic_fields_set__", set(count))
        _set_attribute(model, "__pydantic_extra__", {})
        _set_attribute(model, "__pydantic_private__", None)
        built.append(model)
    return built


_TOO_DEEP = "JSON nested too deeply to read"
_CUT = " (a truncated last line means the file is still being written or was cut)"


def _reason(exc: ValueError | RecursionError) -> str:
    if isinstance(exc, (RecursionError, TooDeep)):  # json's decoder recurses once per level
        return _TOO_DEEP
    if isinstance(exc, json.JSONDecodeError):
        # ("Unterminated string starting at": the column is where, said once)
        return f"not JSON ({exc.msg.removesuffix(' at')} at column {exc.colno})"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    return f"not JSON ({exc})"


def _invalid_sample(exc: ValidationError | RecursionError) -> str:
    if isinstance(exc, RecursionError):
        return _TOO_DEEP
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    if first["type"] == "recursion_depth_exceeded":  # its loc is one step a level
        return f"{field}: {_TOO_DEEP}"
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"


def _read(
    location: FileLocation, metric_names: Collection[str] | None, max_line_bytes: int
) -> Iterator[Sample]:
    where = location.display
    metric_keys = _metric_keys(metric_names)
    with location.open_binary() as handle:
        lines = bounded_lines(handle, max_line_bytes)
        number = 0
        while True:
            try:
                line = next(lines, None)
            except LimitExceeded:
                raise location.too_large(max_line_bytes, line=number + 1) from None
            except MemoryError:  # not a reachability problem: say what it is
                raise
            except Exception as exc:  # a remote filesystem that broke mid-file
                raise location.not_reachable(
                    f"reading failed after line {number}: {type(exc).__name__}: {exc}"
                ) from exc
            if line is None:
                return
            number += 1
            if not line or line.isspace():
                continue
            try:
                try:  # parse_line's first step, inlined: a line that parses costs one call
                    record = from_json(line)
                except ValueError:
                    record = parse_line(line)
            except (ValueError, RecursionError) as exc:
                reason = _reason(exc)
                cut = "" if reason == _TOO_DEEP else _CUT
                raise ResultsFormatError(
                    f"{where}, line {number}: {reason}; a samples file has one JSON object "
                    f"a line{cut}",
                    path=where,
                    line=number,
                    reason=reason,
                ) from None
            if not isinstance(record, dict):
                reason = f"a JSON {type(record).__name__}, not an object"
                raise ResultsFormatError(
                    f"{where}, line {number}: {reason}; is this an lmms-eval samples file?",
                    path=where,
                    line=number,
                    reason=reason,
                )
            try:
                sample = Sample._from_json(record, metric_keys)
            except (ValidationError, RecursionError) as exc:
                reason = _invalid_sample(exc)
                raise ResultsFormatError(
                    f"{where}, line {number}: not an lmms-eval sample ({reason})",
                    path=where,
                    line=number,
                    reason=reason,
                ) from None
            yield sample


def iter_location(
    location: FileLocation,
    *,
    metric_names: Collection[str] | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[Sample]:
    """The samples of the file at ``location``, streamed (checks it is there first)."""
    limit = check_limit("max_line_bytes", max_line_bytes)
    missing = location.missing()  # first: a host that hangs is waited for once
    if missing is not None:
        raise location.not_reachable(missing)
    if location.is_dir():
        raise ResultsFormatError(
            f"{location.display} is a directory, not a samples file",
            path=location.display,
            reason="a directory",
        )
    return _read(location, metric_names, limit)


def iter_samples(
    path: str | os.PathLike[str],
    *,
    filesystem: FileSystem | None = None,
    metric_names: Collection[str] | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[Sample]:
    """Stream the samples of an lmms-eval samples file, one :class:`Sample` a line.

    Reads one line at a time: memory stays constant whatever the file's size, and a line
    longer than ``max_line_bytes`` (64 MiB) raises :class:`ResultsTooLargeError` when the
    iteration reaches it, before it is held whole. ``path`` is a
    local path, an fsspec URL (``sftp://host/...``, needs the ``fsspec`` extra) or a path
    on ``filesystem``. A missing file raises :class:`ResultsNotReachableError` at once; a
    line that is not a JSON object raises :class:`ResultsFormatError` naming the file and
    the line when the iteration reaches it. ``metric_names`` tells which unknown keys are
    metrics (default: all of them): a collection of str, else (a str included)
    :class:`InvalidArgumentError`, raised before anything is read.

    >>> from collections import Counter
    >>> Counter(s.metrics["exact_match"] for s in iter_samples(path))
    Counter({1.0: 4, 0.0: 1})
    """
    names = check_metric_names(metric_names)
    location = client_location(path, filesystem)
    return iter_location(location, metric_names=names, max_line_bytes=max_line_bytes)
