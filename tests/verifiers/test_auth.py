"""Device tokens and staff sessions against a real SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from healthcode.errors import ErrorCode, RequestError
from verifiers.auth import Authenticator, Device, Role, StaffUser, check_password, hash_password
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
    assert caught.value.code is ErrorCode.UNAUTHENTICATED
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
    with Session(auth.engine) as session:
        user = session.get(StaffUser, "official1")
        assert user is not None
        user.disabled = True
        session.add(user)
        session.commit()
    with pytest.raises(RequestError) as disabled:
        auth.authenticate(token, now=NOW + 10)
    assert disabled.value.code is ErrorCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    "token", [None, "", "Bearer", "hcs_", "hcs_abc.def", "hcs_é.x", "hcd_unknown", "random"]
)
def test_bad_tokens_are_unauthenticated(auth: Authenticator, token: str | None) -> None:
    with pytest.raises(RequestError) as caught:
        auth.authenticate(token)
    assert caught.value.code is ErrorCode.UNAUTHENTICATED


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
