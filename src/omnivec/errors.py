"""The omnivec error tree: every failure a caller can act on is one of these.

::

    OmnivecError                      500 INTERNAL
    ├── InvalidInput                  400 INVALID_ARGUMENT
    │   ├── UnsupportedMedia          400 (unknown or mismatched MIME type)
    │   ├── DecodeError               400 (corrupt, truncated, encrypted)
    │   └── LimitExceeded             400 (tokens, images, seconds, pages)
    │       └── PayloadTooLarge       413 (bytes per request)
    ├── AccessDenied                  403 PERMISSION_DENIED (paths outside allowed roots)
    ├── Unauthenticated               401 UNAUTHENTICATED
    ├── NotFound                      404 NOT_FOUND
    │   └── ModelNotFound
    ├── ModelMismatch                 409 FAILED_PRECONDITION (vectors of another model)
    ├── JobConflict                   409 FAILED_PRECONDITION (a batch work dir of another job)
    ├── Overloaded                    429 RESOURCE_EXHAUSTED
    ├── Unavailable                   503 UNAVAILABLE
    │   └── DeadlineExceeded          504 DEADLINE_EXCEEDED (request timeout)
    └── MissingDependency             500 (an optional package is not installed)

Library code raises these; the HTTP layer renders them with one table (``api/errors.py``),
so routes never pick status codes.
"""

from __future__ import annotations


class OmnivecError(Exception):
    """Base of all omnivec errors."""

    http_status: int = 500
    status: str = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(OmnivecError):
    http_status = 400
    status = "INVALID_ARGUMENT"


class UnsupportedMedia(InvalidInput):
    """The MIME type is not one we embed, or the bytes are not what the MIME type says."""


class DecodeError(InvalidInput):
    """The bytes claim a supported type but cannot be decoded (corrupt, truncated, encrypted)."""


class LimitExceeded(InvalidInput):
    """An input is over a documented limit; the message names the limit and the value found."""


class PayloadTooLarge(LimitExceeded):
    http_status = 413


class AccessDenied(OmnivecError):
    http_status = 403
    status = "PERMISSION_DENIED"


class Unauthenticated(OmnivecError):
    http_status = 401
    status = "UNAUTHENTICATED"


class NotFound(OmnivecError):
    http_status = 404
    status = "NOT_FOUND"


class ModelNotFound(NotFound):
    pass


class ModelMismatch(OmnivecError):
    http_status = 409
    status = "FAILED_PRECONDITION"


class JobConflict(OmnivecError):
    """The work dir or output belongs to another job (other input, options or model version)."""

    http_status = 409
    status = "FAILED_PRECONDITION"


class Overloaded(OmnivecError):
    http_status = 429
    status = "RESOURCE_EXHAUSTED"

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(OmnivecError):
    http_status = 503
    status = "UNAVAILABLE"

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeadlineExceeded(Unavailable):
    """A request did not finish within the server's request timeout."""

    http_status = 504
    status = "DEADLINE_EXCEEDED"


class MissingDependency(OmnivecError):
    """An optional heavy package is needed; the message names what to install."""
