"""Resident ID numbers: each error, and errors that never show the number."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthcode import idnumber
from healthcode.errors import ErrorCode
from healthcode.idnumber import ResidentId, is_valid_id_number, make_id_number, parse_id_number
from tests.healthcode.idnumber_samples import (
    TODAY,
    VALID,
    at,
    bad_check,
    error_of,
    safe_is_valid,
    with_check,
)

ERROR_CASES = [
    # (case, input, code, fragment of the message)
    ("empty", "", ErrorCode.INVALID_ID_NUMBER, "18 characters (got 0)"),
    ("17 chars", VALID[:-1], ErrorCode.INVALID_ID_NUMBER, "18 characters (got 17)"),
    ("19 chars", VALID + "1", ErrorCode.INVALID_ID_NUMBER, "18 characters (got 19)"),
    ("first generation", "510104900715123", ErrorCode.INVALID_ID_NUMBER, "15-digit"),
    ("letter", VALID[:5] + "A" + VALID[6:], ErrorCode.INVALID_ID_NUMBER, "character 6 is not"),
    ("X not last", VALID[:10] + "X" + VALID[11:], ErrorCode.INVALID_ID_NUMBER, "position 11"),
    ("bad last", VALID[:-1] + "Y", ErrorCode.INVALID_ID_NUMBER, "last character"),
    ("inner space", VALID[:6] + " " + VALID[7:], ErrorCode.INVALID_ID_NUMBER, "character 7"),
    (
        "bad check",
        bad_check(VALID),
        ErrorCode.INVALID_ID_NUMBER,
        "check character",
    ),
    ("Feb 30", at("19900230"), ErrorCode.INVALID_ID_NUMBER, "not a real calendar date"),
    ("Feb 29 1900", at("19000229"), ErrorCode.INVALID_ID_NUMBER, "not a real calendar date"),
    ("month 13", at("19901301"), ErrorCode.INVALID_ID_NUMBER, "not a real calendar date"),
    ("day 00", at("19900100"), ErrorCode.INVALID_ID_NUMBER, "not a real calendar date"),
    ("1899", at("18991231"), ErrorCode.INVALID_ID_NUMBER, "before 1900"),
    ("2099", at("20990101"), ErrorCode.INVALID_ID_NUMBER, "after today (2024-06-01)"),
    ("tomorrow", at("20240602"), ErrorCode.INVALID_ID_NUMBER, "after today"),
    ("990000", at("19900101", "990000"), ErrorCode.UNKNOWN_REGION, "province-level"),
    ("000000", at("19900101", "000000"), ErrorCode.UNKNOWN_REGION, "province-level"),
    ("83 (Taiwan permit)", at("19900101", "830000"), ErrorCode.UNKNOWN_REGION, "province-level"),
    ("519999", at("19900101", "519999"), ErrorCode.UNKNOWN_REGION, "characters 1-6"),
    ("110199", at("19900101", "110199"), ErrorCode.UNKNOWN_REGION, "characters 1-6"),
]


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_each_error(text: str, code: ErrorCode, fragment: str) -> None:
    error = error_of(text)
    assert error.code is code
    assert fragment in error.message
    assert not is_valid_id_number(text, today=TODAY)


def test_birth_today_and_on_1900_01_01_are_accepted() -> None:
    assert parse_id_number(at("20240601"), today=TODAY).birth_date == TODAY
    assert parse_id_number(at("19000101"), today=TODAY).birth_date == date(1900, 1, 1)
    assert parse_id_number(at("20000229"), today=TODAY).birth_date == date(2000, 2, 29)


def test_today_may_be_a_datetime() -> None:
    assert is_valid_id_number(at("20240601"), today=datetime(2024, 6, 1, 0, 1))
    assert not is_valid_id_number(at("20240602"), today=datetime(2024, 6, 1, 23, 59))


def test_default_today_is_the_date_in_china() -> None:
    # A number born "today in China" is valid even where the host's UTC date is still yesterday.
    today_in_china = datetime.now(timezone(timedelta(hours=8))).date()
    born_today = make_id_number("510104", today_in_china, 123)
    assert parse_id_number(born_today).birth_date == today_in_china
    assert not is_valid_id_number(make_id_number("510104", today_in_china + timedelta(2), 123))


def test_check_character_is_reported_before_date_and_region() -> None:
    # A typo usually breaks the check character; report that, not what the typo also broke.
    bad = bad_check(with_check("99000019900230123"))
    assert "check character" in error_of(bad).message


def test_historical_division_codes_are_accepted() -> None:
    # 110103 Chongwen district (Beijing) was merged into Dongcheng in 2010; 440524 Chaoyang county
    # became part of Shantou city. Numbers issued there keep those codes for life.
    assert parse_id_number(at("19800101", "110103"), today=TODAY).province_name == "北京市"
    assert parse_id_number(at("19800101", "440524"), today=TODAY).province_name == "广东省"


def test_division_code_is_not_tied_to_the_birth_year() -> None:
    # Hong Kong's 810000 is listed from 1997; a resident born in 1990 holds a permit with it.
    # stdnum.cn.ric refuses this (it treats the code as the birth place); we do not.
    number = at("19900101", "810000")
    assert parse_id_number(number, today=TODAY).province_name == "香港特别行政区"
    assert not safe_is_valid(number)
    # Likewise 510104 (Jinjiang district, Chengdu) is listed from 1990; residents born in 1980
    # who registered there hold numbers starting 510104.
    number = at("19800101", "510104")
    assert parse_id_number(number, today=TODAY).province_name == "四川省"
    assert not safe_is_valid(number)


def test_non_str_input_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_id_number(110105194912310020, today=TODAY)  # type: ignore[arg-type]


# -- privacy -----------------------------------------------------------------------------------


def forbidden_fragments(text: str) -> list[str]:
    """What must never appear in a message: the input and any 5 characters of the number."""
    number = text.strip().translate(idnumber._NORMALISE)
    fragments = [text.strip(), number, *(number[i : i + 5] for i in range(len(number) - 4))]
    return [fragment for fragment in fragments if len(fragment) >= 5]


@pytest.mark.parametrize("text", [case[1] for case in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_error_never_shows_the_number(text: str) -> None:
    error = error_of(text)
    for shown in (str(error), repr(error), error.message, error.hint, *error.args):
        for fragment in forbidden_fragments(text):
            assert fragment not in shown


@given(st.text(alphabet="0123456789Xx０１２３４５６７８９ ", min_size=5, max_size=24))
def test_no_error_ever_shows_five_characters_of_the_number(text: str) -> None:
    if is_valid_id_number(text, today=TODAY):
        return
    error = error_of(text)
    for fragment in forbidden_fragments(text):
        assert fragment not in str(error)
        assert fragment not in repr(error)


def test_check_error_shows_at_most_the_last_four() -> None:
    number = bad_check(VALID)
    message = error_of(number).message
    assert number[-4:] in message
    assert number[-5:] not in message


def test_resident_id_repr_and_str_show_only_the_masked_form() -> None:
    resident = parse_id_number(VALID, today=TODAY)
    for shown in (repr(resident), str(resident), f"{resident}", f"{resident!r}"):
        assert resident.masked() in shown
        assert VALID not in shown
        assert "1990" not in shown
        for fragment in forbidden_fragments(VALID):
            assert fragment not in shown
    assert not next(f for f in dataclasses.fields(ResidentId) if f.name == "number").repr


def test_resident_id_refuses_inconsistent_fields() -> None:
    resident = parse_id_number(VALID, today=TODAY)
    with pytest.raises(ValueError, match="disagree"):
        dataclasses.replace(resident, sex="female")
    with pytest.raises(ValueError, match="disagree"):
        dataclasses.replace(resident, number=bad_check(VALID))
    with pytest.raises(ValueError, match="disagree"):
        dataclasses.replace(resident, birth_date=date(1990, 7, 16))
