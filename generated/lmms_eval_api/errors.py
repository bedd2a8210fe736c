"""Contains shared errors types that can be raised from API functions"""

import httpx


class UnexpectedStatus(Exception):
    """Raised by api functions when the response status an undocumented status and Client.raise_on_unexpected_status is True"""

    def __init__(self, status_code: int, content: bytes):
        self.status_code = status_code
        self.content = content

        super().__init__(
            f"Unexpected status code: {status_code}\n\nResponse content:\n{content.decode(errors='ignore')}"
        )


class UnexpectedResponseBody(Exception):
    """Raised by api functions when a documented response's body is not JSON or does not match the contract.

    The cause (``__cause__``) is the json or pydantic error; ``response`` is the httpx response.
    """

    def __init__(self, response: httpx.Response):
        self.response = response
        self.status_code = response.status_code
        self.content = response.content
        super().__init__(
            f"Response body of status {response.status_code} does not match the contract: "
            f"{response.content[:200]!r}"
        )


__all__ = ["UnexpectedResponseBody", "UnexpectedStatus"]
