"""Resident ID numbers: check character, valid numbers and normalisation."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from healthcode.errors import ErrorCode
from healthcode.idnumber import (
    PROVINCES,
    check_character,
    is_valid_id_number,
    make_id_number,
    parse_id_number,
)
from tests.healthcode.idnumber_samples import FULL_WIDTH, KNOWN_DIVISIONS, TODAY, error_of

# -- check character ---------------------------------------------------------------------------


# Worked by hand, weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2:
#
# 11010519491231002 (the example in GB 11643-1999; Beijing Chaoyang, 1949-12-31, seq. 002):
#   1*7 + 1*9 + 0*10 + 1*5 + 0*8 + 5*4 + 1*2 + 9*1 + 4*6 + 9*3 + 1*7 + 2*9 + 3*10 + 1*5 + 0*8
#   + 0*4 + 2*2 = 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167; 167 mod 11 = 2;
#   (12 - 2) mod 11 = 10 -> "X"
# 44052418800101001 (also in GB 11643-1999; Chaoyang county, Guangdong, 1880-01-01, seq. 001):
#   28+36+0+25+16+16+2+8+48+0+0+9+0+5+0+0+2 = 195; 195 mod 11 = 8; (12 - 8) mod 11 = 4 -> "4"
# 36042619910101007 (the python-stdnum doctest; De'an county, Jiangxi, 1991-01-01, seq. 007):
#   21+54+0+20+16+24+2+9+54+3+0+9+0+5+0+0+14 = 231; 231 mod 11 = 0; (12 - 0) mod 11 = 1 -> "1"
@pytest.mark.parametrize(
    ("first17", "expected"),
    [("11010519491231002", "X"), ("44052418800101001", "4"), ("36042619910101007", "1")],
)
def test_check_character_hand_computed(first17: str, expected: str) -> None:
    assert check_character(first17) == expected


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_check_character_agrees_with_stdnum_formula(first17: str) -> None:
    # stdnum computes it as (1 - 2 * int(first17, 13)) % 11: a different formula, same result.
    assert check_character(first17) == ric.calc_check_digit(first17 + "0")


@pytest.mark.parametrize("bad", ["", "1101051949123100", "110105194912310021", "1101051949123100X"])
def test_check_character_refuses_anything_but_17_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="17 ASCII digits"):
        check_character(bad)


def test_check_character_refuses_full_width_digits() -> None:
    with pytest.raises(ValueError, match="17 ASCII digits"):
        check_character("11010519491231002".translate(FULL_WIDTH))


# -- valid numbers -----------------------------------------------------------------------------


def test_standard_example_parses() -> None:
    resident = parse_id_number("11010519491231002X", today=TODAY)
    assert resident.number == "11010519491231002X"
    assert resident.division_code == "110105"
    assert resident.province_code == "110000"
    assert resident.province_name == "北京市"
    assert resident.birth_date == date(1949, 12, 31)
    assert resident.sex == "female"  # sequence 002 is even
    assert resident.tail == "002X"
    assert resident.masked() == "1101**********002X"


def test_stdnum_doctest_example_parses() -> None:
    resident = parse_id_number("360426199101010071", today=TODAY)
    assert (resident.province_name, resident.sex) == ("江西省", "male")
    assert resident.birth_date == date(1991, 1, 1)


def test_standard_example_born_1880_is_refused_as_before_1900() -> None:
    # Its check character is right (worked above); only the 1900 floor refuses it.
    error = error_of("440524188001010014")
    assert error.code is ErrorCode.INVALID_ID_NUMBER
    assert "before 1900" in error.message


@pytest.mark.parametrize(
    ("division", "province_code", "province_name"),
    [
        ("110105", "110000", "北京市"),
        ("310104", "310000", "上海市"),
        ("440305", "440000", "广东省"),
        ("510104", "510000", "四川省"),
        ("540102", "540000", "西藏自治区"),
        ("650102", "650000", "新疆维吾尔自治区"),
        ("810000", "810000", "香港特别行政区"),
        ("820000", "820000", "澳门特别行政区"),
    ],
)
@pytest.mark.parametrize(("sequence", "sex"), [(123, "male"), (0, "female"), (998, "female")])
def test_make_id_number_several_provinces(
    division: str, province_code: str, province_name: str, sequence: int, sex: str
) -> None:
    number = make_id_number(division, date(1990, 2, 28), sequence)
    resident = parse_id_number(number, today=TODAY)
    assert number[:17] == f"{division}19900228{sequence:03d}"
    assert resident.division_code == division
    assert (resident.province_code, resident.province_name) == (province_code, province_name)
    assert resident.birth_date == date(1990, 2, 28)
    assert resident.sex == sex
    assert resident.tail == number[-4:]
    assert resident.masked() == number[:4] + "**********" + number[-4:]


def test_make_id_number_produces_check_character_0_and_x() -> None:
    checks = {make_id_number("510104", date(1985, 5, 17), seq)[-1] for seq in range(1000)}
    assert checks == set("0123456789X")


@pytest.mark.parametrize(
    ("division", "born", "sequence", "match"),
    [
        ("990000", date(1990, 1, 1), 1, "division_code"),
        ("51010", date(1990, 1, 1), 1, "division_code"),
        ("510104", date(1899, 12, 31), 1, "1900"),
        ("510104", date(1990, 1, 1), -1, "sequence"),
        ("510104", date(1990, 1, 1), 1000, "sequence"),
    ],
)
def test_make_id_number_refuses_bad_arguments(
    division: str, born: date, sequence: int, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        make_id_number(division, born, sequence)


@st.composite
def generated_numbers(draw: st.DrawFn) -> str:
    division = draw(st.sampled_from(KNOWN_DIVISIONS))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    return make_id_number(division, born, draw(st.integers(0, 999)))


@given(st.sampled_from(KNOWN_DIVISIONS), st.dates(date(1900, 1, 1), TODAY), st.integers(0, 999))
def test_any_generated_number_parses(division: str, born: date, sequence: int) -> None:
    number = make_id_number(division, born, sequence)
    resident = parse_id_number(number, today=TODAY)
    assert resident.number == number
    assert resident.division_code == division
    assert resident.province_name == PROVINCES[division[:2]][0]
    assert resident.birth_date == born
    assert resident.sex == ("male" if sequence % 2 else "female")


@given(generated_numbers(), st.integers(0, 17), st.sampled_from("0123456789X"))
def test_every_single_character_error_is_caught(number: str, position: int, new: str) -> None:
    # MOD 11-2 weights are all non-zero mod the prime 11, so any one substitution changes the sum.
    if position < 17 and new == "X":
        new = "0"
    if number[position] == new:
        return
    typo = number[:position] + new + number[position + 1 :]
    assert not is_valid_id_number(typo, today=TODAY)
    error = error_of(typo)
    assert error.code is ErrorCode.INVALID_ID_NUMBER
    assert "check character" in error.message


@given(generated_numbers(), st.integers(0, 15))
def test_every_adjacent_transposition_is_caught(number: str, position: int) -> None:
    # Adjacent weights differ by a factor of 2, so swapping two different digits changes the sum.
    a, b = number[position], number[position + 1]
    if a == b:
        return
    swapped = number[:position] + b + a + number[position + 2 :]
    assert not is_valid_id_number(swapped, today=TODAY)


# -- normalisation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "11010519491231002x",
        "  11010519491231002X\n",
        "\u300011010519491231002X\t",
        "11010519491231002X".translate(FULL_WIDTH),
        "11010519491231002".translate(FULL_WIDTH) + "ｘ",
        "11010519491231002Ｘ",
    ],
)
def test_spellings_normalise_to_the_same_number(spelling: str) -> None:
    assert parse_id_number(spelling, today=TODAY).number == "11010519491231002X"


@pytest.mark.parametrize(
    "spelling",
    [
        "110105 19491231 002X",  # inner spaces
        "110105-19491231-002X",  # separators
        "11010519491231002\u00d7",  # multiplication sign, not X
        "1101051949123100\u0662X",  # Arabic-Indic digit two
        "1101051949123100\u00b2X",  # superscript two
        "1101051949123100\u2461X",  # circled digit two
    ],
)
def test_other_spellings_are_refused(spelling: str) -> None:
    assert error_of(spelling).code is ErrorCode.INVALID_ID_NUMBER
