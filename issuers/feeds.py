"""Streaming reader for the province's data feeds (CSV): lab results, vaccinations, close
contacts and risk areas.

`read_feed()` reads a text stream row by row with the `csv` module -- it never holds the file --
and yields, per data row, either a `FeedRow` (a validated `Event` or `RiskArea`) or a
`RejectedRow` saying which line was refused and why, so one bad row never stops an import and an
importer can report every refusal. A wrong header refuses the whole feed with `FeedError`
before any row is read.

Privacy: the ID number column is parsed and pseudonymised (`pseudonymous_subject`) at once; a
`FeedRow` keeps only the pseudonym and the last 4 characters, and no reason or error message
ever repeats a cell's content (a misplaced column could hold an ID number), only the column name.

Times are ISO 8601; a time without an offset is China time (UTC+8); all times come out in UTC.
A date-time later than `now` plus `FUTURE_TOLERANCE` is refused: data from the future is a
clock or data-entry error, and would otherwise hold a status for longer than it should. So is
one outside the years `MIN_YEAR..MAX_YEAR` (1900-2100).

`row_key` is the SHA-256 of a canonical form of the row (feed kind, pseudonym, normalised
fields): the same fact imported twice gets the same key (idempotent import), different facts
never share one, and the key reveals nothing without the pseudonym secret.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, TextIO

from healthcode.errors import ErrorCode
from healthcode.idnumber import (
    IdNumberError,
    is_known_division,
    parse_id_number,
    pseudonymous_subject,
)
from issuers.events import (
    CHINA_TIME,
    MAX_YEAR,
    MIN_YEAR,
    RISK_LEVELS,
    Event,
    EventKind,
    RiskArea,
    RiskLevel,
    RulesError,
)

__all__ = [
    "FEED_COLUMNS",
    "FUTURE_TOLERANCE",
    "FeedError",
    "FeedKind",
    "FeedRow",
    "RejectedRow",
    "read_feed",
]

#: How far in the future a feed time may be (clock differences between the lab and us).
FUTURE_TOLERANCE = timedelta(minutes=5)
_MAX_TEXT_CHARS = 64
_MAX_DOSE = 10
_AREA_CODE = re.compile(r"[0-9]{6}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ROW_KEY_CONTEXT = "hc-feed-row-v1"
_UNIT_SEPARATOR = "\x1f"


class FeedKind(StrEnum):
    """The kinds of feed a health official imports."""

    LAB_RESULTS = "lab_results"
    VACCINATIONS = "vaccinations"
    CLOSE_CONTACTS = "close_contacts"
    RISK_AREAS = "risk_areas"


#: The exact header row of each feed kind.
FEED_COLUMNS: Mapping[FeedKind, tuple[str, ...]] = {
    FeedKind.LAB_RESULTS: ("id_number", "result", "test", "sampled_at"),
    FeedKind.VACCINATIONS: ("id_number", "vaccine", "dose", "vaccinated_at"),
    FeedKind.CLOSE_CONTACTS: ("id_number", "case_ref", "contact_at"),
    FeedKind.RISK_AREAS: ("area_code", "level", "valid_from", "valid_until"),
}

#: Spellings labs use, mapped to the canonical value (checked after strip + lower-case).
_RESULTS = {"positive": "positive", "negative": "negative", "阳性": "positive", "阴性": "negative"}
_TESTS = {"pcr": "pcr", "antigen": "antigen", "核酸": "pcr", "抗原": "antigen"}
_LEVELS: dict[str, RiskLevel] = {
    **{level: level for level in RISK_LEVELS},
    "低": "low",
    "中": "medium",
    "高": "high",
}


class FeedError(RulesError):
    """The feed as a whole was refused (wrong header, not CSV); code `invalid_request`."""


@dataclass(frozen=True, slots=True)
class FeedRow:
    """One accepted row: its line, the citizen's pseudonym and ID tail (None for risk areas),
    the fact it records, and its idempotency key."""

    line: int
    subject: str | None
    id_tail: str | None
    record: Event | RiskArea
    row_key: str


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """One refused row: its line, a stable error code, and why (never the cell contents)."""

    line: int
    code: ErrorCode
    reason: str


class _RowProblem(Exception):
    """Internal: why the current row is refused."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _bad(column: str, problem: str) -> _RowProblem:
    return _RowProblem(ErrorCode.INVALID_REQUEST, f"column {column!r}: {problem}")


class _RowReader:
    """Validates the rows of one feed against one clock and one pseudonym secret."""

    def __init__(self, kind: FeedKind, subject_secret: bytes, today: date, now: datetime) -> None:
        self.kind = kind
        self.subject_secret = subject_secret
        self.today = today
        self.latest = now + FUTURE_TOLERANCE

    # -- cells

    def person(self, cell: str) -> tuple[str, str]:
        """(pseudonym, id tail) of the ID number cell; the number itself goes no further."""
        try:
            resident = parse_id_number(cell, today=self.today)
        except IdNumberError as exc:
            # IdNumberError messages never contain the number (at most its last 4 characters).
            raise _RowProblem(exc.code, f"column 'id_number': {exc.message}") from None
        return pseudonymous_subject(resident, self.subject_secret), resident.tail

    def time(self, column: str, cell: str, *, future_ok: bool = False) -> datetime:
        """An ISO 8601 date-time (naive = China time) as UTC, not later than now + tolerance."""
        text = cell.strip()
        if not text:
            raise _bad(column, "missing; give an ISO 8601 date-time such as 2026-11-20T09:30")
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise _bad(column, "not an ISO 8601 date-time (e.g. 2026-11-20T09:30+08:00)") from None
        # Checked before any arithmetic: 0001-01-01 in China time is before datetime.min in UTC.
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise _bad(column, f"the year must be within {MIN_YEAR}-{MAX_YEAR}")
        if value.utcoffset() is None:
            value = value.replace(tzinfo=CHINA_TIME)
        value = value.astimezone(UTC)
        if not future_ok and value > self.latest:
            raise _bad(column, "is in the future; check the source system's clock")
        return value

    @staticmethod
    def choice(column: str, cell: str, spellings: Mapping[str, Any]) -> Any:
        value = spellings.get(cell.strip().lower())
        if value is None:
            allowed = ", ".join(sorted({str(v) for v in spellings.values()}))
            raise _bad(column, f"unknown value; use one of {allowed}")
        return value

    @staticmethod
    def text(column: str, cell: str) -> str:
        value = cell.strip()
        if not value or len(value) > _MAX_TEXT_CHARS or _CONTROL.search(value):
            raise _bad(column, f"must be 1-{_MAX_TEXT_CHARS} printable characters")
        return value

    # -- rows

    def lab_result(self, cells: list[str]) -> tuple[str, str, Event]:
        subject, tail = self.person(cells[0])
        data = {"result": self.choice("result", cells[1], _RESULTS)}
        data["test"] = self.choice("test", cells[2], _TESTS)
        return subject, tail, Event(EventKind.LAB_RESULT, self.time("sampled_at", cells[3]), data)

    def vaccination(self, cells: list[str]) -> tuple[str, str, Event]:
        subject, tail = self.person(cells[0])
        vaccine = self.text("vaccine", cells[1])
        dose_text = cells[2].strip()
        if not (dose_text.isascii() and dose_text.isdigit() and 1 <= int(dose_text) <= _MAX_DOSE):
            raise _bad("dose", f"must be a whole number 1-{_MAX_DOSE}")
        at = self.time("vaccinated_at", cells[3])
        return (
            subject,
            tail,
            Event(EventKind.VACCINATION, at, {"vaccine": vaccine, "dose": int(dose_text)}),
        )

    def close_contact(self, cells: list[str]) -> tuple[str, str, Event]:
        subject, tail = self.person(cells[0])
        case_ref = self.text("case_ref", cells[1])
        at = self.time("contact_at", cells[2])
        return subject, tail, Event(EventKind.CLOSE_CONTACT, at, {"case_ref": case_ref})

    def risk_area(self, cells: list[str]) -> RiskArea:
        area_code = cells[0].strip()
        if not _AREA_CODE.fullmatch(area_code):
            raise _bad("area_code", "must be a 6-digit GB/T 2260 division code")
        if not is_known_division(area_code):
            raise _RowProblem(
                ErrorCode.UNKNOWN_REGION,
                "column 'area_code': not a GB/T 2260 division code, current or historical",
            )
        level: RiskLevel = self.choice("level", cells[1], _LEVELS)
        valid_from = self.time("valid_from", cells[2])
        valid_until = None
        if cells[3].strip():
            valid_until = self.time("valid_until", cells[3], future_ok=True)
            if valid_until <= valid_from:
                raise _bad("valid_until", "must be after valid_from (leave empty: until delisted)")
        return RiskArea(area_code, level, valid_from, valid_until)


def _row_key(kind: FeedKind, subject: str | None, record: Event | RiskArea) -> str:
    """SHA-256 of the row's canonical form: its normalised fields joined by the ASCII unit
    separator. No field can contain a control character (free text with one is refused, the
    rest have fixed formats), so field boundaries are unambiguous and the form is injective."""
    if isinstance(record, Event):
        fields = [
            record.kind.value,
            record.occurred_at.astimezone(UTC).isoformat(),
            *(f"{name}={record.data[name]}" for name in sorted(record.data)),
        ]
    else:
        until = record.valid_until
        fields = [
            record.area_code,
            record.level,
            record.valid_from.astimezone(UTC).isoformat(),
            "" if until is None else until.astimezone(UTC).isoformat(),
        ]
    canonical = _UNIT_SEPARATOR.join([_ROW_KEY_CONTEXT, kind.value, subject or "", *fields])
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _check_header(header: list[str] | None, kind: FeedKind) -> None:
    expected = FEED_COLUMNS[kind]
    wanted = ",".join(expected)
    if header is None:
        raise FeedError(f"the {kind.value} feed is empty; its first line must be: {wanted}")
    names = [cell.strip().lower() for cell in header]
    if names and names[0].startswith("\ufeff"):  # a UTF-8 BOM from spreadsheet exports
        names[0] = names[0][1:]
    if tuple(names) == expected:
        return
    # Never echo the header: a file without one starts with a data row holding an ID number.
    if len(names) != len(expected):
        problem = f"it has {len(names)} columns, not {len(expected)}"
    else:
        position = next(
            i for i, (a, b) in enumerate(zip(names, expected, strict=True), 1) if a != b
        )
        problem = f"column {position} should be {expected[position - 1]!r}"
    raise FeedError(f"the {kind.value} feed's first line must be the header {wanted}; {problem}")


def read_feed(
    stream: TextIO,
    kind: FeedKind,
    *,
    subject_secret: bytes,
    today: date | None = None,
    now: datetime | None = None,
) -> Iterator[FeedRow | RejectedRow]:
    """Read a CSV feed row by row: a `FeedRow` or a `RejectedRow` per data row.

    `now` (aware) bounds times from the future; `today` bounds ID birth dates. Both default to
    the clock: `today` to the date of `now` in China, and `now`, when only `today` is given, to
    the end of `today` in China. Raises `FeedError` for a missing or wrong header, before any row;
    blank lines are skipped. Open files with `newline=""` as the csv module requires.
    """
    if len(subject_secret) < 16:
        raise ValueError("the pseudonym secret must be at least 16 bytes")
    if now is None:
        if today is None:
            now = datetime.now(UTC)
        else:
            end_of_today = datetime(today.year, today.month, today.day, tzinfo=CHINA_TIME)
            now = end_of_today + timedelta(days=1)
    elif now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    if today is None:
        today = now.astimezone(CHINA_TIME).date()
    return _rows(stream, kind, _RowReader(kind, subject_secret, today, now))


def _rows(stream: TextIO, kind: FeedKind, reader: _RowReader) -> Iterator[FeedRow | RejectedRow]:
    rows = csv.reader(stream, strict=True)
    try:
        header = next(rows, None)
    except csv.Error as exc:
        raise FeedError(f"the {kind.value} feed is not valid CSV: {exc}") from None
    _check_header(header, kind)
    width = len(FEED_COLUMNS[kind])
    parse_event: Callable[[list[str]], tuple[str, str, Event]] | None = {
        FeedKind.LAB_RESULTS: reader.lab_result,
        FeedKind.VACCINATIONS: reader.vaccination,
        FeedKind.CLOSE_CONTACTS: reader.close_contact,
        FeedKind.RISK_AREAS: None,
    }[kind]
    while True:
        try:
            cells = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            # A broken quote: report the line and go on, like any other bad row.
            yield RejectedRow(rows.line_num, ErrorCode.INVALID_REQUEST, f"not valid CSV ({exc})")
            continue
        line = rows.line_num
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        if len(cells) != width:
            yield RejectedRow(
                line, ErrorCode.INVALID_REQUEST, f"expected {width} columns, got {len(cells)}"
            )
            continue
        try:
            if parse_event is None:
                area = reader.risk_area(cells)
                yield FeedRow(line, None, None, area, _row_key(kind, None, area))
            else:
                subject, tail, event = parse_event(cells)
                yield FeedRow(line, subject, tail, event, _row_key(kind, subject, event))
        except _RowProblem as problem:
            yield RejectedRow(line, problem.code, problem.reason)
