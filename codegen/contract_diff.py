"""Compare two OpenAPI documents: where ours fails to cover the live one, one line each.

Everything the live server declares must be present in ours and typed compatibly:

* every operation (path + method);
* every parameter (by name and ``in``): present, compatible schema, same required-ness;
* every request body: present, same required-ness, every field present with a compatible
  type and the same required-ness;
* every 2xx/4xx response: present (a live 422 only matters on operations with a request
  body, since FastAPI also lists it for plain ``str`` path parameters, which never fail
  validation); when its live schema is not the untyped ``{}``, every field present in
  ours with a compatible type;
* every enum value.

What the client sends is checked the other way too: an operation, parameter, request body
or request field that ours declares and the live server does not is a difference (FastAPI
answers 404/405 for the first, and pydantic silently drops an unknown body field, so the
server would never see it), unless the live object accepts additional properties.

Schemas are compared recursively through ``$ref`` (each resolved within its own
document), ``anyOf``/``oneOf`` unions, object properties, ``additionalProperties`` and
array items. Compatibility depends on the direction data flows:

* responses (server -> client): ours must accept everything the server may send, so every
  live JSON type must appear in ours (``integer`` is also covered by ``number``);
* requests and parameters (client -> server): additionally, ours must not let the client
  send what the server rejects (a type, ``null`` or enum value the live schema lacks).

A live schema without any type (``{}``, pydantic's ``Any``) accepts whatever ours says.
Response fields and responses that ours adds beyond the live export are allowed: they
document what the server really does. Titles, descriptions, operationIds, tags,
summaries, examples, defaults and ``x-`` extensions are ignored.

``compare_contracts`` is the pure entry point; ``spec_check.py`` is the command around it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openapi_schemas import (
    Direction,
    Document,
    Schema,
    enum_differences,
    json_types,
    type_differences,
    union_types,
)

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
STRUCTURAL_TYPES = ("object", "array")


@dataclass
class Checker:
    """Compares the live document with ours and collects the differences."""

    live: Document
    ours: Document
    problems: list[str] = field(default_factory=list)
    fields_checked: set[str] = field(default_factory=set)
    operations_checked: int = 0

    # -- operations -----------------------------------------------------------------

    def run(self) -> None:
        """Check every live operation."""
        live_paths: Schema = self.live.data.get("paths") or {}
        our_paths: Schema = self.ours.data.get("paths") or {}
        for path, live_item in live_paths.items():
            live_item, _ = self.live.resolve(live_item)
            our_item, _ = self.ours.resolve(our_paths.get(path) or {})
            for method in HTTP_METHODS:
                if method not in live_item:
                    continue
                self.operations_checked += 1
                op = f"{method.upper()} {path}"
                our_op = our_item.get(method)
                if not isinstance(our_op, dict):
                    self.report(op, f"operation missing from {self.ours.label}")
                    continue
                live_params = [
                    *live_item.get("parameters", []),
                    *live_item[method].get("parameters", []),
                ]
                our_params = [*our_item.get("parameters", []), *our_op.get("parameters", [])]
                self.check_parameters(op, live_params, our_params)
                self.check_request_body(op, live_item[method], our_op)
                self.check_responses(op, live_item[method], our_op)
        for path, our_item in our_paths.items():
            our_item, _ = self.ours.resolve(our_item)
            live_item, _ = self.live.resolve(live_paths.get(path) or {})
            for method in HTTP_METHODS:
                if method in our_item and method not in live_item:
                    op = f"{method.upper()} {path}"
                    self.report(op, f"operation in {self.ours.label} is not served live")

    def report(self, op: str, message: str) -> None:
        """Record one difference, once."""
        line = f"{op}: {message}"
        if line not in self.problems:
            self.problems.append(line)

    def check_parameters(self, op: str, live_params: list[Any], our_params: list[Any]) -> None:
        """Every live parameter must be in ours, equally required, compatibly typed; and
        every parameter of ours must be one the live server reads."""
        ours_by_key: dict[tuple[str, str], Schema] = {}
        for raw in our_params:
            param, _ = self.ours.resolve(raw)
            ours_by_key[(param.get("name"), param.get("in"))] = param
        live_keys: set[tuple[str, str]] = set()
        for raw in live_params:
            param, _ = self.live.resolve(raw)
            name, where = param.get("name"), param.get("in")
            live_keys.add((name, where))
            kind = f"{where} parameter {name}"
            our_param = ours_by_key.get((name, where))
            if our_param is None:
                self.report(op, f"{kind} missing from {self.ours.label}")
                continue
            live_required = bool(param.get("required", where == "path"))
            our_required = bool(our_param.get("required", where == "path"))
            if live_required != our_required:
                self.report(
                    op,
                    f"{kind} is {required_word(our_required)} in {self.ours.label}, "
                    f"{required_word(live_required)} live",
                )
            for message in self.compare(
                param.get("schema", {}), our_param.get("schema", {}), "request", str(name), (), True
            ):
                self.report(op, f"{kind}: {message}")
        for name, where in ours_by_key:
            if (name, where) not in live_keys:
                self.report(
                    op, f"{where} parameter {name} in {self.ours.label} is not accepted live"
                )

    def check_request_body(self, op: str, live_op: Schema, our_op: Schema) -> None:
        """A live request body must be in ours, equally required, with compatible content."""
        if "requestBody" not in live_op:
            if "requestBody" in our_op:
                self.report(op, f"request body in {self.ours.label} is not accepted live")
            return
        live_body, _ = self.live.resolve(live_op["requestBody"])
        if "requestBody" not in our_op:
            self.report(op, f"request body missing from {self.ours.label}")
            return
        our_body, _ = self.ours.resolve(our_op["requestBody"])
        live_required = bool(live_body.get("required", False))
        our_required = bool(our_body.get("required", False))
        if live_required != our_required:
            self.report(
                op,
                f"request body is {required_word(our_required)} in {self.ours.label}, "
                f"{required_word(live_required)} live",
            )
        self.check_content(op, "request", live_body, our_body, "request")

    def check_responses(self, op: str, live_op: Schema, our_op: Schema) -> None:
        """Every live 2xx/4xx response must be in ours, with compatible content."""
        live_responses: Schema = live_op.get("responses") or {}
        our_responses: dict[Any, Any] = our_op.get("responses") or {}
        for status, raw in live_responses.items():
            status = str(status)
            if status[:1] not in ("2", "4"):
                continue
            kind = f"{status} response"
            live_response, _ = self.live.resolve(raw)
            our_raw = our_responses.get(status)
            if our_raw is None and status.isdigit():
                our_raw = our_responses.get(int(status))  # unquoted YAML keys load as int
            if our_raw is None:
                if status == "422" and "requestBody" not in live_op:
                    continue  # FastAPI lists it for str path parameters, which cannot fail
                self.report(op, f"{kind} missing from {self.ours.label}")
                continue
            our_response, _ = self.ours.resolve(our_raw)
            self.check_content(op, kind, live_response, our_response, "response")

    def check_content(
        self, op: str, kind: str, live: Schema, ours: Schema, direction: Direction
    ) -> None:
        """Compare the schemas of each live media type of a request body or response."""
        live_content: Schema = live.get("content") or {}
        our_content: Schema = ours.get("content") or {}
        for media_type, live_media in live_content.items():
            live_schema = (live_media or {}).get("schema")
            if direction == "response" and (live_schema is None or live_schema == {}):
                continue  # untyped in the export: ours may type it
            if media_type not in our_content:
                self.report(op, f"{kind} content {media_type} missing from {self.ours.label}")
                continue
            our_schema = (our_content[media_type] or {}).get("schema", {})
            for message in self.compare(live_schema or {}, our_schema, direction, "body", (), True):
                self.report(op, f"{kind} {message}")

    # -- schemas --------------------------------------------------------------------

    def compare(
        self,
        live: Any,
        ours: Any,
        direction: Direction,
        label: str,
        stack: tuple[tuple[str | None, str | None], ...],
        is_root: bool = False,
    ) -> list[str]:
        """Differences between a live schema and ours at ``label``, as message tails."""
        live_branches = self.live.branches(live)
        our_branches = self.ours.branches(ours)
        live_names = {branch.name for branch in live_branches}
        if is_root and len(live_names) == 1 and None not in live_names:
            label = str(next(iter(live_names)))
        what = "schema" if is_root else "field"
        problems: list[str] = []

        live_types = union_types(live_branches)
        if live_types is None:
            return problems  # live accepts/sends anything: whatever ours says is compatible
        our_types = union_types(our_branches)
        ours_label = self.ours.label
        problems.extend(type_differences(live_types, our_types, direction, what, label, ours_label))
        problems.extend(enum_differences(live_branches, our_branches, direction, label, ours_label))

        for live_branch in live_branches:
            structural = [
                t for t in STRUCTURAL_TYPES if t in (json_types(live_branch.schema) or ())
            ]
            if not structural:
                continue
            candidates = [
                branch
                for branch in our_branches
                if (types := json_types(branch.schema)) is not None
                and any(t in types for t in structural)
            ]
            if not candidates:
                continue  # a missing type has been reported above
            child_label = live_branch.name or label
            best: list[str] | None = None
            for candidate in candidates:
                key = (live_branch.name, candidate.name)
                if key[0] is not None and key in stack:
                    best = []
                    break  # recursive schema already being compared
                found = self.compare_structure(
                    live_branch.schema, candidate.schema, direction, child_label, (*stack, key)
                )
                if best is None or len(found) < len(best):
                    best = found
                if not found:
                    break
            problems.extend(best or [])
        return problems

    def compare_structure(
        self,
        live: Schema,
        ours: Schema,
        direction: Direction,
        label: str,
        stack: tuple[tuple[str | None, str | None], ...],
    ) -> list[str]:
        """Object properties, required-ness, additionalProperties and array items."""
        problems: list[str] = []
        live_props: Schema = live.get("properties") or {}
        our_props: Schema = ours.get("properties") or {}
        live_required = set(live.get("required") or [])
        our_required = set(ours.get("required") or [])
        for name, live_prop in live_props.items():
            field_label = f"{label}.{name}"
            self.fields_checked.add(field_label)
            if name not in our_props:
                problems.append(f"field {field_label} missing from {self.ours.label}")
                continue
            if direction == "request" and (name in live_required) != (name in our_required):
                ours_word = required_word(name in our_required)
                live_word = required_word(name in live_required)
                problems.append(
                    f"field {field_label} is {ours_word} in {self.ours.label}, {live_word} live"
                )
            problems.extend(self.compare(live_prop, our_props[name], direction, field_label, stack))

        live_extra = live.get("additionalProperties")
        our_extra = ours.get("additionalProperties")
        if direction == "request" and live_props:
            problems.extend(
                self.unknown_request_fields(live_props, live_extra, our_props, label, stack)
            )
        if live_extra is False:
            if direction == "request" and our_extra is not False:
                problems.append(
                    f"field {label} allows additional properties in {self.ours.label}, not live"
                )
        elif isinstance(live_extra, dict) and live_extra:
            if our_extra is False:
                problems.append(f"field {label} forbids additional properties in {self.ours.label}")
            else:
                our_schema = our_extra if isinstance(our_extra, dict) else {}
                problems.extend(
                    self.compare(live_extra, our_schema, direction, f"{label}[*]", stack)
                )

        if "items" in live:
            our_items = ours.get("items", {})
            problems.extend(self.compare(live["items"], our_items, direction, f"{label}[]", stack))
        live_prefix = live.get("prefixItems") or []
        our_prefix = ours.get("prefixItems") or []
        for index, live_item in enumerate(live_prefix):
            item_label = f"{label}[{index}]"
            if index >= len(our_prefix):
                problems.append(f"field {item_label} missing from {self.ours.label}")
                continue
            problems.extend(
                self.compare(live_item, our_prefix[index], direction, item_label, stack)
            )
        return problems

    def unknown_request_fields(
        self,
        live_props: Schema,
        live_extra: Any,
        our_props: Schema,
        label: str,
        stack: tuple[tuple[str | None, str | None], ...],
    ) -> list[str]:
        """Fields ours may send that a live model with declared properties does not read.

        Without ``additionalProperties`` the live model ignores unknown fields (pydantic's
        default) or rejects them (``false``); a schema there types them instead.
        """
        if live_extra is True or live_extra == {}:
            return []  # the live model takes any additional field
        problems: list[str] = []
        for name, our_prop in our_props.items():
            if name in live_props:
                continue
            field_label = f"{label}.{name}"
            if isinstance(live_extra, dict):
                problems.extend(self.compare(live_extra, our_prop, "request", field_label, stack))
                continue
            problems.append(f"field {field_label} in {self.ours.label} is not accepted live")
        return problems


def required_word(required: bool) -> str:
    """``required`` or ``optional``."""
    return "required" if required else "optional"


def compare_contracts(
    live: Schema, ours: Schema, live_label: str = "live", ours_label: str = "ours"
) -> list[str]:
    """The differences by which ``ours`` fails to cover ``live``, one line each (pure).

    Both are OpenAPI documents as dicts; ``live`` plays the server's export (what must be
    covered), ``ours`` the contract checked against it. The labels name them in messages.
    """
    checker = Checker(live=Document(live, live_label), ours=Document(ours, ours_label))
    checker.run()
    return list(checker.problems)
