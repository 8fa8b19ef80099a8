"""What the status rules decide from: a citizen's events and the province's risk-area list.

An `Event` is one fact about one citizen (a lab result, a vaccination, a close-contact finding,
a health declaration, an itinerary entry). It holds no identity: the issuer keeps events under
the citizen's pseudonym. `EVENT_FIELDS` is the schema of each kind's `data`; the rules
vocabulary (docs/rules.md) may only name the fields listed there, and `validate_event_data()`
lets a service check a declaration before storing it.

Times are aware datetimes; the issuer stores them in UTC. Calendar dates (an itinerary's
`visited_on`, a risk area's day) are dates in China (UTC+8), where the citizen lives them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Literal

from healthcode.errors import ErrorCode, HealthcodeError

__all__ = [
    "CHINA_TIME",
    "EVENT_FIELDS",
    "MAX_LIST_ITEMS",
    "MAX_YEAR",
    "MIN_YEAR",
    "RISK_LEVELS",
    "Event",
    "EventKind",
    "FieldSpec",
    "FieldType",
    "RiskArea",
    "RiskLevel",
    "RulesError",
    "china_day_bounds",
    "field_problem",
    "has_control_characters",
    "parse_day",
    "validate_event_data",
]

#: China Standard Time. Naive times in feeds and calendar dates in declarations mean this zone.
CHINA_TIME = timezone(timedelta(hours=8), "UTC+08:00")

RiskLevel = Literal["low", "medium", "high"]
RISK_LEVELS: tuple[RiskLevel, ...] = ("low", "medium", "high")

_AREA_CODE = re.compile(r"[0-9]{6}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MAX_TEXT_CHARS = 64
#: Dates and times outside these years are data-entry errors; refusing them also keeps every
#: time well inside the range of datetime arithmetic and of 64-bit epoch columns.
MIN_YEAR = 1900
MAX_YEAR = 2100
#: The longest list a declaration may hold (symptoms): a person declares a handful.
MAX_LIST_ITEMS = 32
# C0 and C1 control characters, and lone surrogates (which no UTF-8 encoder accepts).
_UNSAFE_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def has_control_characters(text: str) -> bool:
    """Whether `text` holds a control character or a lone surrogate (never valid input)."""
    return _UNSAFE_TEXT.search(text) is not None


class RulesError(HealthcodeError):
    """A rule file, an event or a feed was refused; code `invalid_request`.

    The message names what was wrong (file, rule id and field for a rule file) and never
    contains a resident ID number.
    """

    def __init__(self, message: str, code: ErrorCode = ErrorCode.INVALID_REQUEST) -> None:
        super().__init__(code, message)


class EventKind(StrEnum):
    """The kinds of fact the rules can see."""

    LAB_RESULT = "lab_result"
    VACCINATION = "vaccination"
    CLOSE_CONTACT = "close_contact"
    HEALTH_DECLARATION = "health_declaration"
    ITINERARY = "itinerary"


class FieldType(StrEnum):
    """The type of one field of an event's `data`; it decides which operators a rule may use."""

    CHOICE = "choice"  # a string from a fixed set
    TEXT = "text"  # a free short string
    INTEGER = "integer"
    NUMBER = "number"
    TEXT_LIST = "text_list"  # a list of short strings (symptoms)
    AREA_CODE = "area_code"  # a 6-digit GB/T 2260 division code
    DAY = "day"  # a YYYY-MM-DD calendar date in China


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of an event's data: its type, the allowed values of a choice, and bounds."""

    type: FieldType
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


#: The schema of `Event.data` per kind (the contract's field list). Every field is required.
EVENT_FIELDS: Mapping[EventKind, Mapping[str, FieldSpec]] = {
    EventKind.LAB_RESULT: {
        "result": FieldSpec(FieldType.CHOICE, ("positive", "negative")),
        "test": FieldSpec(FieldType.CHOICE, ("pcr", "antigen")),
    },
    EventKind.VACCINATION: {
        "vaccine": FieldSpec(FieldType.TEXT),
        "dose": FieldSpec(FieldType.INTEGER, minimum=1, maximum=10),
    },
    EventKind.CLOSE_CONTACT: {
        "case_ref": FieldSpec(FieldType.TEXT),
    },
    EventKind.HEALTH_DECLARATION: {
        "symptoms": FieldSpec(FieldType.TEXT_LIST),
        "temperature_c": FieldSpec(FieldType.NUMBER, minimum=30.0, maximum=45.0),
    },
    EventKind.ITINERARY: {
        "area_code": FieldSpec(FieldType.AREA_CODE),
        "visited_on": FieldSpec(FieldType.DAY),
    },
}


def _require_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), got {value!r}")


@dataclass(frozen=True, slots=True)
class Event:
    """One fact about a citizen. `occurred_at` is when it happened (sampled, vaccinated, met the
    case, declared, recorded the trip), an aware datetime, stored in UTC."""

    kind: EventKind
    occurred_at: datetime
    data: Mapping[str, Any]

    def __post_init__(self) -> None:
        # A naive time would be compared against aware `now` and crash mid-evaluation.
        _require_aware("Event.occurred_at", self.occurred_at)
        if not isinstance(self.kind, EventKind):
            raise TypeError(f"Event.kind must be an EventKind, got {self.kind!r}")


@dataclass(frozen=True, slots=True)
class RiskArea:
    """A listed risk area: a GB/T 2260 division (a code ending in 00 or 0000 covers the whole
    city or province) at `level` from `valid_from` until `valid_until` (None: until delisted)."""

    area_code: str
    level: RiskLevel
    valid_from: datetime
    valid_until: datetime | None

    def __post_init__(self) -> None:
        if not _AREA_CODE.fullmatch(self.area_code):
            raise ValueError("RiskArea.area_code must be a 6-digit GB/T 2260 code")
        if self.level not in RISK_LEVELS:
            raise ValueError(f"RiskArea.level must be one of {RISK_LEVELS}, got {self.level!r}")
        _require_aware("RiskArea.valid_from", self.valid_from)
        if self.valid_until is not None:
            _require_aware("RiskArea.valid_until", self.valid_until)
            if self.valid_until <= self.valid_from:
                raise ValueError("RiskArea.valid_until must be after valid_from")

    def covers(self, area_code: str) -> bool:
        """Whether this listing covers `area_code` (itself, or within its city or province)."""
        if self.area_code.endswith("0000"):
            return area_code[:2] == self.area_code[:2]
        if self.area_code.endswith("00"):
            return area_code[:4] == self.area_code[:4]
        return area_code == self.area_code

    def listed_during(self, start: datetime, end: datetime) -> bool:
        """Whether the listing overlaps the half-open interval [start, end)."""
        return self.valid_from < end and (self.valid_until is None or self.valid_until > start)


def china_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The start and end (exclusive) of a calendar day in China, as UTC datetimes."""
    start = datetime(day.year, day.month, day.day, tzinfo=CHINA_TIME).astimezone(UTC)
    return start, start + timedelta(days=1)


def _field_problem(spec: FieldSpec, value: Any) -> str | None:
    """Why `value` does not fit `spec`, or None when it does."""
    if spec.type is FieldType.CHOICE:
        if value not in spec.choices:
            return f"must be one of {', '.join(spec.choices)}"
    elif spec.type is FieldType.TEXT:
        if not _short_text(value) or not value.strip():
            return f"must be a non-empty string of at most {_MAX_TEXT_CHARS} printable characters"
    elif spec.type in (FieldType.INTEGER, FieldType.NUMBER):
        integer = spec.type is FieldType.INTEGER
        # bool is an int subclass; `true` is never a dose or a temperature.
        if isinstance(value, bool) or not isinstance(value, int if integer else int | float):
            return "must be an integer" if integer else "must be a number"
        # NaN compares false with every bound, so it would pass them and match `at_least`.
        if isinstance(value, float) and not math.isfinite(value):
            return "must be a finite number"
        number = float(value)
        if (spec.minimum is not None and number < spec.minimum) or (
            spec.maximum is not None and number > spec.maximum
        ):
            return f"must be within {spec.minimum}..{spec.maximum}"
    elif spec.type is FieldType.TEXT_LIST:
        if (
            not isinstance(value, list | tuple)
            or len(value) > MAX_LIST_ITEMS
            or not all(_short_text(item) and item for item in value)
        ):
            return (
                f"must be a list of at most {MAX_LIST_ITEMS} strings of 1-{_MAX_TEXT_CHARS} "
                "printable characters"
            )
    elif spec.type is FieldType.AREA_CODE:
        if not isinstance(value, str) or not _AREA_CODE.fullmatch(value):
            return "must be a 6-digit GB/T 2260 division code"
    elif spec.type is FieldType.DAY and (not isinstance(value, str) or parse_day(value) is None):
        return f"must be a YYYY-MM-DD date in the years {MIN_YEAR}-{MAX_YEAR}"
    return None


def field_problem(spec: FieldSpec, value: Any) -> str | None:
    """Why `value` does not fit `spec` (e.g. "must be within 30.0..45.0"), or None: forms
    show it next to the field."""
    return _field_problem(spec, value)


def _short_text(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value) <= _MAX_TEXT_CHARS
        and not has_control_characters(value)
    )


def parse_day(text: str) -> date | None:
    """A strict `YYYY-MM-DD` calendar date in `MIN_YEAR..MAX_YEAR`, or None if `text` is not
    one (year 1 would overflow when turned into a UTC interval)."""
    if not _DAY.fullmatch(text):
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if MIN_YEAR <= day.year <= MAX_YEAR else None


def validate_event_data(kind: EventKind, data: Mapping[str, Any]) -> None:
    """Check an event's data against `EVENT_FIELDS`; raises `RulesError` naming the field.

    Services call it before storing a declaration, so the rules only ever see well-formed data.
    """
    fields = EVENT_FIELDS[kind]
    unknown = set(data) - set(fields)
    if unknown:
        # Never echo the keys: free input may hold an ID number or text that cannot be encoded.
        raise RulesError(
            f"{kind.value} data has {len(unknown)} unknown field(s); "
            f"its fields are {', '.join(fields)}"
        )
    for name, spec in fields.items():
        if name not in data:
            raise RulesError(f"{kind.value} data is missing the field {name!r}")
        problem = _field_problem(spec, data[name])
        if problem is not None:
            raise RulesError(f"{kind.value} field {name!r} {problem}")
