"""Write evaluate()'s parameters, from their one source, where they are repeated.

The source is the table of ``src/lmms_eval_client/_client/evaluate_params.py`` (its
docstring says why a generation step rather than a TypedDict). In each module of
``TARGETS``, between a marker comment and ``# </params>``::

    # <params request>                       the parameters, as a signature writes them
    # <params extra_body timeout>            (names, or ``request`` for every field)
    # <params request extra_body: arguments> passed on by position: ``model,``
    # <params extra_body timeout: keywords>  passed on by keyword: ``timeout=timeout,``

and in the docstring of each function whose signature holds a region, the ``Args:``
section: rebuilt in the order of the signature, the entries of the table's parameters
written from the table, the others kept as written (each parameter must have one; an
entry for no parameter fails).

    python codegen/evaluate_params.py           rewrite the modules
    python codegen/evaluate_params.py --check   fail, showing the diff, when one differs

Run it before ``codegen/make_sync.py`` (``make generate`` does): the ``_sync/`` twins are
generated from the ``_async/`` modules written here.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import importlib.util
import re
import sys
import textwrap
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "lmms_eval_client"
TABLE = "_client/evaluate_params.py"
TARGETS = (
    "_client/arguments.py",
    "_client/_async/client.py",
    "_pool/_async/pool.py",
    "_runs/_async/run.py",
)
LINE_LENGTH = 100  # ruff's, for the docstring entries

_BEGIN = re.compile(r"^(?P<indent>[ ]*)# <params (?P<names>[a-z_ ]+?)(?:: (?P<kind>\w+))?>\s*$")
_END = re.compile(r"^[ ]*# </params>\s*$")
_ENTRY = re.compile(r"^(?P<name>\*{0,2}\w+)( \([^)]*\))?:")


class GenerationError(Exception):
    """A module cannot be generated (a marker or a docstring is wrong): the message says why."""


def load_table(package: Path) -> ModuleType:
    """The table module, loaded from its file (it imports nothing of the package)."""
    path = package / TABLE
    spec = importlib.util.spec_from_file_location("_evaluate_params_table", path)
    if spec is None or spec.loader is None:
        raise GenerationError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _region(table: ModuleType, indent: str, spec: str, kind: str) -> list[str]:
    try:
        names = table.names(spec)
    except KeyError as exc:
        raise GenerationError(str(exc.args[0])) from None
    lines = []
    for name in names:
        param = table.PARAMS[name]
        if kind == "signature":
            default = "" if param.default is None else f" = {param.default}"
            lines.append(f"{indent}{name}: {param.annotation}{default},\n")
        elif kind == "arguments":
            lines.append(f"{indent}{name},\n")
        elif kind == "keywords":
            lines.append(f"{indent}{name}={name},\n")
        else:
            raise GenerationError(f"unknown kind of region {kind!r} (arguments or keywords)")
    return lines


def write_regions(
    table: ModuleType, lines: list[str], where: str
) -> tuple[list[str], dict[int, list[str]]]:
    """The lines with every region rewritten; the signature regions' parameters by the
    (1-based) line number of their marker."""
    out: list[str] = []
    signatures: dict[int, list[str]] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        begin = _BEGIN.match(line)
        if begin is None:
            if _END.match(line):
                raise GenerationError(f"{where}:{i + 1}: '# </params>' without its marker")
            out.append(line)
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if _END.match(lines[j])), None)
        if end is None or any(_BEGIN.match(lines[j]) for j in range(i + 1, end)):
            raise GenerationError(f"{where}:{i + 1}: the region has no '# </params>'")
        kind = begin["kind"] or "signature"
        region = _region(table, begin["indent"], begin["names"], kind)
        out.append(line)
        if kind == "signature":
            signatures[len(out)] = table.names(begin["names"])
        out += region
        out.append(lines[end])
        i = end + 1
    return out, signatures


def _entries(lines: list[str], indent: int, where: str) -> dict[str, list[str]]:
    """An Args section's entries (their lines) by parameter name."""
    entries: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        if len(line) - len(line.lstrip(" ")) == indent:
            match = _ENTRY.match(line.strip())
            if match is None:
                raise GenerationError(f"{where}: not an Args entry: {line.strip()!r}")
            current = entries.setdefault(match["name"].lstrip("*"), [])
            if current:
                raise GenerationError(f"{where}: two Args entries for {match['name']}")
        elif current is None:
            raise GenerationError(f"{where}: Args begins with {line.strip()!r}")
        current.append(line)
    return entries


def _entry(table: ModuleType, name: str, indent: int) -> list[str]:
    text = f"{name}: {table.PARAMS[name].docstring_entry}"
    wrapped = textwrap.wrap(
        text,
        width=LINE_LENGTH,
        initial_indent=" " * indent,
        subsequent_indent=" " * (indent + 4),
        break_long_words=False,
        break_on_hyphens=False,
    )
    return [line + "\n" for line in wrapped]


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return [name for name in names if name not in ("self", "cls")]


def write_docstrings(
    table: ModuleType, lines: list[str], signatures: dict[int, list[str]], where: str
) -> list[str]:
    """The lines with the Args section of each function with a signature region rebuilt."""
    tree = ast.parse("".join(lines))
    functions = [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and any(node.lineno <= line < node.body[0].lineno for line in signatures)
    ]
    # From the bottom up, so that the line numbers above stay right.
    for node in sorted(functions, key=lambda node: node.lineno, reverse=True):
        name = f"{where}: {node.name}()"
        generated = {
            param
            for line, params in signatures.items()
            if node.lineno <= line < node.body[0].lineno
            for param in params
        }
        doc = node.body[0]
        if not (isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)):
            raise GenerationError(f"{name} has no docstring")
        first, last = doc.lineno - 1, doc.end_lineno or doc.lineno  # 0-based, end exclusive
        header = next(
            (i for i in range(first, last) if lines[i].strip() == "Args:"),
            None,
        )
        if header is None:
            raise GenerationError(f"{name}: its docstring has no 'Args:' section")
        indent = len(lines[header]) - len(lines[header].lstrip(" ")) + 4
        end = header + 1
        while (
            end < last
            and lines[end].strip()
            and (len(lines[end]) - len(lines[end].lstrip(" ")) >= indent)
        ):
            end += 1
        entries = _entries(lines[header + 1 : end], indent, name)
        rebuilt: list[str] = []
        for param in _parameters(node):
            if param in generated:
                rebuilt += _entry(table, param, indent)
            elif param in entries:
                rebuilt += entries[param]
            else:
                raise GenerationError(f"{name}: the docstring has no Args entry for {param}")
        stale = sorted(set(entries) - set(_parameters(node)))
        if stale:
            raise GenerationError(f"{name}: Args entries for no parameter: {', '.join(stale)}")
        lines = lines[: header + 1] + rebuilt + lines[end:]
    return lines


def generate(package: Path, target: str) -> str:
    """The module ``target`` as the table writes it."""
    table = load_table(package)
    lines = (package / target).read_text().splitlines(keepends=True)
    lines, signatures = write_regions(table, lines, target)
    if not signatures:
        raise GenerationError(f"{target} has no '# <params ...>' region in a signature")
    return "".join(write_docstrings(table, lines, signatures, target))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a module is stale")
    parser.add_argument("--package", type=Path, default=PACKAGE, help=argparse.SUPPRESS)
    args = parser.parse_args()
    stale = []
    for target in TARGETS:
        path = args.package / target
        try:
            fresh = generate(args.package, target)
        except GenerationError as exc:
            print(f"codegen/evaluate_params.py: {exc}")
            return 1
        current = path.read_text()
        if current == fresh:
            continue
        if args.check:
            stale.append(target)
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    fresh.splitlines(keepends=True),
                    f"{target} (committed)",
                    f"{target} (fresh from {TABLE})",
                )
            )
        else:
            path.write_text(fresh)
            print(f"wrote evaluate()'s parameters into src/lmms_eval_client/{target}")
    if stale:
        listed = ", ".join(stale)
        print(f"evaluate()'s parameters differ from {TABLE} ({listed}): run 'make generate'")
        return 1
    if args.check:
        print(f"evaluate()'s parameters match {TABLE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
