"""Redis outages degrade revocation publishing (logged, retried); no request fails or waits."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis

from healthcode.revocation import redis_key
from issuers.auth import Role
from issuers.revocation import RevocationPublisher, revoke_outstanding
from tests.issuers.conftest import (
    TEST_SUBJECT_SECRET,
    TEST_TOKEN_SECRET,
    IssuerService,
    citizen_number,
    make_settings,
    running_issuer,
)
from tests.issuers.helpers import SwitchableProxy, lab_csv, recent
from tests.servers import RedisServer, free_port, redis_command, wait_for_port


@contextlib.contextmanager
def redis_on(port: int, directory: Path) -> Iterator[str]:
    """A real redis-server on a fixed port, so it can be stopped and started again there."""
    binary = shutil.which("redis-server")
    assert binary is not None
    process = subprocess.Popen(
        redis_command(binary, port, directory),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def test_revocation_survives_a_redis_outage_and_is_republished(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    id_number = citizen_number(91)
    with running_issuer(make_settings(tmp_path, url)) as svc:
        svc.register(id_number, "郑十")
        citizen = svc.citizen_headers(id_number)
        green = svc.http.get("/v1/me/code", headers=citizen).json()
        official = svc.staff_headers(Role.HEALTH_OFFICIAL)
        # Redis is down: the import still succeeds and the revocation is in the database.
        answer = svc.http.post(
            "/v1/feeds/lab_results",
            content=lab_csv((id_number, "positive", "pcr", recent())),
            headers=official,
        )
        assert answer.status_code == 200
        assert answer.json()["revoked"] == 1
        assert svc.context.publisher is not None
        assert not svc.context.publisher.healthy
        assert "Redis unavailable" in caplog.text
        signed = svc.http.get("/v1/revocations").json()["revocation_list"]
        assert signed  # the signed list does not need Redis
        with redis_on(port, tmp_path) as started:
            assert svc.context.publisher.retry()  # what the background task does every 5 s
            client = redis.Redis.from_url(started)
            assert client.sismember(redis_key("cn-sc"), green["jti"])
            # An operator can always rebuild the set from the database.
            client.flushall()
            env = {
                **os.environ,
                "HC_ISSUER_DATABASE_URL": svc.settings.database_url,
                "HC_ISSUER_REDIS_URL": started,
                "HC_ISSUER_KEY_DIR": str(svc.settings.key_dir),
                "HC_ISSUER_TOKEN_SECRET": TEST_TOKEN_SECRET,
                "HC_ISSUER_SUBJECT_SECRET": TEST_SUBJECT_SECRET,
            }
            done = subprocess.run(
                [sys.executable, "-m", "issuers", "rebuild-revocations"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            assert "1 revoked codes published" in done.stdout
            assert client.sismember(redis_key("cn-sc"), green["jti"])
            client.close()


def test_startup_rebuilds_redis_from_the_database(tmp_path: Path, redis_url: str) -> None:
    settings = make_settings(tmp_path, redis_url)
    id_number = citizen_number(92)
    with running_issuer(settings) as svc:
        svc.register(id_number, "钱十一")
        green = svc.http.get("/v1/me/code", headers=svc.citizen_headers(id_number)).json()
        official = svc.staff_headers(Role.HEALTH_OFFICIAL)
        svc.http.post(
            "/v1/feeds/lab_results",
            content=lab_csv((id_number, "positive", "pcr", recent())),
            headers=official,
        )
    client = redis.Redis.from_url(redis_url)
    client.flushall()  # Redis restarted empty
    with running_issuer(settings):
        assert client.sismember(redis_key("cn-sc"), green["jti"])
    client.close()


def _writes_to(proxy: SwitchableProxy, key: str) -> int:
    """How many SADDs to `key` reached the black-holed Redis."""
    return sum(
        1
        for command in proxy.swallowed_commands()
        if len(command) > 1 and command[0].upper() == b"SADD" and command[1] == key.encode()
    )


def test_a_black_holed_redis_never_slows_requests_and_is_caught_up(
    tmp_path: Path, redis_server: RedisServer, redis_url: str
) -> None:
    proxy = SwitchableProxy(redis_server.port)
    settings = make_settings(tmp_path, proxy.url, redis_timeout_s=0.3, redis_retry_interval_s=1.0)
    numbers = [citizen_number(n) for n in range(140, 146)]
    try:
        with running_issuer(settings) as svc:
            publisher = svc.context.publisher
            assert publisher is not None
            assert publisher.healthy
            headers = []
            for index, number in enumerate(numbers):
                svc.register(number, f"黑洞{index}")
                headers.append(svc.citizen_headers(number))
            greens = [svc.http.get("/v1/me/code", headers=h).json()["jti"] for h in headers]

            proxy.black_hole.set()  # Redis accepts connections and never answers again

            def fever(h: dict[str, str]) -> httpx.Response:
                return svc.http.post(
                    "/v1/me/declarations",
                    json={
                        "kind": "health_declaration",
                        "data": {"symptoms": ["fever"], "temperature_c": 38.5},
                    },
                    headers=h,
                )

            # Colour changes revoke codes while Redis hangs: at most one short timeout each,
            # counted as writes that reached Redis (the worker's rebuilds write a staging set,
            # never the published one), not timed: a loaded machine is slow either way.
            with ThreadPoolExecutor(6) as pool:
                declared = list(pool.map(fever, headers))
            assert [answer.status_code for answer in declared] == [201] * 6
            writes = _writes_to(proxy, redis_key("cn-sc"))
            assert 1 <= writes <= 6, writes
            assert not publisher.healthy
            # Requests that revoke nothing never touch Redis at all.
            with ThreadPoolExecutor(6) as pool:
                codes = list(pool.map(lambda h: svc.http.get("/v1/me/code", headers=h), headers))
            assert [answer.status_code for answer in codes] == [200] * 6
            assert _writes_to(proxy, redis_key("cn-sc")) == writes

            proxy.black_hole.clear()  # Redis answers again: the worker rebuilds by itself
            client = redis.Redis.from_url(redis_url)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not publisher.healthy:
                time.sleep(0.1)
            assert publisher.healthy
            assert all(client.sismember(redis_key("cn-sc"), jti) for jti in greens)
            client.close()
    finally:
        proxy.close()


def test_a_rebuild_keeps_a_revocation_another_replica_added_meanwhile(
    issuer: IssuerService, redis_url: str
) -> None:
    ctx = issuer.context
    id_number = citizen_number(147)
    issuer.register(id_number, "曹廿四")
    jti = issuer.http.get("/v1/me/code", headers=issuer.citizen_headers(id_number)).json()["jti"]
    rebuilding = ctx.publisher
    assert rebuilding is not None
    other_replica = RevocationPublisher(redis_url, "cn-sc", ctx.engine)
    client = redis.Redis.from_url(redis_url)
    try:
        assert other_replica.rebuild()
        snapshot = rebuilding.snapshot()  # the rebuild has read the database...
        with ctx.session() as session:  # ...when another replica revokes and publishes a code
            revoked = revoke_outstanding(session, issuer.subject(id_number))
            session.commit()
        assert revoked == [jti]
        assert other_replica.publish(revoked)
        assert client.sismember(redis_key("cn-sc"), jti)
        assert rebuilding.swap_in(snapshot)  # RENAME replaces the set with the snapshot...
        assert snapshot.jtis == []
        assert client.sismember(redis_key("cn-sc"), jti)  # ...and the newer row is re-added
    finally:
        other_replica.close()
        client.close()


def test_revocations_committed_elsewhere_reach_redis_without_a_publish(
    tmp_path: Path, redis_url: str
) -> None:
    """A CLI import whose Redis write failed, or another replica: the worker catches up."""
    settings = make_settings(tmp_path, redis_url, redis_retry_interval_s=0.5)
    with running_issuer(settings) as svc:
        id_number = citizen_number(148)
        svc.register(id_number, "严廿五")
        jti = svc.http.get("/v1/me/code", headers=svc.citizen_headers(id_number)).json()["jti"]
        with svc.context.session() as session:
            assert revoke_outstanding(session, svc.subject(id_number)) == [jti]
            session.commit()  # committed, never published by this process
        client = redis.Redis.from_url(redis_url)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not client.sismember(redis_key("cn-sc"), jti):
            time.sleep(0.1)
        assert client.sismember(redis_key("cn-sc"), jti)
        client.close()
