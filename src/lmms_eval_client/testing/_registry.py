"""The pinned lmms-eval's task and model registries, as shipped in ``registry.json``.

``registry.json`` is written by ``codegen/build_registry.py`` from the installed lmms-eval
package (``make registry``; ``make check-registry`` fails when it is stale): never edit it.
"""

from __future__ import annotations

import fnmatch
import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

TaskKind = Literal["group", "subtask", "tag", "python_task"]
REGISTRY_FILE = "registry.json"
# What makes a name a pattern for fnmatch (lmms-eval itself spares only "*" names from
# its "Tasks not found" check).
_PATTERN_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class GroupSpec:
    """A group as its YAML defines it: its members in order, and how it aggregates."""

    name: str
    alias: str | None
    aggregate: bool
    weight_by_size: bool
    version: float | int | str | None
    members: tuple[str | GroupSpec, ...]  # a name, or a group defined inline

    @classmethod
    def from_data(cls, name: str, data: Mapping[str, Any]) -> GroupSpec:
        members: list[str | GroupSpec] = [
            m if isinstance(m, str) else cls.from_data(str(m["group"]), m) for m in data["task"]
        ]
        return cls(
            name=name,
            alias=data.get("alias"),
            aggregate=bool(data.get("aggregate")),
            weight_by_size=bool(data.get("weight_by_size")),
            version=data.get("version"),
            members=tuple(members),
        )


@dataclass(frozen=True)
class ModelBackend:
    """The class lmms-eval runs for a model name, and what it records."""

    class_path: str
    type: str  # "chat" or "simple"
    records_usage: bool  # API backends: token usage in the results' ``usage``
    logs_throughput: bool  # the results' ``throughput``


@dataclass(frozen=True)
class Registry:
    """Every task name (with its kind), group, tag and model of one lmms-eval version."""

    lmms_eval_version: str
    kinds: Mapping[str, TaskKind]
    groups: Mapping[str, GroupSpec]
    tags: Mapping[str, tuple[str, ...]]
    models: tuple[str, ...]
    model_aliases: Mapping[str, str]
    backends: Mapping[str, ModelBackend]

    @property
    def task_names(self) -> tuple[str, ...]:
        """Every task name, sorted: what the real ``GET /tasks`` lists."""
        return tuple(self.kinds)

    def names_of_kind(self, kind: TaskKind) -> tuple[str, ...]:
        """The sorted names of one kind."""
        return tuple(name for name, known in self.kinds.items() if known == kind)

    def model_id(self, name: str) -> str | None:
        """The model id a name (an id or an alias) stands for; None when unknown."""
        if name in self.backends:
            return name
        return self.model_aliases.get(name)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Registry:
        """A registry from the parsed ``registry.json``."""
        return cls(
            lmms_eval_version=str(data["lmms_eval_version"]),
            kinds=dict(sorted(data["kinds"].items())),
            groups={name: GroupSpec.from_data(name, g) for name, g in data["groups"].items()},
            tags={name: tuple(members) for name, members in data["tags"].items()},
            models=tuple(sorted(data["models"])),
            model_aliases=dict(data["model_aliases"]),
            backends={
                name: ModelBackend(b["class"], b["type"], b["usage"], b["throughput"])
                for name, b in data["backends"].items()
            },
        )


@functools.cache
def lmms_eval_registry() -> Registry:
    """The registry of the pinned lmms-eval (read once, on first use)."""
    text = resources.files(__package__).joinpath(REGISTRY_FILE).read_text(encoding="utf-8")
    return Registry.from_data(json.loads(text))


def is_pattern(name: str) -> bool:
    """Whether ``name`` is an fnmatch pattern rather than a plain name."""
    return not _PATTERN_CHARS.isdisjoint(name)


def match_names(patterns: Iterable[str], names: Sequence[str]) -> list[str]:
    """The names matching any of the patterns, sorted, as lmms-eval's task matching.

    A plain name matches itself only; matching is case-sensitive (fnmatch on POSIX).
    """
    found: set[str] = set()
    for pattern in patterns:
        found.update(name for name in names if fnmatch.fnmatchcase(name, pattern))
    return sorted(found)


def resolve_offered(kind: str, wanted: Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    """The names a server offers: plain names as given, patterns as their matches in ``known``.

    Raises:
        ValueError: A pattern matches nothing.
    """
    offered: dict[str, None] = {}
    for name in wanted:
        if not is_pattern(name):
            offered[name] = None
            continue
        matches = match_names([name], known)
        if not matches:
            raise ValueError(
                f"{kind} pattern {name!r} matches none of the {len(known)} {kind} of lmms-eval "
                f"{lmms_eval_registry().lmms_eval_version}"
            )
        offered.update(dict.fromkeys(matches))
    return tuple(offered)
