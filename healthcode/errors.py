"""Errors of the healthcode standard, each with a stable code.

Every way a credential, a trust list or a request can fail has one `ErrorCode`. The codes are
part of the interface standard (docs/standard.md §9): checkpoint screens, partner systems and
scripts key off them, so a code is never renamed or reused for another meaning.

Hierarchy::

    HealthcodeError            base of everything raised on purpose; carries `code`
    ├── VerificationError      the input is bad (a red/error screen plus its code)
    ├── TrustListError         a trust list or root was refused (rollback, freeze, signatures)
    ├── TrustUnavailable       a dependency (registry, Redis, a partner) could not be reached
    │   └── PeerError          a peer's answer never came, or came too slow, large or malformed
    └── RequestError           a service request was refused (auth, roles, validation)
        └── RateLimited        too many requests or attempts (429 with Retry-After)

The codes themselves are listed in `healthcode.error_codes` and what people are told about each
(§9 titles, operator hints, the staff page's plain sentences) in `healthcode.error_catalogue`;
both are re-exported here, the one import for callers.

Bugs are not `HealthcodeError`s: misuse raises `ValueError`/`TypeError`/`RuntimeError`, which the
HTTP layer answers with a 500 and which we then fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from healthcode.error_catalogue import ERROR_INFO, ErrorInfo
from healthcode.error_codes import ErrorCode

__all__ = [
    "ERROR_INFO",
    "ErrorCode",
    "ErrorInfo",
    "HealthcodeError",
    "PeerError",
    "RateLimited",
    "RequestError",
    "TrustListError",
    "TrustUnavailable",
    "VerificationError",
]


class HealthcodeError(Exception):
    """Base of every error raised on purpose by healthcode and its services.

    `retry_after` (seconds) becomes the answer's Retry-After header; `details` are more
    members of the answer's JSON body (e.g. how far an interrupted import got). Both are
    declared here so the one error answer (`healthcode.server.errors.error_answer`) reads
    them from any error.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        retry_after: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.details: dict[str, Any] = dict(details or {})

    @property
    def hint(self) -> str:
        """What to do about it, from the standard's error table."""
        return ERROR_INFO[self.code].hint

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.value!r}, {self.message!r})"


class VerificationError(HealthcodeError):
    """A credential (or the text claiming to be one) failed verification."""


class TrustListError(HealthcodeError):
    """A trust list or root document was refused."""


class TrustUnavailable(HealthcodeError):
    """Something verification depends on could not be reached; the answer says what."""


class PeerError(TrustUnavailable):
    """A call to another service failed: unreachable, past its deadline, over its size bound
    or malformed (`healthcode.fetch`). Nothing of the answer was used."""


class RequestError(HealthcodeError):
    """A service request was refused; the HTTP layer maps `code` to a status."""


class RateLimited(RequestError):
    """Too many requests or attempts (a partner over its limit, login throttles): 429
    `rate_limited` with Retry-After, `retry_after` seconds (at least 1) until one more is
    allowed."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(ErrorCode.RATE_LIMITED, message, retry_after=max(1, retry_after))
