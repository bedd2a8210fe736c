"""The tasks one evaluation runs: requested names expanded into groups and subtasks.

lmms-eval loads a group as a tree (a group's members may be groups, inline groups or
tags, which stand for their tasks) and writes its results in three different orders; these
functions give each of them, so that the simulated results files list what lmms-eval's
would, where it would:

* ``results``: each level sorted by name, a group before its members, with the member's
  alias indented (``" - name"``, ``"  - name"`` one level deeper);
* ``n-samples`` and the samples: the evaluation order (the requested names last first,
  then each group's members in the order its YAML lists them);
* ``group_subtasks``: groups in reverse pre-order, each with its direct members.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ._registry import GroupSpec, Registry


class TaskLoadError(Exception):
    """lmms-eval could not load the tasks; the message is the error it raises.

    ``exc_type`` names the exception lmms-eval raises (in the evaluation log's traceback).
    """

    def __init__(self, message: str = "", exc_type: str = "KeyError") -> None:
        super().__init__(message)
        self.exc_type = exc_type


@dataclass(frozen=True)
class TaskNode:
    """A subtask (no ``group``) or a group and its members."""

    name: str
    group: GroupSpec | None = None
    members: tuple[TaskNode, ...] = field(default=())

    @property
    def is_group(self) -> bool:
        """Whether this is a group."""
        return self.group is not None

    @property
    def alias(self) -> str:
        """The name shown in ``results``: a group's ``group_alias``, else the name."""
        if self.group is not None and self.group.alias:
            return self.group.alias
        return self.name


def _chain(expansions: Sequence[list[TaskNode]]) -> list[TaskNode]:
    """Merge expansions as lmms-eval's ``dict(ChainMap(*expansions))``.

    Keys come from the last expansion first; for a name found twice, the first wins.
    """
    by_name: dict[str, TaskNode] = {}
    order: dict[str, None] = {}
    for nodes in reversed(expansions):
        for node in nodes:
            order.setdefault(node.name, None)
            by_name[node.name] = node  # overwritten by earlier expansions: they win
    return [by_name[name] for name in order]


def _expand(
    name: str | GroupSpec, registry: Registry, *, strict: bool, path: frozenset[str]
) -> list[TaskNode]:
    spec = name if isinstance(name, GroupSpec) else registry.groups.get(name)
    if spec is not None:
        if spec.name in path:
            raise TaskLoadError(f"group {spec.name!r} includes itself", "RecursionError")
        inner = path | {spec.name}
        members = _chain(
            [_expand(m, registry, strict=True, path=inner) for m in reversed(spec.members)]
        )
        return [TaskNode(spec.name, spec, tuple(members))]
    assert isinstance(name, str)
    kind = registry.kinds.get(name)
    if kind == "tag":
        tagged = registry.tags.get(name, ())
        return _chain([_expand(m, registry, strict=True, path=path) for m in reversed(tagged)])
    if kind is None and strict:
        # A group member missing from the index: lmms-eval fails on a KeyError.
        raise TaskLoadError(repr(name))
    return [TaskNode(name)]


def load_tasks(names: Sequence[str], registry: Registry) -> list[TaskNode]:
    """The top level of the evaluation's task tree, in lmms-eval's order.

    ``names`` are the selected names (already matched); a name the registry does not know is
    a plain subtask (a task the local server was told to offer).

    Raises:
        TaskLoadError: A group lists a task that does not exist, includes itself, or two
            requested groups share a member.
    """
    forest = _chain([_expand(n, registry, strict=False, path=frozenset()) for n in names])
    _check_overlaps(forest)
    return forest


def leaves(forest: Sequence[TaskNode]) -> list[TaskNode]:
    """The subtasks in evaluation order, each once."""
    seen: dict[str, TaskNode] = {}

    def visit(nodes: Sequence[TaskNode]) -> None:
        for node in nodes:
            if node.is_group:
                visit(node.members)
            else:
                seen.setdefault(node.name, node)

    visit(forest)
    return list(seen.values())


def print_order(forest: Sequence[TaskNode], depth: int = 0) -> Iterator[tuple[TaskNode, int]]:
    """Every node with its depth, as ``results`` lists them."""
    for node in sorted(forest, key=lambda n: n.name):
        yield node, depth
        if node.is_group:
            yield from print_order(node.members, depth + 1)


def indent(alias: str, depth: int) -> str:
    """An alias as ``results`` shows it at ``depth`` (``" - name"`` for depth 1)."""
    return f"{' ' * depth}- {alias}" if depth > 0 else alias


def group_subtasks(forest: Sequence[TaskNode]) -> dict[str, list[str]]:
    """``group_subtasks``: each group's direct members; a requested subtask maps to []."""
    entries: dict[tuple[str, int], list[str]] = {}

    def visit(nodes: Sequence[TaskNode], parent: str | None, depth: int) -> None:
        for node in nodes:
            if node.is_group:
                if parent is not None and node.members:
                    entries.setdefault((parent, depth), []).append(node.name)
                visit(node.members, node.name, depth + 1)
            elif parent is None:
                entries.setdefault((node.name, depth), [])
            else:
                entries.setdefault((parent, depth), []).append(node.name)

    visit(forest, None, 0)
    by_name: dict[str, list[str]] = {}
    for (name, _), members in entries.items():
        by_name[name] = members
    return dict(reversed(by_name.items()))


def aggregated_leaves(group: TaskNode) -> list[TaskNode]:
    """The subtasks a group's metric averages over: every subtask below it."""
    return leaves(group.members)


def _check_overlaps(forest: Sequence[TaskNode]) -> None:
    listed = group_subtasks(forest)
    members = [name for names in listed.values() for name in names]
    shared = sorted({name for name in members if members.count(name) > 1})
    if shared:
        groups = [group for group, names in listed.items() if set(names) & set(shared)]
        raise TaskLoadError(
            "Found 1 or more tasks while trying to call get_task_dict() that were members of "
            f"more than 1 called group: {shared}. Offending groups: {groups}. Please call "
            "groups which overlap their constituent tasks in separate evaluation runs.",
            "ValueError",
        )
