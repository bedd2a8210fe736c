"""Typed Python SDK for the lmms-eval evaluation server."""
