"""Key rotation: the new key signs, the old one stays in the JWKS until its codes expire."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from healthcode import verify_credential
from healthcode.jws import parse_compact
from tests.issuers.conftest import (
    TEST_SUBJECT_SECRET,
    TEST_TOKEN_SECRET,
    IssuerService,
    citizen_number,
)


def kids(svc: IssuerService) -> list[str]:
    return [key["kid"] for key in svc.http.get("/.well-known/jwks.json").json()["keys"]]


def test_rotate_key_command_keeps_old_codes_verifiable(issuer: IssuerService) -> None:
    id_number = citizen_number(81)
    issuer.register(id_number, "吴九")
    headers = issuer.citizen_headers(id_number)
    old_code = issuer.http.post("/v1/me/offline-code", headers=headers).json()
    (old_kid,) = kids(issuer)
    env = {
        **os.environ,
        "HC_ISSUER_KEY_DIR": str(issuer.settings.key_dir),
        "HC_ISSUER_TOKEN_SECRET": TEST_TOKEN_SECRET,
        "HC_ISSUER_SUBJECT_SECRET": TEST_SUBJECT_SECRET,
    }
    done = subprocess.run(
        [sys.executable, "-m", "healthcode.cli", "issuer", "rotate-key"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    published = kids(issuer)
    assert len(published) == 2
    assert old_kid in published
    new_code = issuer.http.post("/v1/me/offline-code", headers=headers).json()
    assert parse_compact(new_code["token"]).kid != old_kid
    trust = issuer.trust()
    assert verify_credential(old_code["qr_text"], trust).valid
    assert verify_credential(new_code["qr_text"], trust).valid
    # Once every code the old key signed has expired, it leaves the JWKS.
    later = time.time() + issuer.settings.offline_lifetime_s + 3600
    remaining = [key.kid for key in issuer.context.keyring.published_keys(now=later)]
    assert remaining == [parse_compact(new_code["token"]).kid]
