"""Prompt and scoring of the lane's tasks (loaded by lmms-eval from the task YAMLs)."""

from __future__ import annotations

PROMPT = "Answer with a single number or word. "


def doc_to_visual(doc: dict[str, str]) -> list[object]:
    """Text-only tasks: no images."""
    return []


def doc_to_text(doc: dict[str, str]) -> str:
    """The question, with an instruction that keeps the answer to one word."""
    return PROMPT + doc["question"]


def process_results(doc: dict[str, str], results: list[str]) -> dict[str, float]:
    """exact_match: 1.0 when the reply is the answer, case and spaces aside."""
    reply = results[0].strip().lower() if results else ""
    return {"exact_match": 1.0 if reply == doc["answer"].strip().lower() else 0.0}
