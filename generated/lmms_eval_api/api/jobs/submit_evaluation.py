from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.evaluate_request import EvaluateRequest
from ...models.http_validation_error import HTTPValidationError
from ...models.job_submit_response import JobSubmitResponse
from ...types import Response

# Non-IANA codes (a proxy's 520, say) must not crash HTTPStatus().
_KNOWN_STATUSES = frozenset(HTTPStatus)


def _get_kwargs(
    *,
    body: EvaluateRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/evaluate",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> HTTPValidationError | JobSubmitResponse | None:
    if response.status_code == 200:
        response_200 = JobSubmitResponse.from_dict(response.json())

        return response_200

    if response.status_code == 422:
        response_422 = HTTPValidationError.from_dict(response.json())

        return response_422

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[HTTPValidationError | JobSubmitResponse]:
    try:
        parsed = _parse_response(client=client, response=response)
    # json.JSONDecodeError and pydantic.ValidationError are ValueErrors; absurdly deep JSON
    # makes json.loads raise RecursionError.
    except (ValueError, RecursionError) as exc:
        raise errors.UnexpectedResponseBody(response) from exc
    return Response(
        status_code=HTTPStatus(response.status_code)
        if response.status_code in _KNOWN_STATUSES
        else response.status_code,
        content=response.content,
        headers=response.headers,
        parsed=parsed,
        http_response=response,
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: EvaluateRequest,
) -> Response[HTTPValidationError | JobSubmitResponse]:
    """Submit Evaluation

     Submit an evaluation job to the queue.

    The job will be queued and processed sequentially.
    Use GET /jobs/{job_id} to check status and retrieve results.

    Args:
        body (EvaluateRequest): Request model for evaluation endpoint.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[HTTPValidationError | JobSubmitResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: EvaluateRequest,
) -> HTTPValidationError | JobSubmitResponse | None:
    """Submit Evaluation

     Submit an evaluation job to the queue.

    The job will be queued and processed sequentially.
    Use GET /jobs/{job_id} to check status and retrieve results.

    Args:
        body (EvaluateRequest): Request model for evaluation endpoint.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        HTTPValidationError | JobSubmitResponse
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: EvaluateRequest,
) -> Response[HTTPValidationError | JobSubmitResponse]:
    """Submit Evaluation

     Submit an evaluation job to the queue.

    The job will be queued and processed sequentially.
    Use GET /jobs/{job_id} to check status and retrieve results.

    Args:
        body (EvaluateRequest): Request model for evaluation endpoint.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[HTTPValidationError | JobSubmitResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: EvaluateRequest,
) -> HTTPValidationError | JobSubmitResponse | None:
    """Submit Evaluation

     Submit an evaluation job to the queue.

    The job will be queued and processed sequentially.
    Use GET /jobs/{job_id} to check status and retrieve results.

    Args:
        body (EvaluateRequest): Request model for evaluation endpoint.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        HTTPValidationError | JobSubmitResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
