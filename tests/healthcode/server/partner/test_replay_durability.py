"""Replay protection survives a Redis restart (ADR 0020): a real redis-server, killed with
SIGKILL and started again on the same data directory, still knows every jti it acknowledged."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.healthcode.server.partner.partner_api import Federation, PartnerApi
from tests.servers import RedisServer


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def used(
    federation: Federation, own_redis: RedisServer
) -> Iterator[tuple[PartnerApi, dict[str, str]]]:
    """A partner API on its own Redis, and an assertion that has been used once."""
    api = PartnerApi(federation, own_redis.url)
    headers = api.bearer()
    assert api.http.get("/revocations", headers=headers).status_code == 200
    yield api, headers
    api.close()


def test_a_refused_replay_is_still_refused_after_redis_is_killed(
    used: tuple[PartnerApi, dict[str, str]], own_redis: RedisServer
) -> None:
    api, headers = used
    replayed = api.http.get("/revocations", headers=headers)
    assert (replayed.status_code, replayed.json()["error"]) == (401, "assertion_replayed")

    own_redis.crash_and_restart()  # kill -9, then the same port and data directory

    again = api.http.get("/revocations", headers=headers)
    assert (again.status_code, again.json()["error"]) == (401, "assertion_replayed")
    # Redis is back and serving: a fresh assertion is admitted, so the refusal above is the
    # remembered jti, not an outage.
    assert api.http.get("/revocations", headers=api.bearer()).status_code == 200


def test_without_the_aof_the_same_kill_forgets_the_jti(
    used: tuple[PartnerApi, dict[str, str]], own_redis: RedisServer
) -> None:
    # The control: with no persistence the used assertion is admitted again (the defect as
    # reported), which is exactly what the AOF prevents.
    api, headers = used
    own_redis.crash_and_restart(appendonly=False)
    assert api.http.get("/revocations", headers=headers).status_code == 200
