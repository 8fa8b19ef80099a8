"""Transcoding a partner's code into a local one, and the revocation list's `since`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from healthcode import (
    SigningKey,
    StatusColour,
    TrustStore,
    new_credential,
    sign_credential,
    verify_credential,
)
from healthcode.credential import CodeKind
from healthcode.trust import IssuerStatus
from tests.healthcode.server.partner.partner_api import (
    SC_CITIZEN,
    Federation,
    PartnerApi,
    RevokedJtis,
)


def test_transcoding_a_partner_code_yields_a_local_code_with_its_source(
    api: PartnerApi,
) -> None:
    fed = api.federation
    source = new_credential(
        issuer="cn-gd",
        subject="A" * 22,
        status=StatusColour.GREEN,
        masked_name="王*明",
        id_tail="0016",
        kind=CodeKind.PHONE,
    )
    token = sign_credential(source, fed.gd_key)
    answer = api.http.post(
        "/transcode", json={"credential": token, "purpose": "travel"}, headers=api.bearer()
    )
    assert answer.status_code == 200, answer.text
    result = verify_credential(answer.json()["token"], fed.trust)
    assert result.valid
    assert result.credential is not None
    assert result.issuer == "cn-sc"
    assert result.credential.source == f"cn-gd/{source.jti}"
    assert result.credential.status is StatusColour.GREEN
    assert result.credential.expires_at <= source.expires_at
    assert api.backend.audits[-1]["subject"] == "A" * 22


def test_transcoding_refuses_other_regions_and_forgeries(api: PartnerApi) -> None:
    fed = api.federation
    sc_code = sign_credential(
        new_credential(
            issuer="cn-sc",
            subject="B" * 22,
            status=StatusColour.GREEN,
            masked_name="王*明",
            id_tail="0016",
        ),
        fed.sc_key,
    )
    answer = api.http.post("/transcode", json={"credential": sc_code}, headers=api.bearer())
    assert answer.status_code == 403
    assert answer.json()["error"] == "forbidden"
    forged = sign_credential(
        new_credential(
            issuer="cn-gd",
            subject="C" * 22,
            status=StatusColour.GREEN,
            masked_name="王*明",
            id_tail="0016",
        ),
        SigningKey.generate(),
    )
    answer = api.http.post("/transcode", json={"credential": forged}, headers=api.bearer())
    assert answer.status_code == 422
    assert answer.json()["error"] == "unknown_key"


def test_suspended_partner_cannot_call(
    make_api: Callable[..., PartnerApi], federation: Federation, redis_url: str
) -> None:
    issuers = [
        replace(entry, status=IssuerStatus.SUSPENDED) if entry.id == "cn-gd" else entry
        for entry in federation.trust.issuers.values()
    ]
    api = make_api(redis_url, trust=TrustStore(issuers))
    answer = api.http.get("/revocations", headers=api.bearer())
    assert answer.status_code == 401
    assert answer.json()["error"] == "assertion_invalid"


def test_transcoding_a_revoked_code_is_refused(
    make_api: Callable[..., PartnerApi], federation: Federation, redis_url: str
) -> None:
    source = new_credential(
        issuer="cn-gd",
        subject="D" * 22,
        status=StatusColour.GREEN,
        masked_name="王*明",
        id_tail="0016",
    )
    api = make_api(redis_url, revocation_checker=RevokedJtis({source.jti}))
    token = sign_credential(source, federation.gd_key)
    answer = api.http.post("/transcode", json={"credential": token}, headers=api.bearer())
    assert answer.status_code == 422
    assert answer.json()["error"] == "revoked"
    assert api.backend.audits[-1]["action"] == "transcode:revoked"


def test_backend_credential_that_does_not_verify_is_not_relayed(
    make_api: Callable[..., PartnerApi], redis_url: str
) -> None:
    # The backend signs with a key the trust list does not (yet) hold.
    api = make_api(redis_url, backend_key=SigningKey.generate())
    body = {"id_number": SC_CITIZEN, "name": "张三丰", "purpose": "p"}
    answer = api.http.post("/status", json=body, headers=api.bearer())
    assert answer.status_code == 503
    assert answer.json()["error"] == "upstream_unavailable"
    assert "token" not in answer.json()


@pytest.mark.parametrize(
    "since",
    ["²", "１２", "٣", "-1", "+1", "1e3", " 1", "1 ", "", "9007199254740993", "0" * 17],
)
def test_revocations_since_must_be_ascii_digits(api: PartnerApi, since: str) -> None:
    # str.isdigit() accepts "²" (int() then fails: a 500) and int() reads "１２" as 12.
    answer = api.http.get("/revocations", params={"since": since}, headers=api.bearer())
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_request"
    assert api.backend.audits[-1]["action"] == "revocations:invalid_request"


@pytest.mark.parametrize("since", ["0", "42", "9007199254740992"])
def test_revocations_since_accepts_zero_to_two_to_the_53(api: PartnerApi, since: str) -> None:
    answer = api.http.get("/revocations", params={"since": since}, headers=api.bearer())
    assert answer.status_code == 200, answer.text
