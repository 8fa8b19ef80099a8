"""Schemathesis contract runs for each service's OpenAPI (issue 13, standard §9).

Every operation gets a bounded number of generated requests, valid and invalid, sent to the app
in process; every response goes through ALL of schemathesis's checks: no server error, only
documented statuses and content types, bodies matching their schemas, invalid data refused,
valid data accepted, missing auth refused, and so on. Examples are derandomised (the same cases
every run) and have no deadline: a loaded machine makes the run slower, never failing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Err

from healthcode.errors import ErrorCode
from healthcode.server.errors import HTTP_STATUS

__all__ = ["ALL_CHECKS", "contract_failures"]

schemathesis.checks.load_all_checks()  # the registry holds only the first check until then
ALL_CHECKS = schemathesis.checks.CHECKS.get_all()
assert len(ALL_CHECKS) > 10, ALL_CHECKS

#: Cases per operation and generation mode: enough to reach each status of our operations.
MAX_EXAMPLES = 12

_bounded = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

#: The headers (a real bearer token) to send with one case, chosen by its path and method.
HeadersFor = Callable[[Any], dict[str, str]]

_POSITIVE_DATA = next(check for check in ALL_CHECKS if check.__name__ == "positive_data_acceptance")
_NEGATIVE_DATA: Any = next(c for c in ALL_CHECKS if c.__name__ == "negative_data_rejection")


def _negative_data_rejected(ctx: Any, response: Any, case: Any) -> Any:
    """Schemathesis's negative-data check, with one more way to refuse: a body over the
    service's byte limit is refused before it is parsed, 413 `input_too_large` (§9), which
    rejects the invalid request as surely as a 422 (the check's list has no 413)."""
    if response.status_code == 413 and response.json().get("error") == "input_too_large":
        return None
    return _NEGATIVE_DATA(ctx, response, case)


_negative_data_rejected.__name__ = _NEGATIVE_DATA.__name__


def _refused_as_invalid_only(ctx: Any, response: Any, case: Any) -> None:
    """For a request the schema cannot fully describe: schema-valid data may be refused, but
    only with 422 and a §9 code of that status, never with another status or body."""
    if response.status_code != 422:
        return  # every other status is held to its documentation by the other checks
    code = ErrorCode(response.json()["error"])
    assert HTTP_STATUS[code] == 422, response.text


def contract_failures(
    app: FastAPI, headers_for: HeadersFor, *, semantic: dict[str, str] | None = None
) -> list[str]:
    """Run every operation of `app`'s OpenAPI; the failures, one line each (none: all good).

    `semantic` names operations (by label, e.g. "POST /v1/admin/issuers") whose bodies carry
    what no JSON schema can say is valid (a key that must be a curve point, a signature over
    other fields), with the reason: their schema-valid requests may be refused 422.
    """
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # an operation the schema cannot describe is a failure
            failures.append(f"schema: {result.err()}")
            continue
        operation = result.ok()
        relaxed = operation.label in (semantic or {})
        checks = [
            _negative_data_rejected if c is _NEGATIVE_DATA else c
            for c in ALL_CHECKS
            if not relaxed or c is not _POSITIVE_DATA
        ]
        extra = [_refused_as_invalid_only] if relaxed else []
        for mode in GenerationMode:
            try:
                _runner(operation, mode, headers_for, checks, extra)()
            except Unsatisfiable:
                continue  # no invalid request exists (an operation without parameters)
            except (Exception, BaseExceptionGroup) as error:  # failed checks, as reported
                summary = " ".join(str(error).split())[:600]
                failures.append(f"{operation.label} [{mode.value}]: {summary}")
    return failures


def _runner(
    operation: Any,
    mode: GenerationMode,
    headers_for: HeadersFor,
    checks: list[Any],
    extra: list[Any],
) -> Callable[[], None]:
    @_bounded
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers_for(case), checks=checks, additional_checks=extra)

    return run
