"""What a sheet refuses to print: phone codes, unreadable text, nameless issuers, empty families."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from healthcode import ErrorCode, encode_numeric
from healthcode.errors import RequestError
from offline.sheet import MAX_ISSUER_NAME_CHARS, FamilySheet, PrintableCode, RenderError, rasterize


@pytest.mark.parametrize("name", ["", "   ", "卫" * (MAX_ISSUER_NAME_CHARS + 1)])
def test_a_code_without_a_printable_issuer_name_is_refused(
    offline_token: Callable[..., str], name: str
) -> None:
    with pytest.raises(RenderError) as caught:
        PrintableCode.from_token(offline_token(), issuer_name=name)
    assert caught.value.code is ErrorCode.INVALID_REQUEST
    assert "issuer's name" in caught.value.message


def test_empty_family_sheet_is_refused() -> None:
    with pytest.raises(RequestError) as caught:
        FamilySheet([])
    assert caught.value.code is ErrorCode.NOT_FOUND


def test_a_phone_code_is_not_printed(make_token: Callable[..., str]) -> None:
    with pytest.raises(RenderError) as caught:
        PrintableCode.from_token(make_token(), issuer_name="四川省")
    assert caught.value.code is ErrorCode.INVALID_REQUEST
    assert "only offline codes" in caught.value.message


@pytest.mark.parametrize("text", ["", "hc:/123", "not a code", "a.b.c"])
def test_unreadable_input_is_refused_with_a_code(text: str) -> None:
    with pytest.raises(RenderError) as caught:
        PrintableCode.from_token(text, issuer_name="四川省")
    assert caught.value.code is ErrorCode.INVALID_REQUEST


def test_hc_text_and_jws_give_the_same_printed_code(offline_token: Callable[..., str]) -> None:
    token = offline_token()

    from_jws = PrintableCode.from_token(token, issuer_name="四川省")
    from_qr = PrintableCode.from_token(encode_numeric(token) + "\n", issuer_name="四川省")

    assert from_jws.qr_text == from_qr.qr_text == encode_numeric(token)
    assert from_jws.credential == from_qr.credential


def test_rasterize_refuses_absurd_resolutions() -> None:
    with pytest.raises(ValueError, match="dpi"):
        rasterize(b"%PDF", 5000)
