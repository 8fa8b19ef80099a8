"""Shared passwords and bearer tokens (healthcode.server.security)."""

from __future__ import annotations

import pytest

from healthcode import ErrorCode, RequestError
from healthcode.server.security import check_password, hash_password, read_token, sign_token

SECRET = b"test-token-secret-0123456789abcdef"


def test_password_round_trip_and_salting() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second  # salted
    assert check_password("correct horse", first)
    assert not check_password("correct horse ", first)


@pytest.mark.parametrize("stored", ["", "plain", "scrypt$1$2$3$!!$??", "bcrypt$a$b$c$d$e"])
def test_damaged_hashes_never_match(stored: str) -> None:
    assert not check_password("anything", stored)


def test_token_round_trip_and_expiry() -> None:
    token = sign_token({"sub": "staff:ann"}, SECRET, prefix="t1", lifetime_s=60, now=1000)
    assert read_token(token, SECRET, prefix="t1", now=1059)["sub"] == "staff:ann"
    with pytest.raises(RequestError) as expired:
        read_token(token, SECRET, prefix="t1", now=1061)
    assert expired.value.code is ErrorCode.TOKEN_EXPIRED


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature
        lambda t: t.replace("t1.", "t2.", 1),  # prefix
        lambda t: t.split(".")[0] + ".e30." + t.split(".")[2],  # claims swapped
        lambda t: t + ".x",
    ],
)
def test_tampered_tokens_are_unauthenticated(mutate: object) -> None:
    token = sign_token({"sub": "staff:ann"}, SECRET, prefix="t1", lifetime_s=60, now=1000)
    with pytest.raises(RequestError) as refused:
        read_token(mutate(token), SECRET, prefix="t1", now=1001)  # type: ignore[operator]
    assert refused.value.code is ErrorCode.UNAUTHENTICATED
