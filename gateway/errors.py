"""The gateway's exception tree and its OpenAI-shaped error bodies.

    GatewayError
     ├── InvalidRequest              400 invalid_request_error
     ├── AuthenticationFailed        401 authentication_error
     ├── ModelNotFound               404 invalid_request_error (model_not_found)
     ├── PayloadTooLarge             413 invalid_request_error
     ├── RateLimited                 429 rate_limit_error (the key's own limits)
     ├── RequestBlocked              400 invalid_request_error (a policy said no)
     └── UpstreamError               502 upstream_error
          ├── UpstreamTimeout        504
          ├── UpstreamRateLimited    429 (Retry-After passed on)
          └── UpstreamRejected       400 (the provider refused the request itself)

Lower-layer errors (litellm, openai, pydantic, json) are translated into this tree at
one boundary each; a client only ever sees the body built by `GatewayError.body()`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationFailed",
    "GatewayError",
    "InvalidRequest",
    "ModelNotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RequestBlocked",
    "UpstreamError",
    "UpstreamRateLimited",
    "UpstreamRejected",
    "UpstreamTimeout",
]


class GatewayError(Exception):
    """Base of every error the gateway answers a client with."""

    status_code = 500
    error_type = "server_error"
    default_code: str | None = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The error as OpenAI's API shapes it: `{"error": {message, type, param, code}}`."""
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(GatewayError):
    """The request body is not valid JSON or does not match the endpoint's schema."""

    status_code = 400
    error_type = "invalid_request_error"
    default_code = "invalid_request"


class AuthenticationFailed(GatewayError):
    """No API key, or one the gateway does not know."""

    status_code = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"


class ModelNotFound(GatewayError):
    """The requested model is not one of the configured aliases."""

    status_code = 404
    error_type = "invalid_request_error"
    default_code = "model_not_found"


class PayloadTooLarge(GatewayError):
    """The request body is over the configured limit."""

    status_code = 413
    error_type = "invalid_request_error"
    default_code = "request_too_large"


class RateLimited(GatewayError):
    """The client key is over its requests or tokens per minute."""

    status_code = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class RequestBlocked(GatewayError):
    """A policy blocked the request; `code` is stable so clients can branch on it."""

    status_code = 400
    error_type = "invalid_request_error"
    default_code = "content_blocked"


class UpstreamError(GatewayError):
    """The upstream model failed (5xx, connection error, bad credentials of the gateway)."""

    status_code = 502
    error_type = "upstream_error"
    default_code = "upstream_error"


class UpstreamTimeout(UpstreamError):
    """The upstream model did not answer in time."""

    status_code = 504
    default_code = "upstream_timeout"


class UpstreamRateLimited(UpstreamError):
    """The upstream provider answered 429."""

    status_code = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class UpstreamRejected(UpstreamError):
    """The provider refused the request itself (400/422): the client can fix it."""

    status_code = 400
    error_type = "invalid_request_error"
    default_code = "upstream_bad_request"
