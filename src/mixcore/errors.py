"""Domain errors that the API turns into OpenAI-shaped error responses."""

from __future__ import annotations

from typing import Any


class MixcoreError(Exception):
    """An error with an HTTP status and OpenAI's error `type` and `code`."""

    status = 500
    error_type = "server_error"
    code: str | None = "internal_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.details = details or {}

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.error_type,
                                 "param": self.param, "code": self.code}
        error.update(self.details)
        return {"error": error}


class InvalidRequest(MixcoreError):
    status = 400
    error_type = "invalid_request_error"
    code = "invalid_request"


class AuthenticationFailed(MixcoreError):
    status = 401
    error_type = "authentication_error"
    code = "invalid_api_key"


class BudgetExceeded(MixcoreError):
    status = 402
    error_type = "insufficient_quota"
    code = "budget_exceeded"


class NotFound(MixcoreError):
    status = 404
    error_type = "invalid_request_error"
    code = "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class PayloadTooLarge(MixcoreError):
    status = 413
    error_type = "invalid_request_error"
    code = "request_too_large"


class RateLimited(MixcoreError):
    status = 429
    error_type = "rate_limit_error"
    code = "rate_limit_exceeded"


class AllCandidatesFailed(MixcoreError):
    """Every upstream candidate failed; status is 502, 503 or 504 by what the failures were."""

    error_type = "upstream_error"
    code = "all_candidates_failed"

    def __init__(self, message: str, *, status: int, attempts: list[dict[str, Any]]) -> None:
        super().__init__(message, details={"attempts": attempts})
        self.status = status
        self.attempts = attempts


class MixUnavailable(MixcoreError):
    """A mix exists but cannot choose a model now (no ranking stored, nothing callable)."""

    status = 503
    error_type = "upstream_error"
    code = "mix_unavailable"
