from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_detail import ErrorDetail
from ...models.http_validation_error import HTTPValidationError
from ...models.merge_request import MergeRequest
from ...models.merge_response import MergeResponse
from ...types import Response

# Non-IANA codes (a proxy's 520, say) must not crash HTTPStatus().
_KNOWN_STATUSES = frozenset(HTTPStatus)


def _get_kwargs(
    *,
    body: MergeRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/merge",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorDetail | HTTPValidationError | MergeResponse | None:
    if response.status_code == 200:
        response_200 = MergeResponse.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorDetail.from_dict(response.json())

        return response_400

    if response.status_code == 404:
        response_404 = ErrorDetail.from_dict(response.json())

        return response_404

    if response.status_code == 422:
        response_422 = HTTPValidationError.from_dict(response.json())

        return response_422

    if response.status_code == 500:
        response_500 = ErrorDetail.from_dict(response.json())

        return response_500

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorDetail | HTTPValidationError | MergeResponse]:
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
    body: MergeRequest,
) -> Response[ErrorDetail | HTTPValidationError | MergeResponse]:
    """Merge Checkpoint

     Merge FSDP2 sharded checkpoint into a single consolidated checkpoint.

    This endpoint allows merging of distributed training checkpoints for use
    in evaluation or inference. The merge operation runs synchronously.

    Args:
        body (MergeRequest): Request model for merging FSDP2 sharded checkpoints.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorDetail | HTTPValidationError | MergeResponse]
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
    body: MergeRequest,
) -> ErrorDetail | HTTPValidationError | MergeResponse | None:
    """Merge Checkpoint

     Merge FSDP2 sharded checkpoint into a single consolidated checkpoint.

    This endpoint allows merging of distributed training checkpoints for use
    in evaluation or inference. The merge operation runs synchronously.

    Args:
        body (MergeRequest): Request model for merging FSDP2 sharded checkpoints.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorDetail | HTTPValidationError | MergeResponse
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: MergeRequest,
) -> Response[ErrorDetail | HTTPValidationError | MergeResponse]:
    """Merge Checkpoint

     Merge FSDP2 sharded checkpoint into a single consolidated checkpoint.

    This endpoint allows merging of distributed training checkpoints for use
    in evaluation or inference. The merge operation runs synchronously.

    Args:
        body (MergeRequest): Request model for merging FSDP2 sharded checkpoints.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorDetail | HTTPValidationError | MergeResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: MergeRequest,
) -> ErrorDetail | HTTPValidationError | MergeResponse | None:
    """Merge Checkpoint

     Merge FSDP2 sharded checkpoint into a single consolidated checkpoint.

    This endpoint allows merging of distributed training checkpoints for use
    in evaluation or inference. The merge operation runs synchronously.

    Args:
        body (MergeRequest): Request model for merging FSDP2 sharded checkpoints.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorDetail | HTTPValidationError | MergeResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
