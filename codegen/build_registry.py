"""Write the task and model registries of the installed lmms-eval as the local server's data.

    python codegen/build_registry.py [--output PATH] [--check]

Reads the pinned lmms-eval package in this environment (installed without its ML stack):

* every ``*.yaml`` under ``lmms_eval/tasks/``, indexed as lmms-eval's ``TaskManager`` does
  (a config whose ``task`` is a list is a group named by ``group``; one whose ``task`` is a
  string is a subtask, and its ``tag`` values are tags; one with ``class`` is a python task;
  ``include`` files are merged first), with PyYAML, any ``!tag`` read as plain data;
* the model registry, through ``lmms_eval.models`` itself (what ``GET /models`` lists, plus
  the aliases an evaluation accepts), and each model's default backend (the chat class when
  there is one) and its module's source, to tell which backends record API token usage
  (``log_usage``) and which log generation throughput (``log_metrics``).

The output is deterministic (sorted keys and names, files visited in sorted order) and
ends with a newline. ``--check`` writes nothing: it compares a fresh build with the file
and exits 1, printing a diff, when they differ.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "src" / "lmms_eval_client" / "testing" / "registry.json"
SKIPPED_DIRS = frozenset({"__pycache__", ".ipynb_checkpoints"})  # as TaskManager


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads any tag (``!function utils.x``, python tags) as plain data."""


def _untagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


_Loader.add_multi_constructor("!", _untagged)
_Loader.add_multi_constructor("tag:yaml.org,2002:python/", _untagged)


def package_dir() -> Path:
    """The installed lmms_eval package's folder (found, not imported)."""
    spec = importlib.util.find_spec("lmms_eval")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("lmms-eval is not installed here: run `make install` first")
    return Path(next(iter(spec.submodule_search_locations)))


def load_config(path: Path) -> dict[str, Any]:
    """A task YAML with its ``include`` files merged underneath, as lmms-eval does."""
    with path.open("rb") as file:
        config = yaml.load(file, Loader=_Loader)  # a SafeLoader: nothing is executed
    if not isinstance(config, dict):
        return {}
    includes = config.pop("include", None)
    if includes is None:
        return config
    merged: dict[str, Any] = {}
    # The last include is applied first, so earlier ones win; the file itself wins over all.
    for include in reversed([includes] if isinstance(includes, str) else list(includes)):
        target = Path(include)
        if not (target.is_absolute() and target.is_file()):
            target = path.parent / include
        merged.update(load_config(target))
    merged.update(config)
    return merged


def yaml_files(tasks_dir: Path) -> Iterator[Path]:
    """Every task YAML, in a fixed order (lmms-eval walks in the file system's order)."""
    for root, dirs, files in os.walk(tasks_dir):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            if name.endswith(".yaml"):
                yield Path(root) / name


def _child(entry: Any) -> str | dict[str, Any] | None:
    """What a group's ``task:`` entry loads: a name, or an inline group (nested entry).

    An inline task config (``{task: name, ...overrides}``) loads under its name.
    """
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        if isinstance(entry.get("task"), list):
            return {"group": str(entry.get("group")), **_group_entry(entry)}
        for key in ("task", "group"):
            if isinstance(entry.get(key), str):
                return str(entry[key])
    return None


def _group_entry(config: dict[str, Any]) -> dict[str, Any]:
    aggregate = config.get("aggregate_metric_list")
    if isinstance(aggregate, dict):
        aggregate = [aggregate]
    first = aggregate[0] if isinstance(aggregate, list) and aggregate else {}
    metadata = config.get("metadata")
    version = metadata.get("version") if isinstance(metadata, dict) else None
    alias = config.get("group_alias")
    return {
        "alias": alias if isinstance(alias, str) else None,
        "aggregate": bool(aggregate),
        "weight_by_size": bool(isinstance(first, dict) and first.get("weight_by_size", False)),
        "version": version if isinstance(version, (int, float, str)) else None,
        "task": [child for child in map(_child, config["task"]) if child is not None],
    }


def index_tasks(tasks_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """(the registry's task part, notes on names whose kind depends on the walk order)."""
    kinds: dict[str, str] = {}
    groups: dict[str, dict[str, Any]] = {}
    tags: dict[str, list[str]] = {}
    notes: list[str] = []
    for path in yaml_files(tasks_dir):
        config = load_config(path)
        task = config.get("task")
        where = path.relative_to(tasks_dir)
        if "class" in config:
            kinds[str(task)] = "python_task"
            groups.pop(str(task), None)
            tags.pop(str(task), None)
        elif isinstance(task, list):
            name = str(config.get("group"))
            if kinds.get(name, "group") != "group":
                notes.append(f"{name}: a {kinds[name]} redefined as a group by {where}")
            kinds[name] = "group"
            tags.pop(name, None)
            groups[name] = _group_entry(config)
        elif isinstance(task, str):
            if kinds.get(task, "subtask") != "subtask":
                notes.append(f"{task}: a {kinds[task]} redefined as a subtask by {where}")
            kinds[task] = "subtask"
            groups.pop(task, None)
            tags.pop(task, None)
            for attr in ("tag", "group"):  # a task's `group:` is still a tag in 0.7.3
                values = config.get(attr)
                for tag in [values] if isinstance(values, str) else values or []:
                    if kinds.setdefault(tag, "tag") != "tag":
                        notes.append(f"{tag}: a {kinds[tag]}, not also a tag ({where})")
                        break
                    tags.setdefault(tag, []).append(task)
    registry = {
        "kinds": dict(sorted(kinds.items())),
        "groups": {name: groups[name] for name in sorted(groups)},
        "tags": {name: sorted(set(tags[name])) for name in sorted(tags)},
    }
    return registry, notes


def _backend_source(package: Path, class_path: str) -> str:
    module = class_path.rsplit(".", 1)[0]
    relative = Path(*module.split(".")[1:])  # drop "lmms_eval"
    for candidate in (package / relative.with_suffix(".py"), package / relative / "__init__.py"):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8", errors="replace")
    return ""


def index_models(package: Path) -> dict[str, Any]:
    """The model part: ids as GET /models lists them, aliases, and backend traits."""
    os.environ.pop("LMMS_EVAL_PLUGINS", None)  # the pinned package only
    from lmms_eval.models import get_model_manifest, list_available_models

    ids = sorted(list_available_models())
    aliases: dict[str, str] = {}
    for name in list_available_models(include_aliases=True):
        model_id = get_model_manifest(name).model_id
        if name != model_id:
            aliases[name] = model_id
    traits: dict[str, dict[str, Any]] = {}
    for model_id in ids:
        manifest = get_model_manifest(model_id)
        # What the server's evaluation runs by default: the chat backend when there is one.
        kind = "chat" if manifest.chat_class_path else "simple"
        class_path = manifest.chat_class_path or manifest.simple_class_path or ""
        source = _backend_source(package, class_path)
        traits[model_id] = {
            "class": class_path,
            "type": kind,
            "usage": "log_usage(" in source,
            "throughput": "log_metrics(" in source or "GenMetrics" in source,
        }
    return {"models": ids, "model_aliases": dict(sorted(aliases.items())), "backends": traits}


def build() -> tuple[str, list[str]]:
    """The registry file's text, and the notes to print."""
    package = package_dir()
    from importlib.metadata import version

    tasks, notes = index_tasks(package / "tasks")
    document = {
        "lmms_eval_version": version("lmms-eval"),
        "generated_by": "codegen/build_registry.py (do not edit)",
        **tasks,
        **index_models(package),
    }
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n", notes


def summary(text: str) -> str:
    document = json.loads(text)
    counts: dict[str, int] = {}
    for kind in document["kinds"].values():
        counts[kind] = counts.get(kind, 0) + 1
    parts = ", ".join(f"{n} {kind}s" for kind, n in sorted(counts.items()))
    return (
        f"lmms-eval {document['lmms_eval_version']}: {len(document['kinds'])} task names "
        f"({parts}); {len(document['models'])} models, {len(document['model_aliases'])} aliases"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on drift")
    parser.add_argument("--verbose", action="store_true", help="print order-dependent names")
    args = parser.parse_args(argv)
    text, notes = build()
    if args.verbose:
        for note in notes:
            print("note:", note)
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else ""
        if current == text:
            print(f"{args.output.name} is up to date: {summary(text)}")
            return 0
        diff = difflib.unified_diff(
            current.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"{args.output} (checked in)",
            tofile="fresh build",
            n=1,
        )
        sys.stdout.writelines(list(diff)[:200])
        print(f"\n{args.output} is stale: run `make registry`")
        return 1
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}: {summary(text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
