"""Shared types of the generated client: the pydantic base of every model, Unset, Response."""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, MutableMapping, ValuesView
from dataclasses import dataclass
from http import HTTPStatus
from typing import IO, Any, BinaryIO, Generic, Literal, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict
from typing_extensions import Self


class Unset:
    def __bool__(self) -> Literal[False]:
        return False


UNSET: Unset = Unset()

# The types that `httpx.Client(files=)` can accept, copied from that library.
FileContent = IO[bytes] | bytes | str
FileTypes = (
    # (filename, file (or bytes), content_type)
    tuple[str | None, FileContent, str | None]
    # (filename, file (or bytes), content_type, headers)
    | tuple[str | None, FileContent, str | None, Mapping[str, str]]
)
RequestFiles = list[tuple[str, FileTypes]]


class ApiModel(BaseModel):
    """Base of every generated model.

    - Forward compatible: fields the contract does not know yet are kept (``extra="allow"``),
      readable as attributes, by key and in ``model_dump()``.
    - ``to_dict()`` sends only the fields that were set, so a request body carries exactly
      what the caller gave and the server applies its own defaults for the rest.
    - A read-only ``Mapping`` (``isinstance(job, collections.abc.Mapping)`` is True), keyed by
      wire names: ``job["job_id"]``, ``job.get("error")``, ``"result" in job``, ``len(job)``,
      iteration over the keys, and ``keys()`` / ``values()`` / ``items()`` as the views a
      dict gives (``job.keys() & {"error"}`` works), so code written for dict-returning
      clients keeps working. Values are as typed (a nested model stays a model):
      ``json.dumps`` needs ``to_dict()`` or ``default=lmms_eval_client.json_default``.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        protected_namespaces=(),
    )

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        """Validate a decoded JSON object into this model (raises pydantic.ValidationError)."""
        return cls.model_validate(src_dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict of the fields that were set, under their wire names."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    @classmethod
    def _field_name(cls, key: str) -> str | None:
        fields = cls.model_fields
        if key in fields:
            return key
        for name, info in fields.items():
            if info.alias == key:
                return name
        return None

    def __getitem__(self, key: str) -> Any:
        name = self._field_name(key)
        if name is not None:
            return getattr(self, name)
        extra = self.__pydantic_extra__
        if extra is not None and key in extra:
            return extra[key]
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        extra = self.__pydantic_extra__
        return self._field_name(key) is not None or (extra is not None and key in extra)

    def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key`` (wire or field name), or ``default`` when there is none."""
        try:
            return self[key]
        except KeyError:
            return default

    def _keys(self) -> list[str]:
        names = [info.alias or name for name, info in type(self).model_fields.items()]
        return names + list(self.__pydantic_extra__ or {})

    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        # A Mapping's keys, not pydantic's (name, value) pairs: dict(model) is unchanged
        # (it reads keys() and model[key]), and `for k in model: model[k]` works.
        return iter(self._keys())

    def keys(self) -> KeysView[str]:
        """The wire names of the declared fields and of any extra fields the server sent."""
        return KeysView(self)

    def values(self) -> ValuesView[Any]:
        """The values of keys(), in the same order."""
        return ValuesView(self)

    def items(self) -> ItemsView[str, Any]:
        """(key, value) pairs of keys(), as a dict's items()."""
        return ItemsView(self)

    def __len__(self) -> int:
        return len(self._keys())


# Registered, not inherited: Mapping's __eq__ would make a model equal to a dict, and its
# metaclass would clash with pydantic's.
Mapping.register(ApiModel)


@dataclass
class File:
    """Contains information for file uploads"""

    payload: BinaryIO
    file_name: str | None = None
    mime_type: str | None = None

    def to_tuple(self) -> FileTypes:
        """Return a tuple representation that httpx will accept for multipart/form-data"""
        return self.file_name, self.payload, self.mime_type


T = TypeVar("T")


@dataclass
class Response(Generic[T]):
    """A response from an endpoint; ``http_response`` is the httpx response it came from"""

    status_code: HTTPStatus | int
    content: bytes
    headers: MutableMapping[str, str]
    parsed: T | None
    http_response: httpx.Response


__all__ = ["UNSET", "ApiModel", "File", "FileTypes", "RequestFiles", "Response", "Unset"]
