"""Resident ID numbers for the tests: a valid one, known divisions, wrong checks, spellings."""

from __future__ import annotations

from datetime import date

import pytest
from stdnum.cn import ric

from healthcode.idnumber import (
    PROVINCES,
    IdNumberError,
    check_character,
    is_known_division,
    make_id_number,
    parse_id_number,
)

TODAY = date(2024, 6, 1)
SECRET = b"test-secret-0123456789abcdef"
#: Every known division, found through the public API only (34 x 10 000 dictionary look-ups).
KNOWN_DIVISIONS = sorted(
    code
    for province in PROVINCES
    for code in (f"{province}{suffix:04d}" for suffix in range(10_000))
    if is_known_division(code)
)
FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def with_check(first17: str) -> str:
    return first17 + check_character(first17)


def bad_check(number: str) -> str:
    """The same number with a wrong check character."""
    return number[:-1] + ("0" if number[-1] != "0" else "1")


def safe_is_valid(candidate: str) -> bool:
    """stdnum.cn.ric.is_valid, except that stdnum 2.2 raises KeyError for some unknown codes."""
    try:
        return ric.is_valid(candidate)
    except KeyError:
        return False


def error_of(text: str, today: date = TODAY) -> IdNumberError:
    with pytest.raises(IdNumberError) as info:
        parse_id_number(text, today=today)
    return info.value


#: A valid number (Chengdu, 1990-07-15, sequence 123).
VALID = make_id_number("510104", date(1990, 7, 15), 123)


def at(date_digits: str, division: str = "510104") -> str:
    return with_check(f"{division}{date_digits}123")
