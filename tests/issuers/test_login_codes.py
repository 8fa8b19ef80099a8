"""Citizens' one-time login codes: delivery to the SMS gateway, lock-out and expiry."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlmodel import select

from healthcode.errors import ErrorCode, RequestError
from issuers.auth import request_otp, verify_otp
from issuers.models import AuditEntry, OtpChallenge
from tests.issuers.conftest import IssuerService, citizen_number, make_settings, running_issuer
from tests.issuers.helpers import RecordingWebhook

PHONE = "13700000222"


@contextlib.contextmanager
def sms_issuer(
    tmp_path: Path, redis_url: str, **overrides: object
) -> Iterator[tuple[IssuerService, RecordingWebhook]]:
    """An issuer (demo mode off) delivering codes to a loopback SMS gateway."""
    gateway = RecordingWebhook()
    settings = make_settings(
        tmp_path,
        redis_url,
        otp_webhook_url=gateway.url,
        otp_webhook_token=SecretStr("gateway-token-123"),
        otp_resend_interval_s=0,
        **overrides,
    )
    try:
        with running_issuer(settings) as svc:
            yield svc, gateway
    finally:
        gateway.close()


def test_codes_are_delivered_to_the_sms_gateway(tmp_path: Path, redis_url: str) -> None:
    with sms_issuer(tmp_path, redis_url) as (svc, gateway):
        id_number = citizen_number(112)
        svc.register(id_number, "卫十五", phone=PHONE)
        assert svc.http.post("/v1/auth/otp/request", json={"phone": PHONE}).status_code == 202
        assert (
            svc.http.post("/v1/auth/otp/request", json={"phone": "13700009999"}).status_code == 202
        )
        (body,) = gateway.wait_for(1)
        time.sleep(0.2)
        assert len(gateway.received) == 1  # nothing is sent to an unknown phone
        headers, _ = gateway.received[0]
        assert headers["Authorization"] == "Bearer gateway-token-123"
        assert (body["phone"], body["issuer"]) == (PHONE, "cn-sc")
        code = str(body["code"])
        assert code in str(body["text"])
        token = svc.http.post("/v1/auth/otp/verify", json={"phone": PHONE, "code": code})
        assert token.status_code == 200, token.text
        # Outside demo mode the answer never carries the code.
        again = svc.http.post("/v1/auth/otp/request", json={"phone": PHONE})
        assert again.status_code == 202
        assert "demo_code" not in again.json()


def test_without_a_delivery_no_code_is_made(tmp_path: Path, redis_url: str) -> None:
    with running_issuer(make_settings(tmp_path, redis_url)) as svc:  # demo mode off
        svc.register(citizen_number(113), "蒋十六", phone=PHONE)
        answer = svc.http.post("/v1/auth/otp/request", json={"phone": PHONE})
        assert answer.status_code == 503
        assert answer.json()["error"] == "upstream_unavailable"
        with svc.context.session() as session:
            assert session.exec(select(OtpChallenge)).all() == []


def test_wrong_codes_lock_the_phone_out_and_a_new_code_does_not_reset_it(
    tmp_path: Path, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    limits = {"otp_max_attempts": 2, "otp_failure_limit": 4, "otp_request_limit": 3}
    with sms_issuer(tmp_path, redis_url, **limits) as (svc, gateway):
        id_number = citizen_number(114)
        svc.register(id_number, "沈十七", phone=PHONE)

        def verify(code: str) -> httpx.Response:
            return svc.http.post("/v1/auth/otp/verify", json={"phone": PHONE, "code": code})

        svc.http.post("/v1/auth/otp/request", json={"phone": PHONE})
        first = str(gateway.wait_for(1)[0]["code"])
        wrong = "000000" if first != "000000" else "111111"
        wrongs = [verify(wrong) for _ in range(2)]
        assert [w.status_code for w in wrongs] == [401, 401]
        assert [w.json()["error"] for w in wrongs] == ["otp_wrong", "otp_wrong"]
        assert wrongs[0].json()["text"]["zh"] == "验证码错误"
        used_up = verify(first)  # this code's attempts are used up
        assert used_up.status_code == 401
        assert used_up.json()["error"] == "otp_expired"
        svc.http.post("/v1/auth/otp/request", json={"phone": PHONE})
        second = str(gateway.wait_for(2)[1]["code"])
        assert verify("000001" if second != "000001" else "000002").status_code == 401
        locked = verify(second)  # the right code, but 4 failures within the hour
        assert locked.status_code == 429, locked.text
        assert locked.json()["error"] == "rate_limited"
        assert 3500 < int(locked.headers["Retry-After"]) <= 3600
        # Codes per phone are limited too (3 per hour): the 4th request is refused.
        assert svc.http.post("/v1/auth/otp/request", json={"phone": PHONE}).status_code == 202
        refused = svc.http.post("/v1/auth/otp/request", json={"phone": PHONE})
        assert refused.status_code == 429
        assert refused.json()["error"] == "rate_limited"

        with svc.context.session() as session:
            failures = session.exec(
                select(AuditEntry).where(AuditEntry.action == "login_failed")
            ).all()
        assert len(failures) == 5
        assert {f.subject for f in failures} == {svc.subject(id_number)}
        assert all(PHONE not in f"{f.actor} {f.reason}" for f in failures)
        assert PHONE not in caplog.text


def test_a_code_expires(issuer: IssuerService) -> None:
    settings = issuer.settings
    issuer.register(citizen_number(115), "韩十八", phone=PHONE)
    secret = settings.token_secret.get_secret_value().encode()
    start = time.time()
    with issuer.context.session() as session:
        code = request_otp(session, PHONE, secret, settings=settings, address="a", now=start)
        session.commit()
    assert code is not None
    with issuer.context.session() as session, pytest.raises(RequestError) as expired:
        verify_otp(session, PHONE, code, secret, settings=settings, now=start + 301)
    assert expired.value.code is ErrorCode.OTP_EXPIRED
    assert "no valid login code" in expired.value.message
    with issuer.context.session() as session:
        citizen = verify_otp(session, PHONE, code, secret, settings=settings, now=start + 299)
    assert citizen.phone == PHONE
