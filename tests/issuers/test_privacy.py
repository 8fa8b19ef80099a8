"""Raw ID numbers never reach the database, the logs (the access log too) or Redis."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, inspect, text

from issuers.auth import Role
from tests.issuers.conftest import citizen_number, make_settings, running_issuer
from tests.issuers.helpers import lab_csv, recent


def database_text(database_url: str, tmp_path: Path) -> bytes:
    """Everything the database holds: the SQLite files' bytes, or every PostgreSQL row as text."""
    if database_url.startswith("sqlite"):
        return b"".join(
            path.read_bytes() for path in tmp_path.iterdir() if path.name.startswith("issuer.db")
        )
    engine = create_engine(database_url)
    try:
        chunks: list[bytes] = []
        with engine.connect() as connection:
            for table in inspect(connection).get_table_names():
                rows = connection.execute(text(f'SELECT t::text FROM "{table}" t')).scalars()
                chunks.extend(str(row).encode() for row in rows)
        return b"\n".join(chunks)
    finally:
        engine.dispose()


def redis_text(redis_url: str) -> bytes:
    """Every key and value in Redis; a key of a type this cannot read fails the test."""
    client: Any = redis.Redis.from_url(redis_url)  # replies are bytes (no decode_responses)
    found = b""
    try:
        for key in client.scan_iter():
            found += key
            kind = client.type(key)
            if kind == b"set":
                found += b"".join(client.smembers(key))
            elif kind == b"string":
                found += client.get(key) or b""
            elif kind == b"hash":
                found += b"".join(k + v for k, v in client.hgetall(key).items())
            elif kind == b"list":
                found += b"".join(client.lrange(key, 0, -1))
            elif kind == b"zset":
                found += b"".join(
                    member for member, _ in client.zrange(key, 0, -1, withscores=True)
                )
            else:
                pytest.fail(f"Redis key {key!r} has type {kind!r}, which this test cannot search")
    finally:
        client.close()
    return found


def test_no_raw_id_number_in_database_logs_or_redis(
    tmp_path: Path,
    redis_url: str,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    access_log = io.StringIO()
    access_handler = logging.StreamHandler(access_log)
    logging.getLogger("uvicorn.access").addHandler(access_handler)
    numbers = [citizen_number(sequence) for sequence in range(31, 37)]
    phones = [f"1390000{index:04d}" for index in range(len(numbers))]
    feed_only = citizen_number(38)  # appears in feeds but never registers
    malformed = numbers[0][:-1] + ("0" if numbers[0][-1] != "0" else "1")  # bad check digit
    settings = make_settings(tmp_path, redis_url, demo_mode=True, database_url=database_url)
    try:
        with running_issuer(settings, access_log=True) as svc:
            for index, number in enumerate(numbers):
                svc.register(number, f"测试{index}号", phone=phones[index])
            for number in numbers:
                svc.http.get("/v1/me/code", headers=svc.citizen_headers(number))
            official = svc.staff_headers(Role.HEALTH_OFFICIAL)
            csv_headers = {**official, "Content-Type": "text/csv"}

            def feed(kind: str, body: bytes, accepted: int, rejected: int) -> None:
                answer = svc.http.post(f"/v1/feeds/{kind}", content=body, headers=csv_headers)
                assert answer.status_code == 200, answer.text
                report = answer.json()
                assert (report["accepted"], report["rejected_count"]) == (accepted, rejected)

            feed(
                "lab_results",
                lab_csv(
                    *[(number, "positive", "pcr", recent()) for number in numbers[:3]],
                    (feed_only, "negative", "antigen", recent()),
                    (malformed, "positive", "pcr", recent()),
                ),
                4,
                1,
            )
            feed(
                "vaccinations",
                "id_number,vaccine,dose,vaccinated_at\n"
                f"{numbers[3]},Sinovac,2,{recent(48)}\n{feed_only},Sinopharm,1,{recent(48)}\n"
                f"{malformed},Sinovac,1,{recent(48)}\n".encode(),
                2,
                1,
            )
            feed(
                "close_contacts",
                "id_number,case_ref,contact_at\n"
                f"{numbers[4]},SC-2026-7,{recent(24)}\n{feed_only},SC-2026-7,{recent(24)}\n"
                f"{malformed},SC-2026-7,{recent(24)}\n".encode(),
                2,
                1,
            )
            start = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0).isoformat()
            feed(
                "risk_areas",
                f"area_code,level,valid_from,valid_until\n510107,medium,{start},\n".encode(),
                1,
                0,
            )
            declarer = svc.citizen_headers(numbers[5])
            yesterday = (datetime.now(UTC) + timedelta(hours=8) - timedelta(days=1)).date()
            for declaration in (
                {
                    "kind": "health_declaration",
                    "data": {"symptoms": ["fever"], "temperature_c": 38.1},
                },
                {
                    "kind": "itinerary",
                    "data": {"area_code": "510107", "visited_on": str(yesterday)},
                },
                # An ID number typed into a free-text field is refused, never stored or echoed.
                {"kind": "health_declaration", "data": {numbers[0]: 1}},
            ):
                svc.http.post("/v1/me/declarations", json=declaration, headers=declarer)
            guardian = svc.citizen_headers(numbers[3])
            svc.http.post(
                "/v1/family", json={"id_number": numbers[4], "name": "测试4号"}, headers=guardian
            )
            svc.http.post(
                "/v1/family", json={"id_number": malformed, "name": "x"}, headers=guardian
            )
            svc.http.get("/v1/family", headers=guardian)
            for number in numbers:
                svc.http.get("/v1/me/code", headers=svc.citizen_headers(number))
            counter = svc.staff_headers(Role.COUNTER_STAFF)
            svc.http.post(
                "/v1/counter/offline-code",
                json={"id_number": numbers[5], "name": "测试5号"},
                headers=counter,
            )
            svc.http.post("/v1/auth/otp/request", json={"phone": phones[1]})
            for _ in range(3):  # failed logins are audited and counted, never by raw value
                svc.http.post("/v1/auth/otp/verify", json={"phone": phones[1], "code": "999999"})
                svc.http.post(
                    "/v1/auth/login", json={"username": numbers[2], "password": "wrong-password"}
                )
            checkpoint = svc.staff_headers(Role.CHECKPOINT)
            lookup = svc.http.post(
                "/v1/checkpoint/status-lookup",
                json={"id_number": numbers[1], "checkpoint_id": "gate-1"},
                headers=checkpoint,
            )
            assert lookup.status_code == 200
            svc.context.engine.dispose()
        database_bytes = database_text(database_url, tmp_path)
    finally:
        logging.getLogger("uvicorn.access").removeHandler(access_handler)

    redis_bytes = redis_text(redis_url)
    assert redis_bytes, "Redis should hold the revocations"
    captured = capfd.readouterr()
    logs = caplog.text + captured.out + captured.err + access_log.getvalue()
    assert "one-time login code" in logs  # the demo OTP was printed, so logs were captured
    assert "POST /v1/feeds/close_contacts" in access_log.getvalue()  # the access log was on
    assert b"feed_event:vaccinations" in database_bytes  # the database was searched
    for number in [*numbers, feed_only, malformed]:
        assert number.encode() not in database_bytes
        assert number.encode() not in redis_bytes
        assert number not in logs
        assert number[:14] not in logs  # not even the division and birth date
    for phone in phones:  # phones are stored (to log in), but never logged or put in Redis
        assert phone not in logs
        assert phone.encode() not in redis_bytes
