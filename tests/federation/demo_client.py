"""The running demo federation as a partner, a checkpoint or an operator reaches it over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from healthcode import SigningKey, verify_credential
from healthcode.partner import make_client_assertion
from healthcode.trustclient import TrustListClient


class Federation:
    """One running demo federation: its URLs, its secrets, and what a test does to it."""

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

    def control(self, action: str, service: str, *extra: str) -> None:
        """`healthcode federation stop|start SERVICE` against this federation."""
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "healthcode.cli",
                "federation",
                action,
                service,
                "--dir",
                str(self.directory),
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    def admin(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        token = json.loads((self.directory / "secrets.json").read_text())["registry_admin_token"]
        return self.http.post(
            f"{self.registry}{path}", json=body or {}, headers={"Authorization": f"Bearer {token}"}
        )

    def partner_key(self, province: str) -> SigningKey:
        return SigningKey.load(self.directory / province / "partner-key.pem")

    def partner_call(
        self,
        caller: str,
        callee: str,
        path: str,
        body: dict[str, Any] | None = None,
        key: SigningKey | None = None,
        assertion: str | None = None,
    ) -> httpx.Response:
        audience = f"{self.provinces[callee]}/partner/v1"
        assertion = assertion or make_client_assertion(
            key or self.partner_key(caller), partner=caller, audience=audience
        )
        headers = {"Authorization": f"Bearer {assertion}"}
        if body is None:
            return self.http.get(f"{audience}{path}", headers=headers)
        return self.http.post(f"{audience}{path}", json=body, headers=headers)

    def import_positive_test(self, province: str, citizen: dict[str, Any]) -> None:
        """A positive PCR result for `citizen`, sampled now, through the province's lab feed."""
        sampled = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        feed = f"id_number,result,test,sampled_at\n{citizen['id_number']},positive,pcr,{sampled}\n"
        imported = self.http.post(
            f"{self.provinces[province]}/v1/feeds/lab_results",
            content=feed.encode(),
            headers={
                **self.issuer_headers(province, "health_official"),
                "Content-Type": "text/csv",
            },
        )
        assert imported.status_code == 200, imported.text

    def status(self) -> dict[str, Any]:
        answer = self.http.get(f"{self.checkpoint}/v1/status", headers=self.checkpoint_headers())
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def root(self) -> Path:
        return self.directory / "registry" / "root" / "root-1.json"

    def verify(self, text: str) -> Any:
        """Verify as a partner would, with the registry's current list (a fresh client)."""
        cache = self.directory / "test-trust-cache" / str(time.monotonic_ns())
        with TrustListClient(self.registry, self.root(), cache) as client:
            client.refresh()
            return verify_credential(text, client.current())
