"""Exceptions a user can catch, one per kind of refusal."""

from __future__ import annotations

from typing import Any


class JobyardError(Exception):
    """Base of every error the SDK raises."""

    def __init__(self, message: str, *, status_code: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body


class AuthenticationError(JobyardError):
    """Missing or wrong API key (401), or an operation the key may not do (403)."""


class NotFoundError(JobyardError):
    """No such job for this user (deleted, never existed, or another user's)."""


class ValidationError(JobyardError):
    """The request was refused; `errors` lists `{"field", "message"}` for each bad field."""

    @property
    def errors(self) -> list[dict[str, str]]:
        return list(self.body.get("errors", [])) if isinstance(self.body, dict) else []


class ConflictError(JobyardError):
    """The job's state does not allow it (e.g. stopping a finished job)."""


class QuotaExceededError(JobyardError):
    """Too many active jobs for this user (429), or no room left for a file in the user's
    storage quota (413)."""


class StorageError(JobyardError):
    """Object storage refused a transfer (an expired link, a part of the wrong size...)."""


class ChecksumMismatchError(JobyardError):
    """Downloaded bytes differ from the file's recorded size or SHA-256; nothing was kept."""


BY_STATUS: dict[int, type[JobyardError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    413: QuotaExceededError,
    422: ValidationError,
    429: QuotaExceededError,
}
