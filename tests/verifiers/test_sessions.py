"""Staff sessions over HTTP: logout ends a session on the server; logins are throttled, audited."""

from __future__ import annotations

import time

import httpx

from tests.verifiers.conftest import STAFF_PASSWORD, RunningCheckpoint


def _login(checkpoint: RunningCheckpoint, username: str, password: str) -> httpx.Response:
    return httpx.post(
        checkpoint.url + "/v1/auth/login",
        json={"username": username, "password": password},
        timeout=10,
    )


def test_logout_ends_the_session_on_the_server(checkpoint: RunningCheckpoint) -> None:
    token = _login(checkpoint, "staff1", STAFF_PASSWORD).json()["access_token"]
    assert checkpoint.get("/v1/status", token=token).status_code == 200
    answer = checkpoint.post("/v1/auth/logout", token=token)
    assert answer.status_code == 200
    assert answer.json() == {"session_ended": True}
    # A copy of the token kept anywhere (another tab, a stolen one) is refused from now on.
    refused = checkpoint.get("/v1/status", token=token)
    assert refused.status_code == 401
    assert refused.json()["error"] == "unauthenticated"
    assert checkpoint.post("/v1/scan", token=token, json={"text": "x"}).status_code == 401
    # The fixture's other session of the same user goes on; a device has no session to end.
    assert checkpoint.get("/v1/status", token=checkpoint.staff_token).status_code == 200
    assert checkpoint.post("/v1/auth/logout").json() == {"session_ended": False}
    assert checkpoint.get("/v1/status").status_code == 200
    actions = [(a.actor, a.action) for a in checkpoint.service.scan_log.audit_records()]
    assert ("staff1", "logout") in actions


def test_disabled_account_is_refused_at_once(checkpoint: RunningCheckpoint) -> None:
    checkpoint.service.auth.set_disabled("staff1", True)
    assert checkpoint.get("/v1/status", token=checkpoint.staff_token).status_code == 401
    assert _login(checkpoint, "staff1", STAFF_PASSWORD).status_code == 401


def test_failed_logins_are_audited_and_throttled(checkpoint: RunningCheckpoint) -> None:
    limit = checkpoint.service.settings.login_max_failures
    for _ in range(limit):
        wrong = _login(checkpoint, "staff1", "not-the-password")
        assert wrong.status_code == 401
    throttled = _login(checkpoint, "staff1", STAFF_PASSWORD)  # even the right password waits
    assert throttled.status_code == 429
    assert throttled.json()["error"] == "account_locked"
    retry_after = int(throttled.headers["retry-after"])
    assert 0 < retry_after <= 300
    # Until when, for the page: "账号已锁定 — 请于 {until} 后再试" (Retry-After, give or take 1 s).
    locked_until = throttled.json()["locked_until"]
    assert locked_until - time.time() <= retry_after + 1
    assert throttled.json()["staff_text"]["zh"].startswith("账号已锁定 — 请于 {until} 后再试")
    # Another account at the same address is not locked out by one user's typos.
    assert _login(checkpoint, "official1", "official-password-123").status_code == 200
    # A typo in the username (maybe a password typed in the wrong field) is never recorded.
    assert _login(checkpoint, "my-secret-passw0rd", "whatever-123").status_code == 401
    audits = checkpoint.service.scan_log.audit_records()
    failed = [(a.actor, a.detail) for a in audits if a.action == "login_failed"]
    assert failed[:limit] == [("staff1", "error=login_failed address=127.0.0.1")] * limit
    assert failed[limit] == ("staff1", "error=account_locked address=127.0.0.1")
    assert failed[limit + 1] == ("unknown-user", "error=login_failed address=127.0.0.1")
    assert "my-secret-passw0rd" not in repr([a.model_dump() for a in audits])
    assert [a.actor for a in audits if a.action == "login"] == ["official1"]
