from __future__ import annotations

from typing import Any

from pydantic import RootModel


class ValidationErrorContext(RootModel[dict[str, Any]]):
    """ValidationErrorContext: an object whose keys are free-form.

    Details of the error, e.g. the expected values of a literal.
    """
