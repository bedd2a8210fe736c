"""Sphinx configuration of the docs site (`make docs`; see CONTRIBUTING.md, "The docs site").

Markdown pages (MyST), the furo theme, and an API reference that autodoc and napoleon build
from the package's Google-style docstrings. Offline: no intersphinx, no remote assets.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE / "_ext"), str(ROOT / "src"), str(ROOT / "generated")]

import lmms_eval_client  # noqa: E402
from lmms_eval_client import __version__  # noqa: E402

# Every public name imported before autodoc reads any class: autodoc adds the annotations
# its source analyser finds to a class it documents, and a pydantic model subclassed after
# that (the pool's models subclass the generated ones) fails to build.
for _name in lmms_eval_client.__all__:
    getattr(lmms_eval_client, _name)

project = "lmms-eval-client"
author = "lmms-eval-client contributors"
copyright = "lmms-eval-client contributors"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "lmms_api",
    "lmms_cli",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "_ext", "_*.md"]
root_doc = "index"

# GitHub's heading anchors, so the guides' links (copied from the README) resolve.
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# Bases are shown for errors only (api-names): a client's bases are private mixins.
autodoc_default_options = {"members": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "furo"
html_title = f"lmms-eval-client {version}"
html_static_path: list[str] = []
# Deterministic output: no "last updated" stamps, no source links to a remote host.
html_show_sourcelink = False
html_last_updated_fmt = None
