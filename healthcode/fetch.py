"""The one HTTP client for every call a service makes to another (issue 13, ADR 0018).

Peers are trusted for their signatures, never for their size, speed or shape. Every answer a
`PeerClient` reads is bounded three ways, by the `ReadBounds` of the endpoint called:

- **bytes**: we send `Accept-Encoding: identity`; a peer that compresses anyway is decoded
  here (gzip and deflate only, never brotli or zstd), in steps that stop at the cap, so the
  *decoded* size is what is bounded, while it streams;
- **time**: one deadline for the whole request (connect, send, headers, body). Every socket
  operation waits at most until the deadline, so a peer dripping a byte every few seconds is
  cut there, not after one read timeout per byte;
- **shape**: `PeerAnswer.json()` refuses JSON nested deeper than `max_json_depth`.

Every failure is a `PeerError` with one of our codes: `upstream_unavailable` (unreachable),
`upstream_timeout`, `upstream_too_large`, `upstream_malformed`. The bounds of each endpoint are
data (`PEER_BOUNDS`, in the manner of python-tuf's `UpdaterConfig`), tabled in
docs/peer-bounds.md::

    with PeerClient() as http:
        answer = http.get(url, PEER_BOUNDS.trust_list, headers={"If-None-Match": etag})
        if answer.status_code == 200:
            document = answer.json()
"""

from __future__ import annotations

import ssl
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import httpx

from healthcode.boundedjson import DEFAULT_MAX_DEPTH
from healthcode.boundedjson import loads as bounded_loads
from healthcode.deadline import DeadlineTransport, deadlines, job_deadline
from healthcode.errors import ErrorCode, PeerError

__all__ = [
    "KIB",
    "MIB",
    "PEER_BOUNDS",
    "PEER_FAILURES",
    "PeerAnswer",
    "PeerBounds",
    "PeerClient",
    "ReadBounds",
    "job_deadline",
]

#: Every code a `PeerError` carries: what a route that calls another service may answer with.
PEER_FAILURES = (
    ErrorCode.UPSTREAM_UNAVAILABLE,
    ErrorCode.UPSTREAM_TIMEOUT,
    ErrorCode.UPSTREAM_TOO_LARGE,
    ErrorCode.UPSTREAM_MALFORMED,
)

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, slots=True)
class ReadBounds:
    """How much of a peer's answer to one endpoint is read, and for how long."""

    max_bytes: int  # decoded body bytes
    deadline_s: float  # the whole request, connect to last byte
    max_json_depth: int = DEFAULT_MAX_DEPTH  # nesting levels of a JSON body

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.deadline_s <= 0 or self.max_json_depth <= 0:
            raise ValueError(f"read bounds must be positive: {self}")


@dataclass(frozen=True, slots=True)
class PeerBounds:
    """The bounds of every endpoint a service calls (docs/peer-bounds.md tables them)."""

    root: ReadBounds = ReadBounds(512 * KIB, 10.0)  # GET /v1/root/{n} of the registry
    trust_list: ReadBounds = ReadBounds(4 * MIB, 20.0)  # GET /v1/trust-list
    timestamp: ReadBounds = ReadBounds(16 * KIB, 10.0)  # GET /v1/timestamp
    revocations: ReadBounds = ReadBounds(8 * MIB, 20.0)  # an issuer's signed revocation list
    issuer_keys: ReadBounds = ReadBounds(256 * KIB, 10.0)  # an issuer's JWKS
    status_lookup: ReadBounds = ReadBounds(64 * KIB, 5.0)  # one ID-card status look-up
    partner_call: ReadBounds = ReadBounds(1 * MIB, 10.0)  # a partner API call
    partner_sync: ReadBounds = ReadBounds(16 * MIB, 30.0)  # a partner's bulk feed page
    service_call: ReadBounds = ReadBounds(4 * MIB, 15.0)  # anything else between our services
    document: ReadBounds = ReadBounds(32 * MIB, 60.0)  # printable documents (PDF sheets)


PEER_BOUNDS = PeerBounds()

#: Encodings we can decode in bounded steps; anything else a peer sends is refused.
_ZLIB_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": 0}
_CHUNK = 64 * KIB


@dataclass(frozen=True, slots=True)
class PeerAnswer:
    """A peer's answer read whole within its bounds."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str
    bounds: ReadBounds = field(repr=False)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON, nested at most `bounds.max_json_depth` deep.

        Raises:
            PeerError: `upstream_malformed` if it is not JSON or nests too deep.
        """
        try:
            return bounded_loads(self.content, max_depth=self.bounds.max_json_depth)
        except ValueError as exc:
            raise PeerError(
                ErrorCode.UPSTREAM_MALFORMED, f"{_where(self.url)} answered bad JSON: {exc}"
            ) from exc

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300


class PeerClient:
    """A bounded HTTP client; one per service, shared by its threads.

    Args:
        base_url: prefix for relative URLs.
        headers: sent with every request (e.g. a service's bearer token).
        verify: TLS verification, as httpx takes it (a context, a CA file, True/False).
        transport: another transport (tests pass an ASGI/WSGI app); the deadline is then
            checked between reads only, not inside one.
        bounds: the bounds of a call that names none (a client for one kind of endpoint).
    """

    def __init__(
        self,
        base_url: str = "",
        *,
        headers: Mapping[str, str] | None = None,
        verify: ssl.SSLContext | str | bool = True,
        transport: httpx.BaseTransport | None = None,
        bounds: ReadBounds | None = None,
    ) -> None:
        self.bounds = bounds or PEER_BOUNDS.service_call
        self._http = httpx.Client(
            base_url=base_url,
            headers={**(headers or {}), "Accept-Encoding": "identity"},
            transport=transport or DeadlineTransport(verify),
            follow_redirects=False,
            trust_env=False,
        )

    @property
    def headers(self) -> httpx.Headers:
        return self._http.headers

    def get(self, url: str, bounds: ReadBounds | None = None, **kwargs: Any) -> PeerAnswer:
        return self.request("GET", url, bounds, **kwargs)

    def post(self, url: str, bounds: ReadBounds | None = None, **kwargs: Any) -> PeerAnswer:
        return self.request("POST", url, bounds, **kwargs)

    def request(
        self,
        method: str,
        url: str,
        bounds: ReadBounds | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> PeerAnswer:
        """Send one request and read its answer within `bounds` (default: the client's);
        any status is returned.

        Raises:
            PeerError: unreachable, past the deadline, over the byte cap, or an encoding we do
                not decode.
        """
        bounds = bounds or self.bounds
        now = time.monotonic()
        deadline = now + bounds.deadline_s
        if deadlines.job is not None:
            deadline = min(deadline, deadlines.job)
        request = self._http.build_request(
            method,
            url,
            params=params,
            headers=headers,
            json=json,
            content=content,
            data=data,
            timeout=httpx.Timeout(bounds.deadline_s),
        )
        where = _where(str(request.url))
        if deadline <= now:
            _too_slow(where, bounds, None)
        deadlines.at = deadline
        try:
            response = self._http.send(request, stream=True)
            try:
                body = _read_body(response, bounds, deadline, where)
            finally:
                response.close()
        except httpx.TimeoutException as exc:
            _too_slow(where, bounds, exc)
        except httpx.HTTPError as exc:
            if time.monotonic() >= deadline:
                _too_slow(where, bounds, exc)
            raise PeerError(
                ErrorCode.UPSTREAM_UNAVAILABLE, f"{where} could not be reached: {exc}"
            ) from exc
        finally:
            deadlines.at = None
        return PeerAnswer(response.status_code, response.headers, body, str(request.url), bounds)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PeerClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _read_body(response: httpx.Response, bounds: ReadBounds, deadline: float, where: str) -> bytes:
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    declared = response.headers.get("Content-Length", "")
    if encoding == "identity" and declared.isdigit() and int(declared) > bounds.max_bytes:
        _too_large(where, bounds)
    body = bytearray()
    for piece in _decoded(response.iter_raw(_CHUNK), encoding, bounds.max_bytes, where):
        body += piece
        if len(body) > bounds.max_bytes:
            _too_large(where, bounds)
        if time.monotonic() > deadline:  # also covers transports that ignore our backend
            raise httpx.ReadTimeout("deadline passed", request=response.request)
    return bytes(body)


def _decoded(raw: Iterator[bytes], encoding: str, cap: int, where: str) -> Iterator[bytes]:
    """Decode `raw` in steps that never produce more than `cap + 1` bytes in all."""
    if encoding in ("identity", ""):
        yield from raw
        return
    if encoding not in _ZLIB_WBITS:
        raise PeerError(
            ErrorCode.UPSTREAM_MALFORMED,
            f"{where} answered with Content-Encoding {encoding!r}; we accept identity only "
            "(gzip and deflate are decoded within the size bound)",
        )
    wbits = _ZLIB_WBITS[encoding] or zlib.MAX_WBITS  # deflate: zlib-wrapped, per RFC 9110
    decoder = zlib.decompressobj(wbits)
    produced = 0
    try:
        for chunk in raw:
            pending = chunk
            while pending and produced <= cap:
                piece = decoder.decompress(pending, cap + 1 - produced)
                produced += len(piece)
                pending = decoder.unconsumed_tail
                yield piece
            if produced > cap:
                return
        yield decoder.flush()
    except zlib.error as exc:
        raise PeerError(
            ErrorCode.UPSTREAM_MALFORMED, f"{where} sent a damaged {encoding} body: {exc}"
        ) from exc


def _too_large(where: str, bounds: ReadBounds) -> NoReturn:
    raise PeerError(
        ErrorCode.UPSTREAM_TOO_LARGE,
        f"{where} answered more than {bounds.max_bytes} bytes (decoded); the answer was dropped",
    )


def _too_slow(where: str, bounds: ReadBounds, exc: Exception | None) -> NoReturn:
    within = f"{bounds.deadline_s:g} s"
    if deadlines.job is not None:
        within += " or its job's deadline"
    raise PeerError(
        ErrorCode.UPSTREAM_TIMEOUT,
        f"{where} did not answer completely within {within}; the answer was dropped",
    ) from exc


def _where(url: str) -> str:
    """The URL without its query (a query may carry a citizen's look-up key)."""
    return url.split("?", 1)[0]
