"""Redis outages degrade revocation publishing (logged, retried) and never fail a request."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from issuers.auth import Role
from issuers.revocation import redis_key
from tests.issuers.conftest import (
    TEST_SUBJECT_SECRET,
    TEST_TOKEN_SECRET,
    citizen_number,
    make_settings,
    running_issuer,
)
from tests.issuers.helpers import lab_csv, recent
from tests.servers import free_port, wait_for_port


@contextlib.contextmanager
def redis_on(port: int, directory: Path) -> Iterator[str]:
    """A real redis-server on a fixed port, so it can be stopped and started again there."""
    binary = shutil.which("redis-server")
    assert binary is not None
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
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
