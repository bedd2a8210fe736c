"""The ``api-names`` directive: autodoc entries for the public names of ``lmms_eval_client``.

The names come from ``lmms_eval_client.__all__`` and each is put on the reference page of
the package it is defined in (``_WHERE``, written from the ``TYPE_CHECKING`` imports of
``__init__.py``), so a name added to the facade appears in the reference without editing
a page; names of a package no page claims go to the page with ``:rest:``. ``tests/docs``
holds the built reference equal to ``__all__``.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

import lmms_eval_client

logger = logging.getLogger(__name__)

# The module prefixes (of _WHERE) each page claims, in the pages' order.
PAGES: dict[str, tuple[str, ...]] = {
    "clients": ("._client", "._http"),
    "models": ("lmms_eval_api",),
    "results": ("._results",),
    "runs": ("._runs", "._watch", "._report"),
    "pool": ("._pool",),
    "errors": ("._exceptions",),
}


def page_of(module: str) -> str | None:
    for page, prefixes in PAGES.items():
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return page
    return None


def names_for(page: str, rest: bool) -> list[str]:
    chosen = []
    for name in lmms_eval_client.__all__:
        home = page_of(where_of(name))
        if home == page or (rest and home is None):
            chosen.append(name)
    return chosen


def comment_above(name: str) -> list[str]:
    """The comment block right above ``name``'s definition in its module (a constant has no
    docstring: its comment is its documentation)."""
    module = where_of(name)
    spec = importlib.util.find_spec(module, "lmms_eval_client")
    if spec is None or spec.origin is None:
        return []
    lines = Path(spec.origin).read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(rf"{name}\s*(:|=)", line)), None)
    if start is None:
        return []
    found: list[str] = []
    while start > 0 and lines[start - 1].startswith("#"):
        start -= 1
        found.insert(0, lines[start].lstrip("#:").strip())
    return found


def where_of(name: str) -> str:
    module = lmms_eval_client._WHERE.get(name)
    if module is not None:
        return module
    return "._version" if name == "__version__" else ""  # imported eagerly, not in the table


def entry(name: str) -> list[str]:
    value: Any = getattr(lmms_eval_client, name)
    target = f"lmms_eval_client.{name}"
    if inspect.isclass(value) and issubclass(value, BaseException):
        return [f".. autoexception:: {target}", "   :show-inheritance:", ""]
    if inspect.isclass(value):
        return [f".. autoclass:: {target}", ""]
    if inspect.isfunction(value):
        return [f".. autofunction:: {target}", ""]
    value_line = " ".join(repr(value).split())
    doc = comment_above(name)
    if not doc:
        logger.warning(
            "%s has no documentation: write a comment right above its definition", target
        )
    return [f".. data:: {target}", f"   :value: {value_line}", "", *(f"   {d}" for d in doc), ""]


class ApiNames(SphinxDirective):
    required_arguments = 1
    option_spec = {"rest": directives.flag}  # noqa: RUF012

    def run(self) -> list[Any]:
        names = names_for(self.arguments[0], rest="rest" in self.options)
        lines = StringList()
        for name in names:
            for line in entry(name):
                lines.append(line, "<api-names>")
        container = nodes.container()
        nested_parse_with_titles(self.state, lines, container)
        return list(container.children)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("api-names", ApiNames)
    return {"parallel_read_safe": True, "version": "1"}
