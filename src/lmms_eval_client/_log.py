"""The ``lmms_eval_client`` logger, silent unless the application configures logging.

A library must not print: without a NullHandler, Python's last-resort handler writes every
WARNING (a wait's failed poll, say) to stderr of a program that configured nothing.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("lmms_eval_client")
logger.addHandler(logging.NullHandler())
