"""Partner status look-up against a real uvicorn server and a real redis-server."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from healthcode import SigningKey, StatusColour, TrustStore, verify_credential
from healthcode.idnumber import make_id_number
from healthcode.trust import IssuerStatus
from tests.healthcode.server.partner.partner_api import SC_CITIZEN, Federation, PartnerApi
from tests.servers import free_port


def test_status_lookup_returns_a_credential_that_verifies(api: PartnerApi) -> None:
    body = {"id_number": SC_CITIZEN, "name": "张三丰", "purpose": "id-card read at 广州南站"}
    answer = api.http.post("/status", json=body, headers=api.bearer())
    assert answer.status_code == 200, answer.text
    result = verify_credential(answer.json()["qr_text"], api.federation.trust)
    assert result.valid
    assert result.credential is not None
    assert result.credential.status is StatusColour.YELLOW
    assert result.credential.expires_at - result.credential.issued_at <= 300
    assert api.backend.audits == [
        {
            "actor": "cn-gd",
            "action": "status",
            "subject": result.credential.subject,
            "purpose": "id-card read at 广州南站",
        }
    ]
    assert SC_CITIZEN not in repr(api.backend.audits)


def test_status_lookup_refusals_reveal_nothing(api: PartnerApi) -> None:
    other = make_id_number("510104", __import__("datetime").date(1960, 5, 6), 333)
    unknown = api.http.post(
        "/status", json={"id_number": other, "name": "张三丰", "purpose": "p"}, headers=api.bearer()
    )
    wrong_name = api.http.post(
        "/status",
        json={"id_number": SC_CITIZEN, "name": "李四", "purpose": "p"},
        headers=api.bearer(),
    )
    assert unknown.status_code == wrong_name.status_code == 404
    assert unknown.json()["error"] == wrong_name.json()["error"] == "not_found"
    broken = SC_CITIZEN[:-1] + ("0" if SC_CITIZEN[-1] != "0" else "1")
    invalid = api.http.post(
        "/status",
        json={"id_number": broken, "name": "张三丰", "purpose": "p"},
        headers=api.bearer(),
    )
    assert invalid.status_code == 422
    assert invalid.json()["error"] == "invalid_id_number"
    assert broken not in invalid.text
    assert api.backend.issued == 0  # nothing was issued for a wrong name or number
    assert [a["action"] for a in api.backend.audits] == [
        "status:not_found",
        "status:not_found",
        "status:invalid_id_number",
    ]


def test_status_lookup_requires_the_name(api: PartnerApi) -> None:
    # §10.2: the name is required; without it a number alone would reveal a citizen's colour.
    answer = api.http.post(
        "/status", json={"id_number": SC_CITIZEN, "purpose": "p"}, headers=api.bearer()
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"
    assert SC_CITIZEN not in answer.text
    assert api.backend.issued == 0
    # Authenticated, so the refusal is audited against the partner (§10.6).
    assert api.backend.audits == [
        {"actor": "cn-gd", "action": "status:invalid_request", "subject": None, "purpose": None}
    ]


def test_authenticated_refusals_are_audited(
    make_api: Callable[..., PartnerApi], federation: Federation, redis_url: str
) -> None:
    moment = (time.time() // 60) * 60 + 30
    api = make_api(redis_url, rate_limit_per_minute=3, clock=lambda: moment)
    headers = api.bearer(now=moment)
    assert api.http.get("/revocations", headers=headers).status_code == 200
    assert api.http.get("/revocations", headers=headers).status_code == 401  # replay
    # The replay did not count toward the partner's limit of 3.
    assert api.http.get("/revocations", headers=api.bearer(now=moment)).status_code == 200
    assert api.http.get("/revocations", headers=api.bearer(now=moment)).status_code == 200
    assert api.http.get("/revocations", headers=api.bearer(now=moment)).status_code == 429
    bad_since = api.http.get("/revocations?since=x", headers=api.bearer(now=moment + 60))
    assert bad_since.status_code in (422, 429)
    suspended = [
        replace(entry, status=IssuerStatus.SUSPENDED) if entry.id == "cn-gd" else entry
        for entry in federation.trust.issuers.values()
    ]
    down = make_api(f"redis://127.0.0.1:{free_port()}/0")
    assert down.http.get("/revocations", headers=down.bearer()).status_code == 503
    gone = make_api(redis_url, trust=TrustStore(suspended))
    assert gone.http.get("/revocations", headers=gone.bearer()).status_code == 401
    assert [a["action"] for a in api.backend.audits][:5] == [
        "revocations",
        "revocations:assertion_replayed",
        "revocations",
        "revocations",
        "revocations:rate_limited",
    ]
    assert all(a["actor"] == "cn-gd" for a in api.backend.audits)
    assert [a["action"] for a in down.backend.audits] == ["revocations:upstream_unavailable"]
    assert [a["action"] for a in gone.backend.audits] == ["revocations:assertion_invalid"]
    # A forged assertion authenticates nobody: logged, not audited against a partner.
    forged = make_api(redis_url)
    forged.http.get("/revocations", headers=forged.bearer(SigningKey.generate()))
    assert forged.backend.audits == []
