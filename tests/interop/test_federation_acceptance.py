"""Issue 4 acceptance against the running federation: real processes on loopback ports.

`healthcode federation up` starts Redis, the registry, Sichuan (cn-sc), Guangdong (cn-gd) and a
checkpoint configured for Sichuan. Everything below talks to them over HTTP only, as a partner
province or a checkpoint would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from healthcode import ErrorCode, StatusColour, verify_credential
from healthcode.trustclient import TrustListClient

START_TIMEOUT_S = 240
# Standard §10.7: 60 s look-up cache; checkpoints sync revocations every 30 s.
STATUS_CHANGE_DEADLINE_S = 60 + 30 + 15


class Federation:
    def __init__(self, directory: Path, where: dict[str, Any]) -> None:
        self.directory = directory
        self.registry: str = where["registry"]
        self.provinces: dict[str, str] = where["provinces"]
        self.checkpoint: str = where["checkpoint"]
        self.http = httpx.Client(timeout=20)
        secrets = json.loads((directory / "secrets.json").read_text())
        self.staff_password: str = secrets["checkpoint_staff_password"]

    def logins(self, province: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (self.directory / province / "demo-logins.json").read_text()
        )
        return data

    def issuer_headers(self, province: str, role: str) -> dict[str, str]:
        account = next(a for a in self.logins(province)["accounts"] if a["role"] == role)
        answer = self.http.post(
            f"{self.provinces[province]}/v1/auth/login",
            json={"username": account["username"], "password": account["password"]},
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def checkpoint_headers(self) -> dict[str, str]:
        answer = self.http.post(
            f"{self.checkpoint}/v1/auth/login",
            json={"username": "staff", "password": self.staff_password},
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def counter_code(self, province: str, citizen: dict[str, Any]) -> str:
        answer = self.http.post(
            f"{self.provinces[province]}/v1/counter/offline-code",
            json={"id_number": citizen["id_number"], "name": citizen["name"]},
            headers=self.issuer_headers(province, "counter_staff"),
        )
        assert answer.status_code == 200, answer.text
        qr_text: str = answer.json()["qr_text"]
        return qr_text

    def scan(self, text: str) -> dict[str, Any]:
        answer = self.http.post(
            f"{self.checkpoint}/v1/scan", json={"text": text}, headers=self.checkpoint_headers()
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def id_card(self, citizen: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.post(
            f"{self.checkpoint}/v1/id-card",
            json={"id_number": citizen["id_number"], "name": citizen["name"]},
            headers=self.checkpoint_headers(),
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def stop_registry(self) -> None:
        """SIGTERM the registry process of this federation (found by its port)."""
        port = self.registry.rsplit(":", 1)[1]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if f"HC_INTEROP_PORT={port}".encode() in environ:
                os.kill(int(entry.name), signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                self.http.get(f"{self.registry}/healthz", timeout=1)
            except httpx.TransportError:
                return
            time.sleep(0.2)
        raise AssertionError("the registry still answers")


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    directory = tmp_path_factory.mktemp("federation")
    errors = directory / "stderr.txt"
    with (
        errors.open("wb") as stderr,
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "healthcode.cli",
                "federation",
                "up",
                "--dir",
                str(directory),
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=stderr,
        ) as process,
    ):
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, errors.read_text()
        running = Federation(directory, json.loads(line))
        try:
            yield running
        finally:
            running.http.close()
            process.send_signal(signal.SIGTERM)
            process.wait(60)


def _citizen(federation: Federation, province: str, colour: str) -> dict[str, Any]:
    return next(c for c in federation.logins(province)["citizens"] if c["colour"] == colour)


def test_code_of_a_verifies_at_b_and_clock_set_back_is_refused(
    federation: Federation, tmp_path: Path
) -> None:
    text = federation.counter_code("cn-gd", _citizen(federation, "cn-gd", "green"))
    answer = federation.scan(text)
    assert answer["valid"] is True, answer
    assert (answer["issuer"], answer["status"]) == ("cn-gd", "green")
    assert answer["checks"]["trust_list"] == "passed"

    # The same trust list, fetched and verified by a partner's own client.
    root = federation.directory / "registry" / "root" / "root-1.json"
    with TrustListClient(federation.registry, root, tmp_path / "cache") as client:
        client.refresh()
        trust = client.current()
    assert verify_credential(text, trust).valid
    # A checkpoint whose clock was set back a day cannot revive codes: its clock is refused.
    a_day_ago = datetime.now(UTC).timestamp() - 86400
    assert verify_credential(text, trust, now=a_day_ago).error is ErrorCode.CLOCK_BEHIND


def test_status_change_in_a_reaches_b_id_card_reads(federation: Federation) -> None:
    traveller = _citizen(federation, "cn-gd", "green")
    first = federation.id_card(traveller)
    assert first["display"] == StatusColour.GREEN.value, first
    assert first["home_issuer"] == "cn-gd"

    # Guangdong's health official imports a positive test for the traveller.
    sampled = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    feed = f"id_number,result,test,sampled_at\n{traveller['id_number']},positive,pcr,{sampled}\n"
    imported = federation.http.post(
        f"{federation.provinces['cn-gd']}/v1/feeds/lab_results",
        content=feed.encode(),
        headers={
            **federation.issuer_headers("cn-gd", "health_official"),
            "Content-Type": "text/csv",
        },
    )
    assert imported.status_code == 200, imported.text

    deadline = time.monotonic() + STATUS_CHANGE_DEADLINE_S
    seen = first
    while time.monotonic() < deadline:
        seen = federation.id_card(traveller)
        if seen["display"] == StatusColour.RED.value:
            break
        time.sleep(2)
    assert seen["display"] == StatusColour.RED.value, seen
    assert seen["reason"] == "positive_test"


def test_rotated_key_is_registered_and_old_codes_keep_verifying(
    federation: Federation, tmp_path: Path
) -> None:
    citizen = _citizen(federation, "cn-sc", "green")
    old = federation.counter_code("cn-sc", citizen)
    secrets = json.loads((federation.directory / "secrets.json").read_text())
    env = {
        **os.environ,
        "HC_ISSUER_DEMO_MODE": "true",
        "HC_ISSUER_ISSUER_ID": "cn-sc",
        "HC_ISSUER_REGION": "510000",
        "HC_ISSUER_DATABASE_URL": f"sqlite:///{federation.directory / 'cn-sc' / 'issuer.db'}",
        "HC_ISSUER_KEY_DIR": str(federation.directory / "cn-sc" / "keys"),
        "HC_ISSUER_REGISTRY_URL": federation.registry,
        "HC_ISSUER_SUBJECT_SECRET": secrets["cn-sc_subject_secret"],
        "HC_ISSUER_TOKEN_SECRET": secrets["cn-sc_token_secret"],
    }
    rotated = subprocess.run(
        [sys.executable, "-m", "healthcode.cli", "issuer", "rotate-key"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert rotated.returncode == 0, rotated.stderr
    new = federation.counter_code("cn-sc", _citizen(federation, "cn-sc", "red"))

    root = federation.directory / "registry" / "root" / "root-1.json"
    with TrustListClient(federation.registry, root, tmp_path / "cache") as client:
        client.refresh()
        trust = client.current()
    new_result = verify_credential(new, trust)
    assert new_result.valid, new_result.message
    assert new_result.kid != verify_credential(old, trust).kid
    assert verify_credential(old, trust).valid  # retired key: codes verify until they expire


def test_checkpoint_keeps_verifying_when_the_registry_is_gone(federation: Federation) -> None:
    text = federation.counter_code("cn-gd", _citizen(federation, "cn-gd", "red"))
    federation.stop_registry()
    answer = federation.scan(text)
    assert answer["valid"] is True, answer
    assert answer["status"] == "red"
