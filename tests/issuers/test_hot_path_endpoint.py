"""`GET /v1/me/code` and `GET /v1/me` as answered by `CitizenHotPath`, ahead of FastAPI's
routing (ADR 0022): the same answers, headers, refusals and metrics as a routed request.

A real issuer (uvicorn) with a real redis-server; the code is read until Redis holds it, so
both the database path (a miss) and the cached bytes (a hit) are exercised.
"""

from __future__ import annotations

import httpx
import orjson
import pytest
import redis

from issuers.auth import Principal, Role, open_session
from tests.issuers.conftest import IssuerService, citizen_number, metric_sample

CODE, ME = "/v1/me/code", "/v1/me"
PNG, SVG = "/v1/me/code.png", "/v1/me/code.svg"


def _citizen(issuer: IssuerService, sequence: int) -> tuple[str, dict[str, str]]:
    number = citizen_number(sequence)
    issuer.register(number, "张三")
    return number, issuer.citizen_headers(number)


def _cached(issuer: IssuerService, redis_url: str, number: str) -> bool:
    hot = issuer.context.hot
    assert hot is not None
    client = redis.Redis.from_url(redis_url)
    try:
        return bool(client.exists(hot.code_key(issuer.subject(number))))
    finally:
        client.close()


def _first_and_cached_answers(
    issuer: IssuerService, redis_url: str, number: str, headers: dict[str, str]
) -> tuple[httpx.Response, httpx.Response]:
    """The answer that filled the cache (a database read) and the next one (a cache hit)."""
    assert not _cached(issuer, redis_url, number)
    for _ in range(50):
        miss = issuer.http.get(CODE, headers=headers)
        assert miss.status_code == 200, miss.text
        if _cached(issuer, redis_url, number):
            return miss, issuer.http.get(CODE, headers=headers)
    raise AssertionError("the code never reached the cache")


@pytest.mark.parametrize("path", [CODE, ME])
def test_other_methods_get_the_routers_405(issuer: IssuerService, path: str) -> None:
    _, headers = _citizen(issuer, 21)
    answer = issuer.http.post(path, headers=headers, json={})
    assert answer.status_code == 405, answer.text
    assert answer.json()["error"] == "invalid_request"
    assert "GET" in answer.headers["allow"]


def _wrong_signature_token(issuer: IssuerService, number: str) -> str:
    """A token for a real, open session, signed with a secret that is not the issuer's."""
    with issuer.context.session() as session:
        token = open_session(
            session,
            Principal(role=Role.CITIZEN, subject=issuer.subject(number)),
            b"not-the-issuers-token-secret-0123456789",
            600,
        )
        session.commit()
    return token


@pytest.mark.parametrize("path", [CODE, ME, PNG, SVG])
def test_refusals_are_the_standard_error_answer_and_counted(
    issuer: IssuerService, path: str
) -> None:
    number, good = _citizen(issuer, 22)
    refused_headers: list[dict[str, str]] = [
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Bearer {_wrong_signature_token(issuer, number)}"},
    ]
    counted = {"service": "issuer", "code": "unauthenticated"}
    before = issuer.http.get("/metrics").text
    for headers in refused_headers:
        answer = issuer.http.get(path, headers=headers)
        assert answer.status_code == 401, (headers, answer.text)
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["x-request-id"]
        body = answer.json()
        assert body["error"] == "unauthenticated"
        assert body["message"]
        assert body["hint"]
        assert set(body["text"]) == {"en", "zh"}
        assert set(body["staff_text"]) == {"en", "zh"}
        assert "cache-control" not in answer.headers
    after = issuer.http.get("/metrics").text
    assert metric_sample(after, "hc_errors_total", **counted) - metric_sample(
        before, "hc_errors_total", **counted
    ) == len(refused_headers)
    refused = {"service": "issuer", "route": path, "method": "GET", "status": "401"}
    assert metric_sample(after, "hc_http_requests_total", **refused) - metric_sample(
        before, "hc_http_requests_total", **refused
    ) == len(refused_headers)
    # The good token still works, and a caller's own request id is echoed.
    answer = issuer.http.get(path, headers={**good, "X-Request-ID": "lb-hot-1"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-request-id"] == "lb-hot-1"


def test_a_code_answer_and_its_cached_copy(issuer: IssuerService, redis_url: str) -> None:
    number, headers = _citizen(issuer, 23)
    before = issuer.http.get("/metrics").text
    miss, hit = _first_and_cached_answers(issuer, redis_url, number, headers)
    for answer in (miss, hit):
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["etag"] == f'"{answer.json()["status_version"]}"'
        assert answer.headers["x-request-id"]
        assert int(answer.headers["content-length"]) == len(answer.content)
    # The hit sends the very bytes the miss answered (no parse and re-encode in between).
    assert hit.content == miss.content
    assert hit.headers["etag"] == miss.headers["etag"]
    assert orjson.loads(hit.content)["status"] == "green"
    after = issuer.http.get("/metrics").text
    routed = {"service": "issuer", "route": CODE, "method": "GET", "status": "200"}
    answered = metric_sample(after, "hc_http_requests_total", **routed)
    assert answered - metric_sample(before, "hc_http_requests_total", **routed) >= 2
    unmatched = {"service": "issuer", "route": "unmatched", "method": "GET", "status": "200"}
    assert metric_sample(after, "hc_http_requests_total", **unmatched) == metric_sample(
        before, "hc_http_requests_total", **unmatched
    )
    hits = {"service": "issuer", "result": "hit"}
    assert metric_sample(after, "hc_code_cache_total", **hits) > metric_sample(
        before, "hc_code_cache_total", **hits
    )


def test_a_profile_answer_and_its_cached_copy(issuer: IssuerService, redis_url: str) -> None:
    number, headers = _citizen(issuer, 24)
    first = issuer.http.get(ME, headers=headers)
    _first_and_cached_answers(issuer, redis_url, number, headers)
    cached = issuer.http.get(ME, headers=headers)
    for answer in (first, cached):
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["cache-control"] == "no-store"
        assert "etag" not in answer.headers
    assert cached.content == first.content
    assert cached.json()["colour"] == "green"
    assert cached.json()["id_tail"] == number[-4:]


@pytest.mark.parametrize(
    ("path", "content_type", "magic"),
    [(PNG, "image/png", b"\x89PNG"), (SVG, "image/svg+xml", b"<svg ")],
)
def test_the_code_image_and_its_304_while_the_page_holds_it(
    issuer: IssuerService, redis_url: str, path: str, content_type: str, magic: bytes
) -> None:
    """The page polls the image with `If-None-Match`: answered ahead of routing, from the
    cached code, 304 (no body, no length) while the code is the one the page shows."""
    number, headers = _citizen(issuer, 25 if path == PNG else 26)
    _first_and_cached_answers(issuer, redis_url, number, headers)
    before = issuer.http.get("/metrics").text
    image = issuer.http.get(path, headers=headers)
    assert image.status_code == 200, image.text
    assert image.headers["content-type"] == content_type
    assert image.headers["cache-control"] == "private, max-age=60"
    assert int(image.headers["content-length"]) == len(image.content)
    assert image.content.startswith(magic)
    etag = image.headers["etag"]
    unchanged = issuer.http.get(path, headers={**headers, "If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert "content-length" not in unchanged.headers
    assert unchanged.headers["etag"] == etag
    stale = issuer.http.get(path, headers={**headers, "If-None-Match": '"an-older-code"'})
    assert stale.status_code == 200
    assert stale.content == image.content
    after = issuer.http.get("/metrics").text
    for status, count in (("200", 2), ("304", 1)):
        routed = {"service": "issuer", "route": path, "method": "GET", "status": status}
        answered = metric_sample(after, "hc_http_requests_total", **routed)
        assert answered - metric_sample(before, "hc_http_requests_total", **routed) == count
