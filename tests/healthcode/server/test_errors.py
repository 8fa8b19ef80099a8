"""The one error answer: status from the one table, Retry-After and details from the base error."""

from __future__ import annotations

from healthcode.errors import ErrorCode, RateLimited, RequestError
from healthcode.server.errors import error_answer


def test_rate_limited_answers_429_with_retry_after_of_at_least_one_second() -> None:
    status, headers, body = error_answer(RateLimited("too many logins", retry_after=0))
    assert (status, headers) == (429, {"Retry-After": "1"})
    assert (body["error"], body["message"]) == ("rate_limited", "too many logins")


def test_details_become_members_of_the_body_and_no_header_without_retry_after() -> None:
    error = RequestError(ErrorCode.INVALID_REQUEST, "refused", details={"problems": ["x"]})
    status, headers, body = error_answer(error)
    assert (status, headers, body["problems"]) == (422, {}, ["x"])
    assert body["text"]["zh"]  # the standard's short texts ride along
