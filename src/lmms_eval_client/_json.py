"""JSON of what the client returns: the models are Mappings, but json knows only dicts."""

from __future__ import annotations

from pydantic import BaseModel


def json_default(value: object) -> object:
    """A ``default=`` for ``json.dumps`` that writes the client's models as their JSON.

    Anything else that json cannot write still raises TypeError, as json itself does.

    Example::

        json.dumps(client.get_job(job_id), default=json_default)
        json.dumps({"job": done, "metrics": results.metrics}, default=json_default)
    """
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
