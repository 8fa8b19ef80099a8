"""The credential model: claim layout, invariants, masking, lifetimes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from healthcode import CodeKind, Credential, ErrorCode, StatusColour, VerificationError, mask_name
from healthcode.credential import new_credential
from tests.conftest import NOW


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三丰", "张*丰"), ("张三", "张*"), ("欧阳娜娜", "欧**娜"), ("李", "李"), (" 王五 ", "王*")],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_claims_round_trip(make_credential: Callable[..., Credential]) -> None:
    credential = make_credential(status=StatusColour.YELLOW, source="cn-gd/abcdefghijklmnopqrstuv")
    claims = credential.to_claims()
    assert set(claims) == {"iss", "sub", "iat", "nbf", "exp", "jti", "hc"}
    assert Credential.from_claims(claims) == credential


def test_unknown_hc_members_are_ignored(make_credential: Callable[..., Credential]) -> None:
    claims = make_credential().to_claims()
    claims["hc"]["future_field"] = 1
    assert Credential.from_claims(claims).status is StatusColour.GREEN


@pytest.mark.parametrize(
    "overrides",
    [
        {"id_tail": "12345"},
        {"issuer": "https://evil.example"},
        {"subject": "51010419480301123X"},  # a raw ID number is not a pseudonym
        {"masked_name": "x" * 33},
    ],
)
def test_invariants_refuse_bad_values(
    make_credential: Callable[..., Credential], overrides: dict[str, Any]
) -> None:
    with pytest.raises(VerificationError) as info:
        make_credential(**overrides)
    assert info.value.code is ErrorCode.INVALID_CLAIMS


@pytest.mark.parametrize(("kind", "lifetime"), [(CodeKind.PHONE, 3600), (CodeKind.OFFLINE, 604800)])
def test_default_lifetimes(kind: CodeKind, lifetime: int) -> None:
    credential = new_credential(
        issuer="cn-sc",
        subject="a" * 22,
        status=StatusColour.GREEN,
        masked_name="张*",
        id_tail="123X",
        kind=kind,
        now=NOW,
    )
    assert credential.expires_at - credential.issued_at == lifetime


def test_lifetime_bounds() -> None:
    with pytest.raises(ValueError, match="lifetime"):
        new_credential(
            issuer="cn-sc",
            subject="a" * 22,
            status=StatusColour.GREEN,
            masked_name="张*",
            id_tail="123X",
            lifetime_s=25 * 3600,
        )
