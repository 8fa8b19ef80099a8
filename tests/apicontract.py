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

__all__ = ["ALL_CHECKS", "contract_failures"]

ALL_CHECKS = schemathesis.checks.CHECKS.get_all()

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


def contract_failures(app: FastAPI, headers_for: HeadersFor) -> list[str]:
    """Run every operation of `app`'s OpenAPI; the failures, one line each (none: all good)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # an operation the schema cannot describe is a failure
            failures.append(f"schema: {result.err()}")
            continue
        operation = result.ok()
        for mode in GenerationMode:

            @_bounded
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                case.call_and_validate(headers=headers_for(case), checks=ALL_CHECKS)

            try:
                run()
            except Unsatisfiable:
                continue  # no invalid request exists (an operation without parameters)
            except Exception as error:  # a failed check, with schemathesis's own report
                summary = " ".join(str(error).split())[:600]
                failures.append(f"{operation.label} [{mode.value}]: {summary}")
    return failures
