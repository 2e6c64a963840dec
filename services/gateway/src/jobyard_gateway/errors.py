"""Every invalid request gets a 422 naming each offending field (400 for unreadable JSON)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import ClientException, HTTPException, ValidationException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_409_CONFLICT,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_503_SERVICE_UNAVAILABLE,
)


class ConflictException(ClientException):
    """The job's state does not allow the request (e.g. stopping a finished job)."""

    status_code = HTTP_409_CONFLICT


class QuotaExceededException(ClientException):
    status_code = HTTP_429_TOO_MANY_REQUESTS


class StorageQuotaExceededException(ClientException):
    """An upload would take the user's files past their quota."""

    status_code = HTTP_413_REQUEST_ENTITY_TOO_LARGE


class UploadRejectedException(ClientException):
    """The uploaded bytes are not what was declared (size or SHA-256): the file is rejected."""

    status_code = HTTP_422_UNPROCESSABLE_ENTITY


def field_errors(exc: HTTPException) -> list[dict[str, str]]:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            errors.append({"field": str(item.get("key", "")), "message": str(item.get("message"))})
    return errors


def bad_request(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Field errors become a 422 listing each field; an undecodable body stays a 400."""
    errors = field_errors(exc) if isinstance(exc, ValidationException) else []
    if not errors:
        return Response(
            {"status_code": 400, "detail": f"malformed request body: {exc.detail}"},
            status_code=HTTP_400_BAD_REQUEST,
        )
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return Response(
        {"status_code": 422, "detail": f"invalid request: {detail}", "errors": errors},
        status_code=HTTP_422_UNPROCESSABLE_ENTITY,
    )


def invalid_fields(problems: dict[str, str]) -> ValidationException:
    return ValidationException(
        detail="invalid request",
        extra=[{"key": field, "message": message} for field, message in problems.items()],
    )


def storage_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Object storage could not be reached (the minio SDK's transport gave up): nothing was
    recorded as done, so the client may simply try again."""
    return Response(
        {"status_code": 503, "detail": "file storage is unreachable right now; try again"},
        status_code=HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "5"},
    )
