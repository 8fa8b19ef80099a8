"""The §10.4 revocation list: build, sign and the one parse-and-verify (`healthcode.revocation`)."""

from __future__ import annotations

import orjson
import pytest

from healthcode.errors import ErrorCode, VerificationError
from healthcode.jws import sign_compact
from healthcode.keys import SigningKey, b64url_decode
from healthcode.revocation import (
    MAX_LIST_BYTES,
    RevocationList,
    redis_key,
    verify_revocation_list,
)
from healthcode.trust import IssuerEntry, KeyStatus, TrustedKey

NOW = 1_790_000_000


def _issuer(key: SigningKey, status: KeyStatus = KeyStatus.ACTIVE) -> IssuerEntry:
    return IssuerEntry(id="cn-sc", name="Sichuan", keys=(TrustedKey(key.verifying_key, status),))


def test_a_signed_list_round_trips() -> None:
    key = SigningKey.generate()
    listed = RevocationList("cn-sc", seq=7, since=3, issued_at=NOW, entries={"j" * 22: NOW + 60})
    token = listed.sign(key)
    assert verify_revocation_list(token, _issuer(key)) == listed
    # §10.4: header {alg, kid}, payload minified JSON, not compressed, issued_at an integer.
    header, payload = (b64url_decode(part) for part in token.split(".")[:2])
    assert orjson.loads(header) == {"alg": "ES256", "kid": key.kid}
    assert payload == orjson.dumps(listed.to_payload())
    assert b'"issued_at":1790000000,' in payload
    assert redis_key("cn-sc") == "hc:revoked:{cn-sc}"


def test_only_an_active_key_of_that_issuer_may_sign() -> None:
    key = SigningKey.generate()
    token = RevocationList("cn-sc", 1, 0, NOW).sign(key)
    with pytest.raises(VerificationError) as caught:
        verify_revocation_list(token, _issuer(key, KeyStatus.RETIRED))
    assert caught.value.code is ErrorCode.UNKNOWN_KEY


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"iss": "cn-bj"}, "names another issuer"),
        ({"seq": True}, "'seq' must be"),
        ({"seq": -1}, "'seq' must be"),
        ({"since": "0"}, "'since' must be"),
        ({"issued_at": float("nan")}, "'issued_at' must be"),
        ({"issued_at": 10**400}, "'issued_at' must be"),
        ({"entries": {}}, "'entries' must be"),
        ({"entries": [{"jti": "short", "exp": NOW}]}, "entry 0: 'jti'"),
        ({"entries": [{"jti": "j" * 22, "exp": 1.5}]}, "entry 0: 'exp'"),
    ],
)
def test_every_field_is_checked(changes: dict[str, object], named: str) -> None:
    key = SigningKey.generate()
    payload = {"iss": "cn-sc", "seq": 1, "since": 0, "issued_at": NOW, "entries": []}
    payload.update(changes)
    text = repr(payload).replace("'", '"').replace("True", "true").replace("nan", "NaN")
    token = sign_compact(text.encode(), key, compress=False)
    with pytest.raises(VerificationError) as caught:
        verify_revocation_list(token, _issuer(key))
    assert caught.value.code is ErrorCode.INVALID_CLAIMS
    assert named in caught.value.message


def test_a_list_over_the_bound_is_refused_unread() -> None:
    key = SigningKey.generate()
    with pytest.raises(VerificationError) as caught:
        verify_revocation_list("a" * (MAX_LIST_BYTES + 1), _issuer(key))
    assert caught.value.code is ErrorCode.INPUT_TOO_LARGE
