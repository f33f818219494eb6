"""Refusals with an HTTP status and a message the person at the page understands."""

from __future__ import annotations


class ApiError(Exception):
    status = 400
    retry_after_s: int | None = None  # sent as Retry-After when set

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.message}
        if self.problems:
            body["problems"] = self.problems
        return body


class Invalid(ApiError):
    status = 400


class Unauthenticated(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class TooMany(ApiError):
    status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(ApiError):
    status = 503
