"""Device tokens and staff sessions against a real SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from healthcode.errors import ErrorCode, RequestError
from healthcode.server.security import check_password, hash_password, sign_token
from tests.servers import postgres_schema
from verifiers.auth import (
    Authenticator,
    Device,
    LoginFailure,
    LoginThrottle,
    LoginThrottled,
    Role,
    StaffSession,
    StaffUser,
)
from verifiers.scanlog import make_engine

NOW = 1_790_000_000.0


@pytest.fixture
def auth(tmp_path: Path) -> Authenticator:
    return Authenticator(make_engine(f"sqlite:///{tmp_path / 'a.db'}"), b"s" * 32, 3600)


def test_password_hash_roundtrip() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$")
    assert check_password("correct horse battery", stored)
    assert not check_password("correct horse batterz", stored)
    assert not check_password("x", "not-a-hash")


def test_device_token_is_stored_hashed_and_revocable(auth: Authenticator) -> None:
    device_id, token = auth.add_device("gate 2")
    assert auth.authenticate(token).actor == device_id
    with Session(auth.engine) as session:
        stored = session.exec(select(Device)).one()
    assert token not in stored.model_dump_json()
    auth.revoke_device(device_id)
    with pytest.raises(RequestError) as caught:
        auth.authenticate(token)
    assert caught.value.code is ErrorCode.DEVICE_NOT_REGISTERED
    with pytest.raises(RequestError) as missing:
        auth.revoke_device("dev-nope")
    assert missing.value.code is ErrorCode.NOT_FOUND


def test_sessions_expire_and_stop_for_disabled_users(auth: Authenticator) -> None:
    auth.add_user("official1", "official-password-1", Role.OFFICIAL)
    token, role = auth.login("official1", "official-password-1", now=NOW)
    assert role is Role.OFFICIAL
    assert auth.authenticate(token, now=NOW + 3599).role is Role.OFFICIAL
    with pytest.raises(RequestError) as expired:
        auth.authenticate(token, now=NOW + 3601)
    assert expired.value.code is ErrorCode.TOKEN_EXPIRED
    auth.set_disabled("official1", True)
    with Session(auth.engine) as session:
        user = session.get(StaffUser, "official1")
        assert user is not None
        assert user.disabled
    with pytest.raises(RequestError) as disabled:
        auth.authenticate(token, now=NOW + 10)
    assert disabled.value.code is ErrorCode.UNAUTHENTICATED
    with pytest.raises(RequestError):
        auth.login("official1", "official-password-1", now=NOW + 20)
    # Re-enabling allows new logins, but the sessions the disabling ended stay ended.
    auth.set_disabled("official1", False)
    with pytest.raises(RequestError) as still_ended:
        auth.authenticate(token, now=NOW + 30)
    assert still_ended.value.code is ErrorCode.UNAUTHENTICATED
    fresh, _ = auth.login("official1", "official-password-1", now=NOW + 40)
    assert auth.authenticate(fresh, now=NOW + 50).actor == "official1"
    with pytest.raises(RequestError) as unknown:
        auth.set_disabled("nobody", True)
    assert unknown.value.code is ErrorCode.NOT_FOUND


def test_logout_ends_the_session_on_the_server(auth: Authenticator) -> None:
    auth.add_user("staff1", "staff-password-1", Role.STAFF)
    first, _ = auth.login("staff1", "staff-password-1")
    second, _ = auth.login("staff1", "staff-password-1")
    principal = auth.authenticate(first)
    assert principal.session_id is not None
    assert auth.logout(principal) is True
    with pytest.raises(RequestError) as ended:
        auth.authenticate(first)
    assert ended.value.code is ErrorCode.UNAUTHENTICATED
    # Only that session: the same user's other login goes on.
    assert auth.authenticate(second).actor == "staff1"
    device_id, device_token = auth.add_device("gate 9")
    assert auth.logout(auth.authenticate(device_token)) is False
    assert auth.authenticate(device_token).actor == device_id


def test_session_token_without_a_session_id_is_refused(auth: Authenticator) -> None:
    """A token signed with the right key but naming no recorded session cannot be used."""
    auth.add_user("staff1", "staff-password-1", Role.STAFF)
    for claims in ({"u": "staff1", "r": "staff"}, {"u": "staff1", "r": "staff", "sid": "made-up"}):
        token = "hcs_" + sign_token(claims, b"s" * 32, prefix="s1", lifetime_s=600)
        with pytest.raises(RequestError) as refused:
            auth.authenticate(token)
        assert refused.value.code is ErrorCode.UNAUTHENTICATED


def test_expired_sessions_are_purged(auth: Authenticator) -> None:
    auth.add_user("staff1", "staff-password-1", Role.STAFF)
    auth.login("staff1", "staff-password-1", now=NOW)
    auth.login("staff1", "staff-password-1", now=NOW + 86400 * 3)
    moment = datetime.fromtimestamp(NOW + 86400 * 2 + 3600, UTC)
    assert auth.purge_sessions(now=moment) == 1
    with Session(auth.engine) as session:
        assert len(list(session.exec(select(StaffSession)))) == 1


THROTTLE_SECRET = b"test-throttle-secret-0123456789"


def _throttle(engine: Engine, max_failures: int = 3) -> LoginThrottle:
    return LoginThrottle(engine, THROTTLE_SECRET, max_failures=max_failures, window_s=60)


def _exercise_throttle(engine: Engine) -> None:
    throttle = _throttle(engine)
    for second in range(3):
        throttle.check("staff1", "10.0.0.1", NOW + second)
        throttle.failed("staff1", "10.0.0.1", NOW + second)
    with pytest.raises(LoginThrottled) as caught:
        throttle.check("staff1", "10.0.0.2", NOW + 10)
    assert caught.value.code is ErrorCode.ACCOUNT_LOCKED
    assert caught.value.retry_after == 50  # the oldest failure leaves the window at NOW + 60
    assert caught.value.details == {"locked_until": int(NOW) + 60}
    # Another replica on the same database, or this one restarted, counts the same failures.
    with pytest.raises(LoginThrottled):
        _throttle(engine).check("staff1", "10.0.0.3", NOW + 11)
    throttle.check("staff1", "10.0.0.1", NOW + 60.5)  # the window has passed
    # Per address: four times the per-user limit, whichever usernames are tried.
    for index in range(12):
        throttle.check(f"user{index}", "10.0.0.9", NOW + 100)
        throttle.failed(f"user{index}", "10.0.0.9", NOW + 100)
    with pytest.raises(LoginThrottled):
        throttle.check("someone-else", "10.0.0.9", NOW + 101)
    throttle.check("someone-else", "10.0.0.10", NOW + 101)
    # A success clears the user's count (not the address's).
    throttle.failed("staff1", "10.0.0.1", NOW + 102)
    throttle.failed("staff1", "10.0.0.1", NOW + 102)
    throttle.failed("staff1", "10.0.0.1", NOW + 102)
    with pytest.raises(LoginThrottled):
        throttle.check("staff1", "10.0.0.11", NOW + 103)
    throttle.succeeded("staff1")
    throttle.check("staff1", "10.0.0.11", NOW + 103)
    # What was typed as a username (maybe a password in the wrong field) is never stored.
    throttle.failed("my-secret-passw0rd", "10.0.0.12", NOW + 104)
    with Session(engine) as session:
        stored = session.exec(select(LoginFailure)).all()
    assert stored
    assert all(len(row.key) == 64 and "passw0rd" not in row.key for row in stored)
    # Failures that left the window are deleted by the next failure, of every key.
    throttle.failed("late", None, NOW + 1000)
    with Session(engine) as session:
        assert {row.at for row in session.exec(select(LoginFailure))} == {NOW + 1000}


def test_login_throttle_per_user_and_address_sqlite(tmp_path: Path) -> None:
    _exercise_throttle(make_engine(f"sqlite:///{tmp_path / 'throttle.db'}"))


@pytest.mark.postgres
def test_login_throttle_per_user_and_address_postgres(postgres_database_url: str) -> None:
    with postgres_schema(postgres_database_url) as url:
        engine = make_engine(url)
        try:
            _exercise_throttle(engine)
        finally:
            engine.dispose()


@pytest.mark.parametrize(
    "token", [None, "", "Bearer", "hcs_", "hcs_abc.def", "hcs_é.x", "hcd_unknown", "random"]
)
def test_bad_tokens_are_unauthenticated(auth: Authenticator, token: str | None) -> None:
    with pytest.raises(RequestError) as caught:
        auth.authenticate(token)
    # A device token that was never issued says so: the staff page tells them to register it.
    expected = "device_not_registered" if token == "hcd_unknown" else "unauthenticated"
    assert caught.value.code.value == expected


def test_tampered_session_is_refused(auth: Authenticator) -> None:
    auth.add_user("staff1", "staff-password-1", Role.STAFF)
    token, _ = auth.login("staff1", "staff-password-1")
    *head, body, mac = token.split(".")
    forged = ".".join([*head, body[:-2] + ("AA" if body[-2:] != "AA" else "BB"), mac])
    with pytest.raises(RequestError):
        auth.authenticate(forged)


def test_login_failures_do_not_say_which_part_was_wrong(auth: Authenticator) -> None:
    auth.add_user("staff1", "staff-password-1", Role.STAFF)
    with pytest.raises(RequestError) as unknown:
        auth.login("nobody", "staff-password-1")
    with pytest.raises(RequestError) as wrong:
        auth.login("staff1", "wrong-password-1")
    assert unknown.value.message == wrong.value.message
    with pytest.raises(RequestError) as duplicate:
        auth.add_user("staff1", "another-password", Role.STAFF)
    assert duplicate.value.code is ErrorCode.CONFLICT
