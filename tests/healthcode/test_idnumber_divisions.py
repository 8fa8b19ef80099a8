"""Resident ID numbers: the division table, checked against python-stdnum as an oracle."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import InvalidComponent, ValidationError

from healthcode import idnumber
from healthcode.idnumber import (
    PROVINCES,
    check_character,
    division_name,
    is_known_division,
    is_valid_id_number,
)
from tests.healthcode.idnumber_samples import KNOWN_DIVISIONS, TODAY, safe_is_valid

# -- divisions ---------------------------------------------------------------------------------


def loc_dat_entries() -> list[tuple[str, str]]:
    """(code, raw names) read independently of idnumber's parser."""
    entries, province = [], ""
    text = resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line[:1].isdigit():
            province = line[:2]
        elif line.startswith("  "):
            entries.append((province + line[2:6], line.split('"')[1]))
    return entries


def test_provinces_are_the_34_of_gb_t_2260() -> None:
    assert len(PROVINCES) == 34
    assert all(re.fullmatch(r"[1-8][0-9]", code) for code in PROVINCES)
    assert {"71", "81", "82"} <= PROVINCES.keys()
    assert PROVINCES["51"] == ("四川省", "Sichuan")
    for code, (chinese, _english) in PROVINCES.items():
        assert is_known_division(code + "0000")
        assert division_name(code + "0000") == chinese
    with pytest.raises(TypeError):
        PROVINCES["83"] = ("x", "y")  # type: ignore[index]


def test_provinces_match_stdnum_data() -> None:
    assert {code[:2] for code, _names in loc_dat_entries()} == set(PROVINCES)


def test_division_table_is_every_stdnum_code() -> None:
    entries = loc_dat_entries()
    assert len(KNOWN_DIVISIONS) == len(entries) > 6000
    assert set(KNOWN_DIVISIONS) == {code for code, _names in entries}
    db = numdb.get("cn/loc")
    for code in KNOWN_DIVISIONS:
        assert any("county" in props for _part, props in db.info(code))


@pytest.mark.parametrize("province", ["51", "81", "90"])
def test_division_lookup_matches_stdnum_exhaustively(province: str) -> None:
    db = numdb.get("cn/loc")
    for suffix in range(10_000):
        code = f"{province}{suffix:04d}"
        stdnum_knows = any("county" in props for _part, props in db.info(code))
        assert is_known_division(code) == stdnum_knows


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("510104", "锦江区"),
        ("110103", "崇文区"),  # abolished 2010, still a valid code of issue
        ("120110", "东丽区"),  # [-1991]东郊区,[1992-]东丽区: the latest name
        ("810000", "香港特别行政区"),
        ("990000", None),
        ("51010", None),
        ("5101040", None),
        ("５１０１０４", None),
        ("", None),
    ],
)
def test_division_name(code: str, name: str | None) -> None:
    assert division_name(code) == name
    assert is_known_division(code) == (name is not None)


def test_division_table_is_read_once() -> None:
    assert idnumber._divisions() is idnumber._divisions()


# -- oracle: python-stdnum ---------------------------------------------------------------------


def stdnum_verdict(candidate: str) -> bool:
    """stdnum.cn.ric's checks, minus its birth-year rule, plus our 1900..today date bounds."""
    try:
        ric.validate(candidate)
    except KeyError:
        return False  # stdnum 2.2 raises KeyError for a known province with an unknown county
    except InvalidComponent:
        # Either the date or the place. stdnum also refuses a known place whose listed years
        # exclude the birth year; we accept those (module docstring), so only "unknown" counts.
        try:
            ric.get_birth_date(candidate)
        except ValidationError:
            return False
        if not any("county" in props for _part, props in numdb.get("cn/loc").info(candidate[:6])):
            return False
    except ValidationError:
        return False
    return date(1900, 1, 1) <= ric.get_birth_date(candidate) <= TODAY


def random_candidate(rng: random.Random) -> str:
    """Mostly near-valid numbers, so that every check (and its absence) is exercised."""
    kind = rng.random()
    if kind < 0.5:
        division = rng.choice(KNOWN_DIVISIONS)
    elif kind < 0.75:
        division = rng.choice(list(PROVINCES)) + f"{rng.randrange(10_000):04d}"
    else:
        division = f"{rng.randrange(1_000_000):06d}"
    if rng.random() < 0.7:  # a real date, some before 1900 or after TODAY
        day = date(1890, 1, 1) + timedelta(days=rng.randrange(50_000))
        born = f"{day.year:04d}{day.month:02d}{day.day:02d}"
    else:
        born = f"{rng.randint(1850, 2100):04d}{rng.randint(0, 13):02d}{rng.randint(0, 32):02d}"
    first17 = f"{division}{born}{rng.randrange(1000):03d}"
    check = check_character(first17) if rng.random() < 0.7 else rng.choice("0123456789Xx")
    return first17 + check


def test_agrees_with_stdnum_on_thousands_of_candidates() -> None:
    rng = random.Random(20240601)
    verdicts = []
    for _ in range(5000):
        candidate = random_candidate(rng)
        ours = is_valid_id_number(candidate, today=TODAY)
        assert ours == stdnum_verdict(candidate), candidate
        verdicts.append(ours)
        # The direct oracle: whatever stdnum accepts within our date bounds, we accept.
        if safe_is_valid(candidate) and date(1900, 1, 1) <= ric.get_birth_date(candidate) <= TODAY:
            assert ours, candidate
    # The candidates are a real mix, not nearly all one verdict.
    assert 500 < sum(verdicts) < 4500


@settings(max_examples=1000)
@given(st.randoms(use_true_random=False))
def test_agrees_with_stdnum_on_random_candidates(rng: random.Random) -> None:
    candidate = random_candidate(rng)
    assert is_valid_id_number(candidate, today=TODAY) == stdnum_verdict(candidate)
