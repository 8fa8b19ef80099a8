"""Staff logins and sessions: failure limits, logout, disabled accounts, purging old logins."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from sqlmodel import col, select

from healthcode.server.leases import JobLease
from issuers.auth import (
    SESSION_RETENTION_S,
    Principal,
    Role,
    create_staff,
    issue_access_token,
    login_staff,
    open_session,
    purge_sessions,
    set_staff_disabled,
)
from issuers.limits import Scope, record_attempt
from issuers.models import AuditEntry, AuthAttempt, AuthSession
from tests.issuers.conftest import (
    STAFF_PASSWORD,
    TEST_TOKEN_SECRET,
    IssuerService,
    citizen_number,
    issuer_cli,
    make_settings,
    running_issuer,
)


def test_failed_staff_logins_are_limited_per_account_and_per_address(
    tmp_path: Path, redis_url: str
) -> None:
    settings = make_settings(
        tmp_path, redis_url, login_failure_limit=3, login_failure_limit_per_address=5
    )
    with running_issuer(settings) as svc:
        svc.staff_headers(Role.ADMIN, username="alice")
        svc.staff_headers(Role.ADMIN, username="bob")

        def login(username: str, password: str) -> httpx.Response:
            return svc.http.post(
                "/v1/auth/login", json={"username": username, "password": password}
            )

        assert [login("alice", "guess").status_code for _ in range(3)] == [401] * 3
        locked = login("alice", STAFF_PASSWORD)
        assert locked.status_code == 429, locked.text
        assert locked.json()["error"] == "rate_limited"
        assert login("bob", STAFF_PASSWORD).status_code == 200  # another account is not locked
        # The address: 2 more failures (5 in all, any accounts) lock it out for everyone.
        assert login("no-such-user", "x").status_code == 401
        assert login("13800000001", "x").status_code == 401
        assert login("bob", STAFF_PASSWORD).status_code == 429
        with svc.context.session() as session:
            entries = session.exec(
                select(AuditEntry).where(col(AuditEntry.action).startswith("login_"))
            ).all()
        actors = [e.actor for e in entries]
        assert actors.count("admin:alice") == 4  # 3 failed, 1 refused while locked
        assert not any("13800000001" in f"{e.actor} {e.reason}" for e in entries)


def test_logout_ends_the_session_on_every_replica(tmp_path: Path, redis_url: str) -> None:
    settings = make_settings(tmp_path, redis_url, session_cache_s=0.5)
    with running_issuer(settings) as first, running_issuer(settings) as second:
        headers = first.staff_headers(Role.HEALTH_OFFICIAL)
        assert first.http.get("/v1/corrections", headers=headers).status_code == 200
        assert second.http.get("/v1/corrections", headers=headers).status_code == 200
        assert first.http.post("/v1/auth/logout", headers=headers).status_code == 204
        after = first.http.get("/v1/corrections", headers=headers)
        assert after.status_code == 401  # at once where it was ended
        assert after.json()["error"] == "unauthenticated"
        time.sleep(0.6)  # the other replica's cache of one look-up
        assert second.http.get("/v1/corrections", headers=headers).status_code == 401
        citizen = first.citizen_headers(citizen_number(116))
        assert first.http.post("/v1/auth/logout", headers=citizen).status_code == 204
        assert first.http.get("/v1/me", headers=citizen).status_code == 401


def test_a_disabled_account_is_refused_from_the_next_request(
    tmp_path: Path, redis_url: str
) -> None:
    settings = make_settings(tmp_path, redis_url, session_cache_s=0.5)
    cli = issuer_cli(settings.database_url, settings.key_dir)

    with running_issuer(settings) as svc:
        headers = svc.staff_headers(Role.ADMIN, username="mallory")
        assert svc.http.get("/v1/audit", headers=headers).status_code == 200
        done = cli("disable-user", "mallory")
        assert done.returncode == 0, done.stderr
        assert "1 open sessions ended" in done.stdout
        time.sleep(0.6)
        assert svc.http.get("/v1/audit", headers=headers).status_code == 401
        login = {"username": "mallory", "password": STAFF_PASSWORD}
        refused = svc.http.post("/v1/auth/login", json=login)
        assert refused.status_code == 401
        assert refused.json()["message"] == "wrong username or password"
        assert cli("enable-user", "mallory").returncode == 0
        assert svc.http.post("/v1/auth/login", json=login).status_code == 200
        unknown = cli("disable-user", "nobody")
        assert unknown.returncode == 1
        assert "not_found" in unknown.stderr


def test_a_token_without_an_open_session_is_refused(issuer: IssuerService) -> None:
    """A token signed with the right secret but for no recorded login (e.g. forged by
    someone holding an old token format) does not authenticate."""
    subject = issuer.subject(citizen_number(117))
    token = issue_access_token(
        Principal(role=Role.CITIZEN, subject=subject, session_id="no-such-session"),
        TEST_TOKEN_SECRET.encode(),
        600,
    )
    answer = issuer.http.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthenticated"


def test_a_disabled_account_is_refused_like_a_wrong_password(issuer: IssuerService) -> None:
    """The answer to the right password of a disabled account is the one a wrong password
    gets: it must not tell a guesser that the password was right. The audit says why."""
    issuer.staff_headers(Role.ADMIN, username="carol")
    with issuer.context.session() as session:
        set_staff_disabled(session, "carol", disabled=True)
        session.commit()

    def login(password: str) -> httpx.Response:
        return issuer.http.post("/v1/auth/login", json={"username": "carol", "password": password})

    right, wrong = login(STAFF_PASSWORD), login("not-the-password")
    assert right.status_code == wrong.status_code == 401
    assert right.json() == wrong.json()
    with issuer.context.session() as session:
        reasons = session.exec(
            select(AuditEntry.reason)
            .where(AuditEntry.action == "login_failed", AuditEntry.actor == "admin:carol")
            .order_by(col(AuditEntry.id))
        ).all()
    assert reasons == ["account disabled", "wrong username or password"]


def test_a_login_racing_disable_user_leaves_no_usable_session(any_issuer: IssuerService) -> None:
    """A login checks the password of a still-enabled account, an admin's `disable-user`
    commits (ending the sessions open so far), then the login commits its new session: that
    session must not authenticate, nor come back when the account is enabled again."""
    svc = any_issuer
    ctx = svc.context
    with ctx.session() as session:
        create_staff(session, "racer", STAFF_PASSWORD, Role.ADMIN)
        session.commit()
    with ctx.session() as login:
        principal = login_staff(
            login, "racer", STAFF_PASSWORD, settings=svc.settings, address="127.0.0.1"
        )
        with ctx.session() as admin:
            assert set_staff_disabled(admin, "racer", disabled=True) == 0  # none open yet
            admin.commit()
        token = open_session(login, principal, TEST_TOKEN_SECRET.encode(), 600)
        login.commit()
    headers = {"Authorization": f"Bearer {token}"}
    refused = svc.http.get("/v1/audit", headers=headers)
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"] == "unauthenticated"

    with ctx.session() as admin:
        assert set_staff_disabled(admin, "racer", disabled=False) == 1  # the raced session
        admin.commit()
    time.sleep(svc.settings.session_cache_s + 0.1)
    assert svc.http.get("/v1/audit", headers=headers).status_code == 401
    fresh = svc.http.post("/v1/auth/login", json={"username": "racer", "password": STAFF_PASSWORD})
    assert fresh.status_code == 200, fresh.text
    again = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
    assert svc.http.get("/v1/audit", headers=again).status_code == 200


def test_old_attempts_of_every_key_are_pruned_a_bounded_batch_at_a_time(
    any_issuer: IssuerService,
) -> None:
    """Keys that never come back (a username typed once, an address seen once) must not keep
    their rows forever: each recorded attempt also deletes expired rows of other keys of its
    scope, at most a batch of them, so one login never does unbounded work."""
    window = 900
    t0 = 1_800_000_000
    scope = Scope.LOGIN_FAILED_ADDRESS
    with any_issuer.context.session() as session:
        for number in range(250):
            record_attempt(session, scope, f"address-{number}", now=t0, window_s=window)
        # Another scope's rows with a longer window are not this scope's to judge.
        record_attempt(session, Scope.OTP_SENT_PHONE, "phone", now=t0, window_s=3600)
        session.commit()

    def expired_left() -> int:
        with any_issuer.context.session() as session:
            return len(
                session.exec(
                    select(AuthAttempt.id).where(
                        AuthAttempt.scope == scope.value, col(AuthAttempt.at) <= t0
                    )
                ).all()
            )

    later = t0 + window
    with any_issuer.context.session() as session:
        record_attempt(session, scope, "a-new-address", now=later, window_s=window)
        session.commit()
    assert expired_left() == 150
    for number in range(2):
        with any_issuer.context.session() as session:
            record_attempt(session, scope, f"newer-{number}", now=later, window_s=window)
            session.commit()
    assert expired_left() == 0
    with any_issuer.context.session() as session:
        kept = session.exec(select(AuthAttempt.scope, AuthAttempt.key)).all()
    assert sorted(kept) == sorted(
        [
            (Scope.OTP_SENT_PHONE.value, "phone"),
            (scope.value, "a-new-address"),
            (scope.value, "newer-0"),
            (scope.value, "newer-1"),
        ]
    )


def _old_login(service: IssuerService, username: str, *, expired_s_ago: float) -> str:
    """A login of `username` that expired `expired_s_ago` seconds ago; its session id."""
    lifetime = 600
    with service.context.session() as session:
        principal = Principal(role=Role.ADMIN, username=username)
        opened_at = time.time() - expired_s_ago - lifetime
        open_session(session, principal, TEST_TOKEN_SECRET.encode(), lifetime, now=opened_at)
        session.commit()
        return str(
            session.exec(
                select(AuthSession.id).where(AuthSession.principal == f"staff:{username}")
            ).one()
        )


def test_logins_expired_a_day_ago_are_purged_for_every_principal(
    any_issuer: IssuerService,
) -> None:
    old = [
        _old_login(any_issuer, name, expired_s_ago=SESSION_RETENTION_S + 60)
        for name in ("gone-a", "gone-b")
    ]
    recent = _old_login(any_issuer, "expired-recently", expired_s_ago=60)
    live = any_issuer.staff_headers(Role.ADMIN)  # a real login, open now
    with any_issuer.context.session() as session:
        assert purge_sessions(session) == 2
        session.commit()
        left = set(session.exec(select(AuthSession.id)).all())
    assert not left & set(old)
    assert recent in left  # within the day kept for audit questions
    assert any_issuer.http.get("/v1/audit", headers=live).status_code == 200


def _purge_rounds(service: IssuerService) -> float | None:
    """The purge job's lease expiry: renewed at the start of every round (ADR 0025)."""
    with service.context.session() as session:
        lease = session.get(JobLease, "issuer:session-purge")
        return None if lease is None else lease.expiry_s


def test_the_service_purges_old_logins_in_the_background(tmp_path: Path, redis_url: str) -> None:
    interval_s = 0.2
    settings = make_settings(tmp_path, redis_url, session_purge_interval_s=interval_s)
    with running_issuer(settings) as service:
        gone = _old_login(service, "long-gone", expired_s_ago=SESSION_RETENTION_S + 60)
        # Wait for two rounds to start after the login was written: rounds run one after the
        # other, so the first of them has then finished. What is asserted is the round's work,
        # not its speed; the guard only stops a job that never runs, at a thousand intervals.
        seen = [_purge_rounds(service)]
        guard = time.monotonic() + 1000 * interval_s
        while len(seen) < 3:
            assert time.monotonic() < guard, "the purge job never ran"
            time.sleep(interval_s / 2)
            renewed = _purge_rounds(service)
            if renewed is not None and renewed != seen[-1]:
                seen.append(renewed)
        with service.context.session() as session:
            assert session.get(AuthSession, gone) is None, "a purge round left the old login"
