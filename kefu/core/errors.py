"""The one error model: an error a request may end with carries its HTTP
status, a message for the caller and, where two refusals of one status must be
told apart, a short machine code. The desk (aiohttp) and the channels (Sanic)
each render it once, in a middleware or an error handler; handlers raise."""

from __future__ import annotations

from typing import Any, ClassVar


class KefuError(Exception):
    status: ClassVar[int] = 500

    def __init__(self, message: str, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        if status is not None:
            self.status = status  # type: ignore[misc]

    def as_json(self) -> dict[str, Any]:
        return {"error": self.message, **({"code": self.code} if self.code else {})}


class BadRequest(KefuError):
    status = 400


class Unauthorized(KefuError):
    status = 401


class Forbidden(KefuError):
    status = 403


class NotFound(KefuError):
    status = 404


class Conflict(KefuError):
    status = 409


class PayloadTooLarge(KefuError):
    status = 413


class TooManyRequests(KefuError):
    status = 429


class Unavailable(KefuError):
    status = 503
