"""The one-time steps of `up` that talk to the services: migrate, onboard, seed, demo codes.

Services are reached only over HTTP or their command lines (`run_command`), never imported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from federation.children import FederationError, healthcode_command, run_command
from federation.plan import PROVINCES, Federation, python
from healthcode.fetch import PEER_BOUNDS, PeerClient
from healthcode.keys import SigningKey

CHECKPOINT_STAFF = "staff"
#: The demo's calls to its own children (onboarding, logins, counter codes).
DEMO_CALL = PEER_BOUNDS.service_call


def onboard(federation: Federation, admin_token: str) -> bool:
    """Register every province with its current JWKS; True if anything was added."""
    added = False
    headers = {"Authorization": f"Bearer {admin_token}"}
    with PeerClient(bounds=DEMO_CALL) as http:
        for issuer_id, name, region in PROVINCES:
            child = federation.provinces[issuer_id]
            # From the process itself: behind HAProxy a province is not ready (no trust list
            # naming it) until it is onboarded, so the balancer would not pass this on yet.
            jwks = http.get(f"{child.health_url or child.url}/.well-known/jwks.json").json()
            partner = SigningKey.load(federation.directory / issuer_id / "partner-key.pem")
            body = {
                "id": issuer_id,
                "name": name,
                "region": region,
                "profile": "hc",
                "endpoints": {
                    "partner_api": f"{child.url}/partner/v1",
                    "jwks": f"{child.url}/.well-known/jwks.json",
                    # The public, unauthenticated list (jtis only) that checkpoints poll.
                    "revocations": f"{child.url}/v1/revocations",
                },
                "jwks": jwks,
                "partner_keys": [partner.verifying_key.to_jwk()],
            }
            answer = http.post(
                f"{federation.registry.url}/v1/admin/issuers", json=body, headers=headers
            )
            if answer.status_code == 201:
                added = True
            elif answer.status_code != 409:  # 409: onboarded by an earlier `up`
                raise FederationError(f"onboarding {issuer_id} failed: {answer.text}")
    return added


def migrate(federation: Federation) -> None:
    """`python -m issuers migrate`: each province's schema before its first start."""
    for issuer_id, child in federation.provinces.items():
        run_command([*python("issuers"), "migrate"], child.env, f"migrating {issuer_id}")


def seed(federation: Federation) -> None:
    """`healthcode issuer seed-demo --json` once per province; logins kept in DIR/<id>/."""
    for issuer_id, child in federation.provinces.items():
        target = federation.directory / issuer_id / "demo-logins.json"
        if target.exists():
            continue
        logins = run_command(
            healthcode_command("issuer", "seed-demo", "--json"), child.env, f"seeding {issuer_id}"
        )
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(logins)


CHECKPOINT_STAFF = "staff"
#: The demo's calls to its own children (onboarding, logins, counter codes).
DEMO_CALL = PEER_BOUNDS.service_call


def _login(http: PeerClient, url: str, username: str, password: str) -> dict[str, str]:
    answer = http.post(f"{url}/v1/auth/login", json={"username": username, "password": password})
    if answer.status_code != 200:
        raise FederationError(f"logging in as {username} at {url} failed: {answer.text}")
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _logins(federation: Federation, issuer_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (federation.directory / issuer_id / "demo-logins.json").read_text()
    )
    return data


def _account(logins: Mapping[str, Any], role: str) -> Mapping[str, str]:
    for account in logins["accounts"]:
        if account["role"] == role:
            found: Mapping[str, str] = account
            return found
    raise FederationError(f"the seeded province has no {role} account")


def demo_codes(federation: Federation) -> list[Path]:
    """A current code of every seeded citizen as PNG + hc:/ text, fetched at the counter.

    Uses the issuer's counter endpoint over HTTP (a walk-in citizen's printable code), so the
    newcomer has real codes of each colour to scan on screen within a minute.
    """
    from healthcode.qr import render_png

    target = federation.directory / "codes"
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with PeerClient(bounds=DEMO_CALL) as http:
        for issuer_id, child in federation.provinces.items():
            logins = _logins(federation, issuer_id)
            counter = _account(logins, "counter_staff")
            headers = _login(http, child.url or "", counter["username"], counter["password"])
            for index, citizen in enumerate(logins["citizens"], start=1):
                answer = http.post(
                    f"{child.url}/v1/counter/offline-code",
                    json={"id_number": citizen["id_number"], "name": citizen["name"]},
                    headers=headers,
                )
                if answer.status_code != 200:
                    raise FederationError(f"demo code for {issuer_id} failed: {answer.text}")
                code = answer.json()
                stem = target / f"{issuer_id}-{index}-{code['status']}"
                stem.with_suffix(".png").write_bytes(render_png(code["qr_text"], scale=6))
                stem.with_suffix(".txt").write_text(code["qr_text"] + "\n")
                written.append(stem.with_suffix(".png"))
    return written


def prepare_checkpoint(federation: Federation, staff_password: str) -> None:
    """Give the checkpoint its device account at cn-sc and a staff login for the page."""
    assert federation.checkpoint is not None
    device = _account(_logins(federation, "cn-sc"), "checkpoint")
    federation.checkpoint.env["HC_VERIFIER_ISSUER_USERNAME"] = device["username"]
    federation.checkpoint.env["HC_VERIFIER_ISSUER_PASSWORD"] = device["password"]
    marker = federation.directory / "checkpoint" / "staff-created"
    if marker.exists():
        return
    run_command(
        healthcode_command(
            "checkpoint",
            "add-user",
            CHECKPOINT_STAFF,
            "--role",
            "staff",
            "--password-env",
            "HC_DEMO_STAFF_PASSWORD",
        ),
        {**federation.checkpoint.env, "HC_DEMO_STAFF_PASSWORD": staff_password},
        "creating the checkpoint staff login",
    )
    marker.write_text("created\n")


def demo_phone(directory: Path, issuer_id: str) -> str | None:
    """A seeded citizen's phone with a green code, for a newcomer to log in with."""
    path = directory / issuer_id / "demo-logins.json"
    try:
        citizens = json.loads(path.read_text())["citizens"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    phones = [
        c.get("phone") for c in citizens if isinstance(c, dict) and c.get("colour") == "green"
    ]
    return next((p for p in phones if isinstance(p, str) and p), None)
