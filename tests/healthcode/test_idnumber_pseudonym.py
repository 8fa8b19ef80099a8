"""Resident ID numbers: the pseudonymous subject (HMAC of the number)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import date

import pytest

from healthcode.errors import ErrorCode
from healthcode.idnumber import IdNumberError, make_id_number, parse_id_number, pseudonymous_subject
from tests.healthcode.idnumber_samples import SECRET, VALID, bad_check

# -- pseudonymous subject ----------------------------------------------------------------------


def test_subject_is_the_specified_hmac() -> None:
    mac = hmac.new(SECRET, b"hc-sub-v1:11010519491231002X", hashlib.sha256).digest()[:16]
    expected = base64.urlsafe_b64encode(mac).decode().rstrip("=")
    assert pseudonymous_subject("11010519491231002X", SECRET) == expected


def test_subject_is_deterministic_22_char_base64url() -> None:
    subject = pseudonymous_subject(VALID, SECRET)
    assert subject == pseudonymous_subject(VALID, SECRET)
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", subject)


def test_subject_depends_on_secret_and_number() -> None:
    other = make_id_number("510104", date(1990, 7, 15), 125)
    assert pseudonymous_subject(VALID, SECRET) != pseudonymous_subject(VALID, SECRET + b"!")
    assert pseudonymous_subject(VALID, SECRET) != pseudonymous_subject(other, SECRET)


def test_subject_is_the_same_for_every_spelling() -> None:
    expected = pseudonymous_subject("11010519491231002X", SECRET)
    for spelling in ("11010519491231002x", " 11010519491231002Ｘ ", "11010519491231002ｘ"):
        assert pseudonymous_subject(spelling, SECRET) == expected
    assert pseudonymous_subject(parse_id_number("11010519491231002x"), SECRET) == expected


def test_subject_refuses_short_secret_and_bad_number() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        pseudonymous_subject(VALID, b"0123456789abcde")
    with pytest.raises(IdNumberError) as info:
        pseudonymous_subject(bad_check(VALID), SECRET)
    assert info.value.code is ErrorCode.INVALID_ID_NUMBER
