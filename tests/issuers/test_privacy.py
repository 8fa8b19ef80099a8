"""Raw ID numbers never reach the database, the logs or Redis."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import redis

from issuers.auth import Role
from tests.issuers.conftest import citizen_number, make_settings, running_issuer
from tests.issuers.helpers import lab_csv, recent


def test_no_raw_id_number_in_database_logs_or_redis(
    tmp_path: Path,
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    numbers = [citizen_number(sequence) for sequence in range(31, 37)]
    feed_only = citizen_number(38)  # appears in a feed but never registers
    malformed = numbers[0][:-1] + ("0" if numbers[0][-1] != "0" else "1")  # bad check digit
    settings = make_settings(tmp_path, redis_url, demo_mode=True)
    with running_issuer(settings) as svc:
        for index, number in enumerate(numbers):
            svc.register(number, f"测试{index}号", phone=f"1390000{index:04d}")
        for number in numbers:
            svc.http.get("/v1/me/code", headers=svc.citizen_headers(number))
        official = svc.staff_headers(Role.HEALTH_OFFICIAL)
        csv = lab_csv(
            *[(number, "positive", "pcr", recent()) for number in numbers[:3]],
            (feed_only, "negative", "antigen", recent()),
            (malformed, "positive", "pcr", recent()),
        )
        report = svc.http.post(
            "/v1/feeds/lab_results", content=csv, headers={**official, "Content-Type": "text/csv"}
        ).json()
        assert report["accepted"] == 4
        assert report["rejected_count"] == 1
        guardian = svc.citizen_headers(numbers[3])
        svc.http.post(
            "/v1/family", json={"id_number": numbers[4], "name": "测试4号"}, headers=guardian
        )
        svc.http.post("/v1/family", json={"id_number": malformed, "name": "x"}, headers=guardian)
        for number in numbers:
            svc.http.get("/v1/me/code", headers=svc.citizen_headers(number))
        counter = svc.staff_headers(Role.COUNTER_STAFF)
        svc.http.post(
            "/v1/counter/offline-code",
            json={"id_number": numbers[5], "name": "测试5号"},
            headers=counter,
        )
        svc.http.post("/v1/auth/otp/request", json={"phone": "13900000001"})
        checkpoint = svc.staff_headers(Role.CHECKPOINT)
        lookup = svc.http.post(
            "/v1/checkpoint/status-lookup",
            json={"id_number": numbers[1], "checkpoint_id": "gate-1"},
            headers=checkpoint,
        )
        assert lookup.status_code == 200
        svc.context.engine.dispose()

    secrets_to_find = [*numbers, feed_only, malformed]
    database_bytes = b"".join(
        path.read_bytes() for path in tmp_path.iterdir() if path.name.startswith("issuer.db")
    )
    client = redis.Redis.from_url(redis_url)
    redis_bytes = b""
    for key in client.scan_iter():
        redis_bytes += key
        kind = client.type(key)
        if kind == b"set":
            redis_bytes += b"".join(client.smembers(key))
        elif kind == b"string":
            redis_bytes += client.get(key) or b""
        elif kind == b"hash":
            redis_bytes += b"".join(k + v for k, v in client.hgetall(key).items())
    assert redis_bytes, "Redis should hold the revocations"
    client.close()
    captured = capfd.readouterr()
    logs = caplog.text + captured.out + captured.err
    assert "one-time login code" in logs  # the demo OTP was printed, so logs were captured
    for number in secrets_to_find:
        assert number.encode() not in database_bytes
        assert number.encode() not in redis_bytes
        assert number not in logs
        assert number[:14] not in logs  # not even the division and birth date
