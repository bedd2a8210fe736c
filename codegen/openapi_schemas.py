"""OpenAPI schemas for the contract comparison: ``$ref``s, unions, JSON types, enums.

Pure helpers of ``contract_diff.py`` (no I/O), down to the compatibility of one type set
or enum; see ``spec_check.py`` for the command.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Schema = dict[str, Any]
Direction = Literal["request", "response"]


@dataclass(frozen=True)
class Branch:
    """One alternative of a (possibly union) schema, with ``$ref``s resolved.

    ``name`` is the component name the branch was reached through, if any.
    """

    schema: Schema
    name: str | None


@dataclass
class Document:
    """An OpenAPI document whose local ``$ref``s can be resolved."""

    data: Schema
    label: str

    def resolve(self, node: Any) -> tuple[Any, str | None]:
        """Follow ``$ref`` chains of ``node``; return the target and its last component name."""
        name: str | None = None
        seen: set[str] = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/") or ref in seen:
                raise SystemExit(f"spec-check: cannot resolve $ref {ref!r} in {self.label}")
            seen.add(ref)
            target: Any = self.data
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    raise SystemExit(f"spec-check: dangling $ref {ref!r} in {self.label}")
                target = target[part]
            name = ref.rsplit("/", 1)[-1]
            node = target
        return node, name

    def branches(self, node: Any, name: str | None = None) -> list[Branch]:
        """Flatten ``node`` into its union alternatives (``anyOf``/``oneOf``), refs resolved."""
        node, ref_name = self.resolve(node)
        name = ref_name or name
        if not isinstance(node, dict):
            return [Branch({}, name)]
        node = self._merge_all_of(node)
        alternatives = node.get("anyOf") or node.get("oneOf")
        if isinstance(alternatives, list):
            result: list[Branch] = []
            for alternative in alternatives:
                result.extend(self.branches(alternative, name))
            return result
        return [Branch(node, name)]

    def _merge_all_of(self, node: Schema) -> Schema:
        """Inline ``allOf`` members into ``node`` (enough for pydantic's single-ref wrappers)."""
        members = node.get("allOf")
        if not isinstance(members, list):
            return node
        merged: Schema = {key: value for key, value in node.items() if key != "allOf"}
        for member in members:
            resolved, _ = self.resolve(member)
            if not isinstance(resolved, dict):
                continue
            for key, value in self._merge_all_of(resolved).items():
                if key == "properties" and isinstance(merged.get(key), dict):
                    merged[key] = {**merged[key], **value}
                elif key == "required" and isinstance(merged.get(key), list):
                    merged[key] = [*merged[key], *value]
                else:
                    merged.setdefault(key, value)
        return merged


def json_types(schema: Schema) -> set[str] | None:
    """The JSON types a single (non-union) schema allows, or None when it allows any."""
    declared = schema.get("type")
    types: set[str]
    if isinstance(declared, str):
        types = {declared}
    elif isinstance(declared, list):
        types = {str(item) for item in declared}
    elif "const" in schema:
        types = {value_type(schema["const"])}
    elif isinstance(schema.get("enum"), list):
        types = {value_type(value) for value in schema["enum"]}
    elif any(key in schema for key in ("properties", "additionalProperties", "required")):
        types = {"object"}
    elif "items" in schema or "prefixItems" in schema:
        types = {"array"}
    else:
        return None
    if schema.get("nullable") is True:  # OpenAPI 3.0 spelling
        types.add("null")
    return types


def union_types(branches: Iterable[Branch]) -> set[str] | None:
    """The JSON types a union allows, or None when any alternative allows any."""
    result: set[str] = set()
    for branch in branches:
        types = json_types(branch.schema)
        if types is None:
            return None
        result |= types
    return result


def value_type(value: Any) -> str:
    """The JSON type of a Python value loaded from JSON/YAML."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def type_covered(json_type: str, types: set[str]) -> bool:
    """Whether a value of ``json_type`` is accepted by a schema allowing ``types``."""
    return json_type in types or (json_type == "integer" and "number" in types)


def describe_types(types: set[str] | None) -> str:
    """Render a type set for messages, e.g. ``integer | null`` or ``any``."""
    if types is None:
        return "any"
    order = ["object", "array", "string", "integer", "number", "boolean", "null"]
    return " | ".join(sorted(types, key=lambda t: (order.index(t) if t in order else 99, t)))


def enum_values(branches: Iterable[Branch]) -> tuple[list[Any], bool]:
    """The enum/const values of a union, and whether some alternative is not an enum.

    Only alternatives that could hold an enum's values count as free (not an enum): a
    string enum made nullable stays an enum.
    """
    values: list[Any] = []
    free = False
    for branch in branches:
        schema = branch.schema
        if "const" in schema:
            values.append(schema["const"])
        elif isinstance(schema.get("enum"), list):
            values.extend(schema["enum"])
        elif json_types(schema) != {"null"}:
            free = True
    return values, free


def type_differences(
    live_types: set[str],
    our_types: set[str] | None,
    direction: Direction,
    what: str,
    label: str,
    ours_label: str,
) -> list[str]:
    """Type-set compatibility of one field or root schema (``what`` is field or schema)."""
    if our_types is None:
        if direction == "request":
            live_desc = describe_types(live_types)
            return [f"{what} {label} is untyped in {ours_label}, live {live_desc}"]
        return []
    missing = {t for t in live_types if not type_covered(t, our_types)}
    extra: set[str] = set()
    if direction == "request":
        extra = {
            t
            for t in our_types
            if not type_covered(t, live_types) and not (t == "number" and "integer" in live_types)
        }
    if not missing and not extra:
        return []
    details = []
    if "null" in missing:
        details.append(f"not nullable in {ours_label}")
    if missing - {"null"}:
        details.append(f"{describe_types(missing - {'null'})} missing in {ours_label}")
    if extra:
        details.append(f"{describe_types(extra)} not accepted live")
    return [
        f"{what} {label} has type {describe_types(our_types)} in {ours_label}, "
        f"live {describe_types(live_types)} ({'; '.join(details)})"
    ]


def enum_differences(
    live_branches: list[Branch],
    our_branches: list[Branch],
    direction: Direction,
    label: str,
    ours_label: str,
) -> list[str]:
    """Every live enum value must be in ours; requests may not add values."""
    live_values, live_free = enum_values(live_branches)
    if not live_values:
        return []
    owner = next(
        (b.name for b in live_branches if b.name and ("enum" in b.schema or "const" in b.schema)),
        label,
    )
    our_values, our_free = enum_values(our_branches)
    problems: list[str] = []
    if not our_free:
        problems.extend(
            f"enum {owner} value {value!r} missing from {ours_label}"
            for value in live_values
            if value not in our_values
        )
    if direction == "request" and not live_free:
        problems.extend(
            f"enum {owner} value {value!r} in {ours_label} is not accepted live"
            for value in our_values
            if value not in live_values
        )
        if our_free:
            problems.append(f"enum {owner} is not restricted to its live values in {ours_label}")
    return problems
