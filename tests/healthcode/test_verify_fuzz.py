"""Property: whatever text arrives, verify_credential answers with a result, never raises."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthcode import SigningKey, TrustStore, verify_credential
from healthcode.qr import encode_numeric
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
