"""`healthcode checkpoint ...` through the real console entry point."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from healthcode import jwks_document
from healthcode.cli import main
from healthcode.errors import HealthcodeError
from tests.verifiers.conftest import Province
from verifiers.auth import Authenticator
from verifiers.scanlog import ScanLog, make_engine


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("HC_VERIFIER_DATABASE_URL", url)
    monkeypatch.setenv("HC_VERIFIER_DEMO_MODE", "true")
    monkeypatch.setenv("HC_VERIFIER_STATE_DIR", str(tmp_path / "state"))
    return url


def test_add_and_revoke_device(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["checkpoint", "add-device", "--name", "north gate"]) == 0
    printed = json.loads(capsys.readouterr().out.splitlines()[0])
    auth = Authenticator(make_engine(env), b"x" * 32, 60)
    assert auth.authenticate(printed["token"]).actor == printed["device_id"]
    assert main(["checkpoint", "revoke-device", printed["device_id"]]) == 0
    assert main(["checkpoint", "revoke-device", "dev-unknown"]) == 1
    actions = [a.action for a in ScanLog(auth.engine, "x").audit_records()]
    assert actions == ["add_device", "revoke_device"]


def test_add_user_from_environment(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OFFICIAL_PASSWORD", "official-password-9")
    code = main(
        [
            "checkpoint",
            "add-user",
            "off1",
            "--role",
            "official",
            "--password-env",
            "OFFICIAL_PASSWORD",
        ]
    )
    assert code == 0
    auth = Authenticator(make_engine(env), b"x" * 32, 60)
    assert auth.login("off1", "official-password-9")[1].value == "official"


def test_purge_scans(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    log = ScanLog(make_engine(env), "cp")
    old = {
        "scanned_at": datetime.now(UTC) - timedelta(days=29),
        "mode": "qr",
        "actor": "d",
        "result": "green",
    }
    new = {**old, "scanned_at": datetime.now(UTC)}
    log.record_scans([old, new])
    log.audit(actor="staff1", action="assisted", at=datetime.now(UTC) - timedelta(days=200))
    assert main(["checkpoint", "purge-scans"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "deleted": 1,
        "retention_days": 28,
        "audit_deleted": 1,
        "audit_retention_days": 180,
    }
    assert len(log.scans()) == 1
    assert [a.action for a in log.audit_records()] == ["purge"]


def test_list_devices_never_prints_tokens(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["checkpoint", "add-device", "--name", "north gate"]) == 0
    assert main(["checkpoint", "add-device", "--name", "南门 2"]) == 0
    created = [json.loads(line) for line in capsys.readouterr().out.splitlines()[::2]]
    assert main(["checkpoint", "revoke-device", created[0]["device_id"]]) == 0
    capsys.readouterr()
    assert main(["checkpoint", "list-devices"]) == 0
    out = capsys.readouterr().out
    listed = [json.loads(line) for line in out.splitlines()]
    assert [(d["device_id"], d["name"]) for d in listed] == [
        (created[0]["device_id"], "north gate"),
        (created[1]["device_id"], "南门 2"),
    ]
    assert listed[0]["revoked_at"] is not None
    assert listed[1]["revoked_at"] is None
    assert all(item["token"] not in out for item in created)
    assert "sha256" not in out


def test_disable_and_enable_user(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STAFF_PASSWORD", "staff-password-99")
    base = ["checkpoint", "add-user", "s1", "--role", "staff", "--password-env", "STAFF_PASSWORD"]
    assert main(base) == 0
    auth = Authenticator(make_engine(env), b"x" * 32, 60)
    token, _ = auth.login("s1", "staff-password-99")
    assert main(["checkpoint", "disable-user", "s1"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {
        "username": "s1",
        "disabled": True,
    }
    fresh = Authenticator(make_engine(env), b"x" * 32, 60)  # another process: no cache
    with pytest.raises(HealthcodeError):
        fresh.authenticate(token)
    with pytest.raises(HealthcodeError):
        fresh.login("s1", "staff-password-99")
    assert main(["checkpoint", "enable-user", "s1"]) == 0
    assert fresh.login("s1", "staff-password-99")[1].value == "staff"
    with pytest.raises(HealthcodeError):
        fresh.authenticate(token)  # the disabled account's old sessions stay ended
    assert main(["checkpoint", "disable-user", "nobody"]) == 1
    actions = [a.action for a in ScanLog(auth.engine, "x").audit_records()]
    assert actions == ["add_user", "disable_user", "enable_user"]


def test_sync_revocations(
    env: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    sc: Province,
) -> None:
    jwks = tmp_path / "cn-sc.jwks.json"
    jwks.write_text(json.dumps(jwks_document([sc.issuer.key.verifying_key])))
    monkeypatch.setenv("HC_VERIFIER_TRUST_JWKS", json.dumps({"cn-sc": str(jwks)}))
    endpoints = {"revocations": sc.url + "/v1/revocations"}
    monkeypatch.setenv(
        "HC_VERIFIER_TRUST_ISSUERS",
        json.dumps({"cn-sc": {"region": "510000", "endpoints": endpoints}}),
    )
    sc.issuer.revoked.append(("r" * 22, int(time.time()) + 600))
    assert main(["checkpoint", "sync-revocations"]) == 0
    assert json.loads(capsys.readouterr().out) == {"issuers": {"cn-sc": "ok (+1)"}}
    state = json.loads((tmp_path / "state" / "revocations.json").read_text())
    assert list(state["issuers"]["cn-sc"]["revoked"]) == ["r" * 22]
    sc.server.stop()
    assert main(["checkpoint", "sync-revocations"]) == 1
