"""Per-task sections of a results file whose entries become models when first read.

A results file of many tasks has a ``configs`` entry (and an ``n-samples`` entry) per task:
validating 60,000 task configs into models took longer than parsing the whole file, for
sections that most readers never look at. A :class:`TaskMap` checks at load that each
entry is a JSON object, and validates an entry into its model when it is read (then keeps
the model). It is a read-only ``Mapping`` of the models: ``results.configs["mme"]`` is a
``TaskConfig``, ``dict(results.configs)`` all of them; ``model_dump()`` writes the models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import NoneType
from typing import Annotated, Any, Generic, TypeVar, get_args

from pydantic import BaseModel, GetCoreSchemaHandler, JsonValue, TypeAdapter, ValidationError
from pydantic_core import core_schema

from .errors import ResultsFormatError

M = TypeVar("M", bound=BaseModel)


class TaskMap(Mapping[str, M], Generic[M]):
    """Task name -> model, each entry validated into its model on first read.

    An entry that is not what the model accepts raises :class:`ResultsFormatError` when it
    is read (the file's other entries stay readable).
    """

    __slots__ = ("_built", "_model", "_path", "_raw", "_section")

    def __init__(self, model: type[M], raw: Mapping[str, Any], section: str = "") -> None:
        self._model = model
        self._raw = raw
        self._built: dict[str, M] = {}
        self._section = section
        self._path: str | None = None  # the file, for errors (set by EvalResults)

    def __getitem__(self, task: str) -> M:
        built = self._built.get(task)
        if built is None:
            entry = self._raw[task]
            built = entry if isinstance(entry, self._model) else self._validate(task, entry)
            self._built[task] = built  # a benign race: threads build equal models
        return built

    def _validate(self, task: str, entry: Any) -> M:
        try:
            return self._model.model_validate(entry)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(part) for part in (self._section, task, *first["loc"]) if part)
            where = self._path or "<results JSON>"
            reason = f"not an lmms-eval results file: {loc}: {first['msg']}"
            raise ResultsFormatError(f"{where}: {reason}", path=where, reason=reason) from None

    def _entries(self) -> dict[str, M | dict[str, Any]]:
        """Each entry as its model, or as the file had it when the model refuses it."""
        entries: dict[str, M | dict[str, Any]] = {}
        for task in self._raw:
            try:
                entries[task] = self[task]
            except ResultsFormatError:
                entries[task] = self._raw[task]
        return entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, task: object) -> bool:
        return task in self._raw

    def __repr__(self) -> str:
        return repr(self._entries())  # (never an error: an entry refused is shown as read)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        theirs = other._entries() if isinstance(other, TaskMap) else dict(other.items())
        return self._entries() == theirs

    __hash__ = None  # type: ignore[assignment]  # equal to a dict: unhashable as one

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        model = get_args(source)[0]
        models = core_schema.dict_schema(core_schema.str_schema(), handler.generate_schema(model))
        # From Python (EvalResults.from_json parses first): an object per task, or a model
        # already, checked without copying it. From JSON text, and in JSON schemas: models.
        objects = core_schema.dict_schema(
            core_schema.str_schema(), _either(core_schema.is_instance_schema(model))
        )

        def wrap(raw: dict[str, Any], info: core_schema.ValidationInfo) -> TaskMap[Any]:
            return cls(model, raw, info.field_name or "")

        return core_schema.with_info_after_validator_function(
            wrap,
            core_schema.json_or_python_schema(json_schema=models, python_schema=objects),
            # An entry its model refuses is written as the file had it (what was read comes
            # out again; reading it as a model raises ResultsFormatError): not an error of
            # pydantic's from inside model_dump()
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda value: value._entries(),
                return_schema=core_schema.dict_schema(
                    core_schema.str_schema(),
                    core_schema.union_schema([handler.generate_schema(model), _RAW]),
                ),
            ),
        )


_RAW = core_schema.dict_schema(core_schema.str_schema(), core_schema.any_schema())


def _either(*others: core_schema.CoreSchema) -> core_schema.CoreSchema:
    """A JSON object (a dict, not copied), or one of ``others``."""
    return core_schema.union_schema(
        [core_schema.is_instance_schema(dict), *others],
        custom_error_type="dict_type",
    )


TRUSTED_JSON = {"lmms_eval_client.parsed_json": True}
"""The validation context of a document our JSON parser produced (EvalResults.from_json):
its keys are strings and its leaves JSON values, so ``JsonChecked`` fields skip the checks
that only other Python objects could fail."""


class JsonChecked:
    """``Annotated[T, JsonChecked(check)]``: in a TRUSTED_JSON validation, a value that
    ``check`` accepts (its shape, the types JSON could get wrong) is kept as it is, neither
    copied nor walked by pydantic; anything else is validated as ``T``, errors included.
    (pydantic's check of 60,000 tasks' entries, list by list, cost more than parsing.)"""

    def __init__(self, check: Callable[[Any], bool]) -> None:
        self.check = check

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        full = handler(source)
        adapter: list[TypeAdapter[Any]] = []  # built on first need, for values check refused

        def validate(value: Any, info: core_schema.ValidationInfo) -> Any:
            if info.context is TRUSTED_JSON and self.check(value):
                return value
            if not adapter:
                adapter.append(TypeAdapter(source))
            return adapter[0].validate_python(value, context=info.context)

        return core_schema.json_or_python_schema(
            json_schema=full,
            python_schema=core_schema.with_info_plain_validator_function(validate),
            serialization=full.get("serialization"),
        )


def objects_of(check_value: Callable[[Any], bool] | None = None) -> Callable[[Any], bool]:
    """A check of a dict of JSON objects (each of whose values ``check_value`` accepts)."""

    def check(value: Any) -> bool:
        if type(value) is not dict:
            return False
        for entry in value.values():
            if type(entry) is not dict:
                return False
            if check_value is not None and not all(map(check_value, entry.values())):
                return False
        return True

    return check


def values_are(*kinds: type) -> Callable[[Any], bool]:
    """A check of a dict whose values are exactly of these types (no bool for int)."""

    def check(value: Any) -> bool:
        return type(value) is dict and all(type(item) in kinds for item in value.values())

    return check


def lists_of_str(value: Any) -> bool:
    """A check of a dict of lists of strings."""
    if type(value) is not dict:
        return False
    for entry in value.values():
        if type(entry) is not list or not all(type(item) is str for item in entry):
            return False
    return True


def _flag(value: Any) -> bool:
    return value is None or type(value) is bool


# The field types of EvalResults that JsonChecked speeds up (type checkers see the dicts).
JsonObjects = Annotated[dict[str, dict[str, JsonValue]], JsonChecked(objects_of())]
Subtasks = Annotated[dict[str, list[str]], JsonChecked(lists_of_str)]
Versions = Annotated[
    dict[str, float | int | str | None], JsonChecked(values_are(float, int, str, NoneType))
]
Shots = Annotated[dict[str, int | str | None], JsonChecked(values_are(int, str, NoneType))]
Flags = Annotated[dict[str, dict[str, bool | None]], JsonChecked(objects_of(_flag))]
Hashes = Annotated[dict[str, str], JsonChecked(values_are(str))]
