"""The Hugging Face ``transformers`` integration (the ``hf`` extra): ``EvalCallback``.

Imported only when used (``from lmms_eval_client.hf import EvalCallback``): it imports
transformers, and raises ``MissingDependencyError`` with the pip line when it is missing.

Example::

    from lmms_eval_client.hf import EvalCallback
"""

from __future__ import annotations

from ._watch.callback import EvalCallback

__all__ = ["EvalCallback"]
