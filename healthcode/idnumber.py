"""Resident ID numbers (GB 11643-1999): validation, masking and the keyed pseudonym `sub`.

An ID number is 18 characters: a 6-digit administrative division code (GB/T 2260), the birth
date as YYYYMMDD, a 3-digit sequence (odd for men, even for women) and a check character
computed with ISO 7064 MOD 11-2 (`X` stands for 10 and may only appear last).

Input is normalised before it is checked, because ID-card readers, IMEs and copy-paste produce
these spellings of the same number:

- surrounding whitespace (including the ideographic space U+3000) is stripped;
- full-width digits `０`-`９` become `0`-`9`;
- `x`, `Ｘ` and `ｘ` become `X`.

Nothing else is accepted: no inner spaces or hyphens, no other Unicode digits, and no 15-digit
first-generation numbers. The checks run in this order, and the first failure is raised:

1. length and characters (`invalid_id_number`);
2. the check character (`invalid_id_number`): a mistyped digit is the likeliest error, so it is
   reported before anything that digit might also break;
3. the birth date: a real calendar date, not before 1900-01-01 and not after `today`
   (`invalid_id_number`);
4. the division: the first two digits a province-level code, the six digits a GB/T 2260 code,
   current or historical (`unknown_region`).

Privacy: an error message never contains the number, its division code or its birth date.
`ResidentId` shows only the masked form (`5101**********123X`). The only identifier stored or
put in codes anywhere is `pseudonymous_subject()`, a keyed HMAC of the number.

The division table comes from python-stdnum's `stdnum/cn/loc.dat` (GB/T 2260 codes since 1980,
compiled from the Ministry of Civil Affairs lists via Wikipedia), read once on first use. Unlike
`stdnum.cn.ric`, we do not reject a code whose years of use exclude the birth year: the code is
that of the place of registration when the number was issued, which may be years after birth.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from importlib import resources
from types import MappingProxyType
from typing import Literal

from healthcode.errors import ErrorCode, HealthcodeError

__all__ = [
    "PROVINCES",
    "IdNumberError",
    "ResidentId",
    "Sex",
    "check_character",
    "division_name",
    "is_known_division",
    "is_valid_id_number",
    "make_id_number",
    "parse_id_number",
    "pseudonymous_subject",
]

Sex = Literal["male", "female"]

#: Province-level divisions of GB/T 2260: 2-digit code -> (Chinese name, English name).
PROVINCES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "11": ("北京市", "Beijing"),
        "12": ("天津市", "Tianjin"),
        "13": ("河北省", "Hebei"),
        "14": ("山西省", "Shanxi"),
        "15": ("内蒙古自治区", "Inner Mongolia"),
        "21": ("辽宁省", "Liaoning"),
        "22": ("吉林省", "Jilin"),
        "23": ("黑龙江省", "Heilongjiang"),
        "31": ("上海市", "Shanghai"),
        "32": ("江苏省", "Jiangsu"),
        "33": ("浙江省", "Zhejiang"),
        "34": ("安徽省", "Anhui"),
        "35": ("福建省", "Fujian"),
        "36": ("江西省", "Jiangxi"),
        "37": ("山东省", "Shandong"),
        "41": ("河南省", "Henan"),
        "42": ("湖北省", "Hubei"),
        "43": ("湖南省", "Hunan"),
        "44": ("广东省", "Guangdong"),
        "45": ("广西壮族自治区", "Guangxi"),
        "46": ("海南省", "Hainan"),
        "50": ("重庆市", "Chongqing"),
        "51": ("四川省", "Sichuan"),
        "52": ("贵州省", "Guizhou"),
        "53": ("云南省", "Yunnan"),
        "54": ("西藏自治区", "Xizang (Tibet)"),
        "61": ("陕西省", "Shaanxi"),
        "62": ("甘肃省", "Gansu"),
        "63": ("青海省", "Qinghai"),
        "64": ("宁夏回族自治区", "Ningxia"),
        "65": ("新疆维吾尔自治区", "Xinjiang"),
        "71": ("台湾省", "Taiwan"),
        "81": ("香港特别行政区", "Hong Kong"),
        "82": ("澳门特别行政区", "Macao"),
    }
)

_LENGTH = 18
_FIRST_GENERATION_LENGTH = 15
_EARLIEST_BIRTH = date(1900, 1, 1)
#: Birth dates are calendar dates in China; "today" defaults to the date in UTC+8, not the host's.
_CHINA_TIME = timezone(timedelta(hours=8), "UTC+08:00")
#: ISO 7064 MOD 11-2 weights 2^(17-i) mod 11: 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2.
_WEIGHTS = tuple(pow(2, _LENGTH - 1 - i, 11) for i in range(_LENGTH - 1))
_DIGITS = "0123456789"
_CHECK_CHARACTERS = _DIGITS + "X"
_NORMALISE = str.maketrans(
    {
        **{chr(0xFF10 + digit): str(digit) for digit in range(10)},  # full-width ０-９
        "x": "X",
        "\uff38": "X",  # full-width Ｘ
        "\uff58": "X",  # full-width ｘ
    }
)
_NUMBER_PATTERN = re.compile(r"[0-9]{17}[0-9X]")
_FIRST17_PATTERN = re.compile(r"[0-9]{17}")
_SUBJECT_CONTEXT = "hc-sub-v1:"
_MIN_SECRET_BYTES = 16
_SUBJECT_BYTES = 16
_RE_ENTER = "re-enter the 18-character number from the ID card"


class IdNumberError(HealthcodeError):
    """A resident ID number was refused: `invalid_id_number` or `unknown_region`.

    The message says what was wrong but never contains the number (at most its last 4 characters).
    """


def _invalid(message: str) -> IdNumberError:
    return IdNumberError(ErrorCode.INVALID_ID_NUMBER, message)


def _unknown_region(message: str) -> IdNumberError:
    return IdNumberError(ErrorCode.UNKNOWN_REGION, message)


# -- division table ----------------------------------------------------------------------------

_PROVINCE_LINE = re.compile(r'([0-9]{2}) province="[^"]+"')
_COUNTY_LINE = re.compile(r'  ([0-9]{4}) county="([^"]+)"')
_NAME_ENTRY = re.compile(r"(?:\[[0-9]{0,4}-[0-9]{0,4}\])?([^\[\],]+)")


def _latest_name(names: str) -> str:
    """`[-1991]东郊区,[1992-]东丽区` -> `东丽区`: loc.dat lists a code's names oldest first."""
    entry = _NAME_ENTRY.fullmatch(names.rsplit(",", 1)[-1])
    if entry is None:
        raise RuntimeError("stdnum cn/loc.dat holds a division name in an unexpected format")
    return entry.group(1)


def _parse_loc_dat(text: str) -> dict[str, str]:
    divisions: dict[str, str] = {}
    province: str | None = None
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if match := _PROVINCE_LINE.fullmatch(line):
            province = match.group(1)
        elif (match := _COUNTY_LINE.fullmatch(line)) and province is not None:
            if province in PROVINCES:
                divisions[province + match.group(1)] = _latest_name(match.group(2))
        else:
            # Fail loudly: a silently half-read table would refuse real people at checkpoints.
            raise RuntimeError("stdnum cn/loc.dat has an unexpected format; check python-stdnum")
    return divisions


@functools.cache
def _divisions() -> dict[str, str]:
    """Every GB/T 2260 code (current and historical) -> its latest name, read on first use."""
    try:
        text = resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise RuntimeError("python-stdnum is required for the GB/T 2260 division table") from exc
    return _parse_loc_dat(text)


def division_name(code: str) -> str | None:
    """The latest name of a 6-digit GB/T 2260 division code (`510104` -> `锦江区`), else None."""
    return _divisions().get(code)


def is_known_division(code: str) -> bool:
    """Whether `code` is a 6-digit GB/T 2260 division code, current or historical."""
    return code in _divisions()


# -- check character ---------------------------------------------------------------------------


def _check_value(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARACTERS[(12 - total % 11) % 11]


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character (`0`-`9` or `X`) for the first 17 digits."""
    if not _FIRST17_PATTERN.fullmatch(first17):
        raise ValueError("check_character() needs exactly 17 ASCII digits")
    return _check_value(first17)


# -- parsing -----------------------------------------------------------------------------------


def _normalise(text: str) -> str:
    return text.strip().translate(_NORMALISE)


def _checked_number(text: str) -> str:
    """Normalise `text` and check its length, characters and check character (steps 1-2)."""
    if not isinstance(text, str):
        raise TypeError("an ID number must be given as str")
    number = _normalise(text)
    # (1) length and characters
    if len(number) != _LENGTH:
        if len(number) == _FIRST_GENERATION_LENGTH and number.isascii() and number.isdigit():
            raise _invalid(
                "a 15-digit first-generation ID number is not accepted; "
                "use the 18-character number on the current ID card"
            )
        raise _invalid(f"an ID number has 18 characters (got {len(number)}); {_RE_ENTER}")
    if not _NUMBER_PATTERN.fullmatch(number):
        # Name the position, never the character: it is part of the number.
        position = next((i for i, char in enumerate(number[:-1], 1) if char not in _DIGITS), None)
        if position is None:
            problem = "the last character must be a digit or X"
        elif number[position - 1] == "X":
            problem = f"only the last character may be X (found one at position {position})"
        else:
            problem = f"character {position} is not a digit (no spaces or separators)"
        raise _invalid(f"{problem}; {_RE_ENTER}")
    # (2) check character
    if number[-1] != _check_value(number[:-1]):
        raise _invalid(
            f"the check character does not match the other 17 digits (number ending "
            f"{number[-4:]}); a digit was probably mistyped, {_RE_ENTER}"
        )
    return number


def _birth_date(number: str, today: date) -> date:
    """Step 3: the birth date in characters 7-14."""
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise _invalid(
            f"the birth date (characters 7-14) is not a real calendar date; {_RE_ENTER}"
        ) from None
    if born < _EARLIEST_BIRTH:
        raise _invalid(f"the birth date (characters 7-14) is before 1900; {_RE_ENTER}")
    if born > today:
        raise _invalid(
            f"the birth date (characters 7-14) is after today ({today.isoformat()}); "
            f"{_RE_ENTER}, or check this device's date"
        )
    return born


def _check_division(number: str) -> None:
    """Step 4: the division code in characters 1-6."""
    if number[:2] not in PROVINCES:
        raise _unknown_region(
            f"the first two digits are not a GB/T 2260 province-level code; {_RE_ENTER}"
        )
    if not is_known_division(number[:6]):
        raise _unknown_region(
            "the division code (characters 1-6) is not a GB/T 2260 code, current or historical; "
            f"{_RE_ENTER}"
        )


def _yyyymmdd(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _sex(number: str) -> Sex:
    return "male" if int(number[16]) % 2 else "female"


def _today_in_china() -> date:
    return datetime.now(_CHINA_TIME).date()


@dataclass(frozen=True, slots=True)
class ResidentId:
    """A validated resident ID number; build it with `parse_id_number()`.

    `repr()` and `str()` show only the masked form, so it is safe to log.
    """

    number: str = field(repr=False)
    division_code: str
    province_code: str
    province_name: str
    birth_date: date
    sex: Sex

    def __post_init__(self) -> None:
        # Checked on construction so a ResidentId never holds fields that disagree with its number.
        if not (
            _NUMBER_PATTERN.fullmatch(self.number)
            and self.number[-1] == _check_value(self.number[:-1])
            and self.division_code == self.number[:6]
            and self.province_code == self.number[:2] + "0000"
            and self.province_name == PROVINCES.get(self.number[:2], ("",))[0]
            and _yyyymmdd(self.birth_date) == self.number[6:14]
            and self.sex == _sex(self.number)
        ):
            raise ValueError("ResidentId fields disagree with its number; use parse_id_number()")

    @property
    def tail(self) -> str:
        """The last 4 characters (3-digit sequence and check character), as printed in codes."""
        return self.number[-4:]

    def masked(self) -> str:
        """First 4 and last 4 characters, the rest starred: `5101**********123X`."""
        return self.number[:4] + "*" * (_LENGTH - 8) + self.number[-4:]

    def __repr__(self) -> str:
        return f"<ResidentId {self.masked()}>"

    def __str__(self) -> str:
        return self.masked()


def parse_id_number(text: str, *, today: date | None = None) -> ResidentId:
    """Normalise and validate a resident ID number; raises `IdNumberError`.

    `today` bounds the birth date (default: the current date in China, UTC+8).
    """
    number = _checked_number(text)
    if today is None:
        today = _today_in_china()
    elif isinstance(today, datetime):
        today = today.date()
    born = _birth_date(number, today)
    _check_division(number)
    province = number[:2]
    return ResidentId(
        number=number,
        division_code=number[:6],
        province_code=province + "0000",
        province_name=PROVINCES[province][0],
        birth_date=born,
        sex=_sex(number),
    )


def is_valid_id_number(text: str, *, today: date | None = None) -> bool:
    """Whether `parse_id_number(text, today=today)` would succeed."""
    try:
        parse_id_number(text, today=today)
    except IdNumberError:
        return False
    return True


def make_id_number(division_code: str, birth_date: date, sequence: int) -> str:
    """Build a valid ID number (tests, demos, seeding); raises ValueError on bad arguments.

    The division must be a known GB/T 2260 code, the birth date not before 1900 and the
    sequence 0..999 (odd for a man, even for a woman). A future date is not refused here,
    but `parse_id_number()` will refuse the result until that date.
    """
    if not is_known_division(division_code):
        raise ValueError("division_code must be a known 6-digit GB/T 2260 code")
    if birth_date < _EARLIEST_BIRTH:
        raise ValueError("birth_date must not be before 1900-01-01")
    if not 0 <= sequence <= 999:
        raise ValueError(f"sequence must be within 0..999, got {sequence}")
    first17 = f"{division_code}{_yyyymmdd(birth_date)}{sequence:03d}"
    return first17 + _check_value(first17)


def pseudonymous_subject(id_number: str | ResidentId, secret: bytes) -> str:
    """The credential `sub`: a keyed pseudonym of the ID number, 22 base64url characters.

    HMAC-SHA256(secret, UTF-8 "hc-sub-v1:" + normalised number), first 16 bytes, unpadded
    base64url. A str is normalised and must pass the format and check-character tests (not the
    date or division tests, so a pseudonym never changes with the clock or the division table).
    """
    if len(secret) < _MIN_SECRET_BYTES:
        raise ValueError(f"the pseudonym secret must be at least {_MIN_SECRET_BYTES} bytes")
    number = id_number.number if isinstance(id_number, ResidentId) else _checked_number(id_number)
    message = (_SUBJECT_CONTEXT + number).encode("utf-8")
    digest = hmac.new(secret, message, hashlib.sha256).digest()[:_SUBJECT_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
