"""Citizens log in with phone + one-time code; staff with scrypt-hashed passwords."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from sqlmodel import select

from healthcode.server.security import check_password, hash_password
from issuers.models import StaffAccount
from tests.issuers.conftest import (
    citizen_number,
    issuer_cli,
    make_settings,
    running_issuer,
)


def test_phone_login_with_one_time_code(
    tmp_path: Path, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="issuers.auth")
    with running_issuer(make_settings(tmp_path, redis_url, demo_mode=True)) as svc:
        id_number = citizen_number(111)
        svc.register(id_number, "褚十四", phone="13700000111")
        unknown = svc.http.post("/v1/auth/otp/request", json={"phone": "13700009999"})
        assert unknown.status_code == 202
        assert "demo_code" not in unknown.json()
        assert "one-time login code" not in caplog.text  # unknown phone: nothing sent
        sent = svc.http.post("/v1/auth/otp/request", json={"phone": "13700000111"})
        assert sent.status_code == 202
        match = re.search(r"phone \*+0111: (\d{6})", caplog.text)
        assert match is not None
        code = match.group(1)
        # Demo mode: the answer shows the code too, so a newcomer can log in without a phone.
        assert sent.json()["demo_code"] == code
        assert sent.json()["expires_in"] == svc.settings.otp_lifetime_s
        wrong = "000000" if code != "000000" else "111111"
        bad = svc.http.post("/v1/auth/otp/verify", json={"phone": "13700000111", "code": wrong})
        assert bad.status_code == 401
        assert bad.json()["error"] == "otp_wrong"
        good = svc.http.post("/v1/auth/otp/verify", json={"phone": "13700000111", "code": code})
        assert good.status_code == 200, good.text
        token = good.json()
        assert token["token_type"] == "bearer"
        assert token["role"] == "citizen"
        me = svc.http.get("/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert me.json()["id_tail"] == id_number[-4:]
        reused = svc.http.post("/v1/auth/otp/verify", json={"phone": "13700000111", "code": code})
        assert reused.status_code == 401  # single use
        assert reused.json()["error"] == "otp_expired"


def test_passwords_are_scrypt_hashes() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$")
    assert "correct horse" not in stored
    assert check_password("correct horse", stored)
    assert not check_password("wrong horse", stored)


def test_seed_demo_and_add_user_commands(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'seed.db'}"
    run = issuer_cli(database_url, tmp_path / "keys")

    assert run("migrate").returncode == 0
    import json

    seeded = run("seed-demo", "--json", "--password", "demo-password-1")
    assert seeded.returncode == 0, seeded.stderr
    logins = json.loads(seeded.stdout)
    assert {a["role"] for a in logins["accounts"]} >= {
        "health_official",
        "counter_staff",
        "checkpoint",
        "admin",
    }
    colours = {c["name"]: c["colour"] for c in logins["citizens"]}
    assert "red" in colours.values()
    assert "green" in colours.values()
    assert any(c["guardian"] for c in logins["citizens"])
    assert run("seed-demo", "--json").returncode == 0  # idempotent
    added = run("add-user", "--role", "checkpoint", "--password", "device-secret-1", "gate-7")
    assert added.returncode == 0, added.stderr
    duplicate = run("add-user", "--role", "checkpoint", "--password", "device-secret-1", "gate-7")
    assert duplicate.returncode == 1
    assert "conflict" in duplicate.stderr
    from sqlalchemy import create_engine
    from sqlmodel import Session

    engine = create_engine(database_url)
    with Session(engine) as session:
        device = session.exec(select(StaffAccount).where(StaffAccount.username == "gate-7")).one()
    engine.dispose()
    assert device.role == "checkpoint"
    assert check_password("device-secret-1", device.password_hash)
