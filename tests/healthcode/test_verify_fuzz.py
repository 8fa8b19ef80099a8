"""Property: whatever text arrives, verify_credential answers with a result, never raises."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthcode import Credential, SigningKey, TrustStore, verify_credential
from healthcode.keys import jwks_document
from healthcode.qr import encode_numeric
from tests.builders import craft_token
from tests.conftest import NOW

_SETTINGS = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(text=st.text(max_size=3000))
def test_random_text_always_gets_an_error_code(text: str, trust: TrustStore) -> None:
    result = verify_credential(text, trust, now=NOW)
    assert not result.valid
    assert result.error is not None


@_SETTINGS
@given(data=st.binary(max_size=2000))
def test_random_bytes_always_get_an_error_code(data: bytes, trust: TrustStore) -> None:
    result = verify_credential(data, trust, now=NOW)
    assert not result.valid
    assert result.error is not None


@pytest.fixture(scope="module")
def fixed_token(make_token: Callable[..., str]) -> str:
    # One token for all examples: hypothesis needs the same input to replay a failure.
    return make_token()


@_SETTINGS
@given(data=st.data())
def test_mutated_tokens_never_raise_and_never_pass(
    data: st.DataObject, fixed_token: str, trust: TrustStore
) -> None:
    token = fixed_token
    as_qr = data.draw(st.booleans())
    text = encode_numeric(token) if as_qr else token
    position = data.draw(st.integers(0, len(text) - 1))
    action = data.draw(st.sampled_from(["replace", "insert", "delete", "truncate", "swap"]))
    alphabet = "0123456789" if as_qr else "ABCxyz019-_.=+/ \n\ufeff"
    char = data.draw(st.sampled_from(alphabet))
    if action == "replace":
        mutated = text[:position] + char + text[position + 1 :]
    elif action == "insert":
        mutated = text[:position] + char + text[position:]
    elif action == "delete":
        mutated = text[:position] + text[position + 1 :]
    elif action == "truncate":
        mutated = text[:position]
    else:
        other = data.draw(st.integers(0, len(text) - 1))
        chars = list(text)
        chars[position], chars[other] = chars[other], chars[position]
        mutated = "".join(chars)
    result = verify_credential(mutated, trust, now=NOW)
    if mutated == text:
        assert result.valid
    else:
        # A changed code must never verify: every byte is covered by the signature or framing.
        assert not result.valid, (action, position, char)
        assert result.error is not None


@_SETTINGS
@given(
    colour=st.sampled_from(["green", "yellow", "red"]),
    name=st.text(min_size=1, max_size=32).filter(lambda s: s.strip() != ""),
)
def test_any_valid_credential_round_trips(
    colour: str,
    name: str,
    make_token: Callable[..., str],
    trust: TrustStore,
    issuer_key: SigningKey,
) -> None:
    from healthcode import StatusColour, mask_name

    token = make_token(status=StatusColour(colour), masked_name=mask_name(name)[:32])
    result = verify_credential(encode_numeric(token), trust, now=NOW)
    assert result.valid, result.message
    assert result.credential is not None
    assert result.credential.status.value == colour
    assert result.kid == issuer_key.kid


# -- hostile structure behind a valid signature ---------------------------------------------------
# Random text rarely gets past the framing. These strategies build well-formed JWSs whose header
# or claims hold arbitrary JSON, signed with the trusted key, so every parser after the
# signature check sees hostile values of every JSON type.

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@_SETTINGS
@given(
    alg=st.one_of(st.just("ES256"), _JSON),
    kid=st.one_of(st.just("KID"), _JSON),
    zip_=st.one_of(st.just("DEF"), _JSON),
    extra=st.dictionaries(st.sampled_from(["crit", "typ", "cty", "x5u", "jku"]), _JSON),
)
def test_hostile_headers_never_raise(
    alg: object,
    kid: object,
    zip_: object,
    extra: dict[str, object],
    issuer_key: SigningKey,
    make_credential: Callable[..., Credential],
    trust: TrustStore,
) -> None:
    header = {"alg": alg, "kid": issuer_key.kid if kid == "KID" else kid, "zip": zip_, **extra}
    token = craft_token(issuer_key, header=header, claims=make_credential().to_claims())
    result = verify_credential(token, trust, now=NOW)
    as_expected = header == {"alg": "ES256", "kid": issuer_key.kid, "zip": "DEF"} or (
        set(extra) <= {"typ", "cty", "x5u", "jku"}
        and header["alg"] == "ES256"
        and header["kid"] == issuer_key.kid
        and header["zip"] == "DEF"
    )
    assert result.valid is as_expected, (header, result.error, result.message)
    if not result.valid:
        assert result.error is not None


_CLAIM_NAMES = ["iss", "sub", "iat", "nbf", "exp", "jti", "hc"]
_HC_NAMES = ["v", "st", "rs", "nm", "tl", "k", "src"]


@_SETTINGS
@given(data=st.data())
def test_hostile_claims_signed_by_a_trusted_key_never_raise(
    data: st.DataObject,
    issuer_key: SigningKey,
    make_credential: Callable[..., Credential],
    trust: TrustStore,
) -> None:
    claims: dict[str, object] = make_credential().to_claims()
    hc = dict(claims["hc"])  # type: ignore[call-overload]
    for name in data.draw(st.lists(st.sampled_from(_CLAIM_NAMES), max_size=3, unique=True)):
        claims[name] = data.draw(_JSON)
    for name in data.draw(st.lists(st.sampled_from(_HC_NAMES), max_size=3, unique=True)):
        hc[name] = data.draw(_JSON)
    if isinstance(claims.get("hc"), dict):
        claims["hc"] = hc
    result = verify_credential(craft_token(issuer_key, claims=claims), trust, now=NOW)
    if result.valid:
        # Only values that the standard allows may verify, and then they are what was signed.
        assert result.credential is not None
        if isinstance(claims["hc"], dict) and claims["hc"].get("src", "") is None:
            del claims["hc"]["src"]  # a JSON null source means no source (standard §2.3)
        assert result.credential.to_claims() == claims
        result.to_json()
    else:
        assert result.error is not None
        assert result.credential is None


_SHC_ISSUER = "https://issuer.example/shc"


@_SETTINGS
@given(data=st.data())
def test_hostile_smart_health_card_claims_never_raise(
    data: st.DataObject, issuer_key: SigningKey
) -> None:
    shc_trust = TrustStore.from_jwks([(_SHC_ISSUER, jwks_document([issuer_key.verifying_key]))])
    patient = {
        "resourceType": "Patient",
        "name": data.draw(
            st.one_of(
                _JSON,
                st.just(
                    [
                        {
                            "given": data.draw(st.lists(st.text(max_size=6), max_size=3)),
                            "family": data.draw(_JSON),
                        }
                    ]
                ),
            )
        ),
    }
    claims: dict[str, object] = {
        "iss": _SHC_ISSUER,
        "nbf": data.draw(st.one_of(st.just(NOW - 10), _JSON)),
        "vc": data.draw(
            st.one_of(
                _JSON,
                st.just(
                    {
                        "type": data.draw(
                            st.one_of(st.just(["https://smarthealth.cards#health-card"]), _JSON)
                        ),
                        "credentialSubject": {
                            "fhirVersion": "4.0.1",
                            "fhirBundle": data.draw(
                                st.one_of(
                                    st.just(
                                        {"resourceType": "Bundle", "entry": [{"resource": patient}]}
                                    ),
                                    _JSON,
                                )
                            ),
                        },
                    }
                ),
            )
        ),
    }
    if data.draw(st.booleans()):
        claims["exp"] = data.draw(st.one_of(st.just(NOW + 3600), _JSON))
    result = verify_credential(craft_token(issuer_key, claims=claims), shc_trust, now=NOW)
    assert result.valid or result.error is not None
    result.to_json()  # what --json prints must never fail on a verified card either
