"""The streaming CSV feed reader: good rows, every rejection, headers, idempotency, privacy."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import TextIO, cast

import pytest

from healthcode import ErrorCode
from healthcode.idnumber import check_character, make_id_number, pseudonymous_subject
from issuers.events import Event, EventKind, RiskArea
from issuers.feeds import (
    FEED_COLUMNS,
    FeedError,
    FeedKind,
    FeedRow,
    RejectedRow,
    read_feed,
)

SECRET = b"test-only-feed-secret-0123456789"
NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)  # 12:00 in China
ID_NUMBER = make_id_number("510104", date(1948, 3, 1), 123)
OTHER_ID_NUMBER = make_id_number("440106", date(1990, 7, 15), 42)
BAD_CHECKSUM = ID_NUMBER[:-1] + ("0" if ID_NUMBER[-1] != "0" else "1")
UNKNOWN_REGION = "990101" + "19480301" + "123"
UNKNOWN_REGION += check_character(UNKNOWN_REGION)
BORN_TOMORROW = make_id_number("510104", date(2026, 11, 23), 123)
LAB_HEADER = "id_number,result,test,sampled_at\n"


def read(
    text: str, kind: FeedKind = FeedKind.LAB_RESULTS, **kwargs: object
) -> list[FeedRow | RejectedRow]:
    options: dict[str, object] = {"subject_secret": SECRET, "now": NOW, **kwargs}
    return list(read_feed(io.StringIO(text, newline=""), kind, **options))  # type: ignore[arg-type]


def only(text: str, kind: FeedKind = FeedKind.LAB_RESULTS) -> FeedRow | RejectedRow:
    header = ",".join(FEED_COLUMNS[kind]) + "\n"
    (row,) = read(header + text, kind)
    return row


def accepted(text: str, kind: FeedKind = FeedKind.LAB_RESULTS) -> FeedRow:
    row = only(text, kind)
    assert isinstance(row, FeedRow), row
    return row


# -- good rows ----------------------------------------------------------------------------------


def test_lab_result_row_is_pseudonymised_and_in_utc() -> None:
    row = accepted(f"{ID_NUMBER},positive,pcr,2026-11-20T09:30\n")
    assert row.line == 2
    assert row.subject == pseudonymous_subject(ID_NUMBER, SECRET)
    assert row.id_tail == ID_NUMBER[-4:]
    assert row.record == Event(
        EventKind.LAB_RESULT,
        datetime(2026, 11, 20, 1, 30, tzinfo=UTC),  # naive time = China time
        {"result": "positive", "test": "pcr"},
    )
    assert row.record.occurred_at.utcoffset() == timedelta(0)
    assert len(row.row_key) == 64
    int(row.row_key, 16)


@pytest.mark.parametrize(
    ("cells", "result", "test"),
    [
        ("阳性,核酸", "positive", "pcr"),
        ("阴性,抗原", "negative", "antigen"),
        (" Negative , PCR ", "negative", "pcr"),
    ],
)
def test_lab_values_are_normalised(cells: str, result: str, test: str) -> None:
    row = accepted(f"{ID_NUMBER},{cells},2026-11-20T09:30:00+08:00\n")
    assert isinstance(row.record, Event)
    assert row.record.data == {"result": result, "test": test}


def test_full_width_and_lower_case_x_id_numbers_give_the_same_subject() -> None:
    number = make_id_number("510104", date(1980, 1, 1), 3)
    for sequence in range(4, 200):
        if number.endswith("X"):
            break
        number = make_id_number("510104", date(1980, 1, 1), sequence)
    assert number.endswith("X")
    spelled = number[:-1].translate({ord(d): 0xFF10 + int(d) for d in "0123456789"}) + "x"
    first = accepted(f"{number},negative,pcr,2026-11-20T09:30\n")
    second = accepted(f"{spelled},negative,pcr,2026-11-20T09:30\n")
    assert first.subject == second.subject
    assert first.row_key == second.row_key


def test_vaccination_close_contact_and_risk_area_rows() -> None:
    vaccination = accepted(f"{ID_NUMBER},Sinovac CoronaVac,3,2026-10-01\n", FeedKind.VACCINATIONS)
    assert vaccination.record == Event(
        EventKind.VACCINATION,
        datetime(2026, 9, 30, 16, 0, tzinfo=UTC),
        {"vaccine": "Sinovac CoronaVac", "dose": 3},
    )
    contact = accepted(f"{ID_NUMBER},SC-2026-0042,2026-11-21T08:00Z\n", FeedKind.CLOSE_CONTACTS)
    assert contact.record == Event(
        EventKind.CLOSE_CONTACT,
        datetime(2026, 11, 21, 8, 0, tzinfo=UTC),
        {"case_ref": "SC-2026-0042"},
    )
    area = accepted("510104,high,2026-11-20T00:00,\n", FeedKind.RISK_AREAS)
    assert area.subject is None
    assert area.id_tail is None
    assert area.record == RiskArea(
        "510104", "high", datetime(2026, 11, 19, 16, 0, tzinfo=UTC), None
    )
    ended = accepted("510100,中,2026-11-01,2026-12-01\n", FeedKind.RISK_AREAS)
    assert isinstance(ended.record, RiskArea)
    assert ended.record.level == "medium"
    assert ended.record.valid_until == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)


def test_blank_lines_are_skipped_and_line_numbers_are_physical() -> None:
    rows = read(
        LAB_HEADER
        + f"{ID_NUMBER},positive,pcr,2026-11-20T09:30\n"
        + "\n"
        + f"{BAD_CHECKSUM},positive,pcr,2026-11-20T09:30\n"
        + f"{OTHER_ID_NUMBER},negative,antigen,2026-11-21T09:30\r\n"
    )
    assert [(type(row).__name__, row.line) for row in rows] == [
        ("FeedRow", 2),
        ("RejectedRow", 4),
        ("FeedRow", 5),
    ]


def test_header_may_carry_a_bom_spaces_and_capitals() -> None:
    rows = read(
        "\ufeffID_Number, Result ,test,sampled_at\n" + f"{ID_NUMBER},positive,pcr,2026-11-20\n"
    )
    assert isinstance(rows[0], FeedRow)


# -- rejected rows ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "row", "code", "reason"),
    [
        (FeedKind.LAB_RESULTS, f"{BAD_CHECKSUM},positive,pcr,2026-11-20", "invalid_id_number",
         "check character"),
        (FeedKind.LAB_RESULTS, f"{UNKNOWN_REGION},positive,pcr,2026-11-20", "unknown_region",
         "province-level"),
        (FeedKind.LAB_RESULTS, f"{BORN_TOMORROW},positive,pcr,2026-11-20", "invalid_id_number",
         "birth date"),
        (FeedKind.LAB_RESULTS, "12345,positive,pcr,2026-11-20", "invalid_id_number",
         "18 characters"),
        (FeedKind.LAB_RESULTS, ",positive,pcr,2026-11-20", "invalid_id_number", "18 characters"),
        (FeedKind.LAB_RESULTS, f"{ID_NUMBER},maybe,pcr,2026-11-20", "invalid_request",
         "column 'result': unknown value; use one of negative, positive"),
        (FeedKind.LAB_RESULTS, f"{ID_NUMBER},positive,saliva,2026-11-20", "invalid_request",
         "column 'test': unknown value"),
        (FeedKind.LAB_RESULTS, f"{ID_NUMBER},positive,pcr,2026-13-01", "invalid_request",
         "column 'sampled_at': not an ISO 8601"),
        (FeedKind.LAB_RESULTS, f"{ID_NUMBER},positive,pcr,yesterday", "invalid_request",
         "column 'sampled_at': not an ISO 8601"),
        (FeedKind.LAB_RESULTS, f"{ID_NUMBER},positive,pcr,", "invalid_request",
         "column 'sampled_at': missing"),
        (FeedKind.LAB_RESULTS, f"{ID_NUMBER},positive,pcr,2026-11-22T04:06Z", "invalid_request",
         "column 'sampled_at': is in the future"),
        (FeedKind.LAB_RESULTS, f"{ID_NUMBER},positive,2026-11-20", "invalid_request",
         "expected 4 columns, got 3"),
        (FeedKind.LAB_RESULTS, f"{ID_NUMBER},positive,pcr,2026-11-20,x", "invalid_request",
         "expected 4 columns, got 5"),
        (FeedKind.LAB_RESULTS, f'{ID_NUMBER},"positive,pcr,2026-11-20', "invalid_request",
         "not valid CSV"),
        (FeedKind.VACCINATIONS, f"{ID_NUMBER},Sinovac,0,2026-10-01", "invalid_request",
         "column 'dose': must be a whole number 1-10"),
        (FeedKind.VACCINATIONS, f"{ID_NUMBER},Sinovac,２,2026-10-01", "invalid_request",
         "column 'dose'"),
        (FeedKind.VACCINATIONS, f"{ID_NUMBER}, ,1,2026-10-01", "invalid_request",
         "column 'vaccine': must be 1-64 printable characters"),
        (FeedKind.CLOSE_CONTACTS, f"{ID_NUMBER},{'x' * 65},2026-11-20", "invalid_request",
         "column 'case_ref'"),
        (FeedKind.CLOSE_CONTACTS, f"{ID_NUMBER},SC-1,2026-11-23", "invalid_request",
         "column 'contact_at': is in the future"),
        (FeedKind.RISK_AREAS, "999999,high,2026-11-20,", "unknown_region",
         "column 'area_code': not a GB/T 2260"),
        (FeedKind.RISK_AREAS, "51010,high,2026-11-20,", "invalid_request",
         "column 'area_code': must be a 6-digit"),
        (FeedKind.RISK_AREAS, "510104,extreme,2026-11-20,", "invalid_request",
         "column 'level': unknown value; use one of high, low, medium"),
        (FeedKind.RISK_AREAS, "510104,high,2026-11-20,2026-11-19", "invalid_request",
         "column 'valid_until': must be after valid_from"),
        (FeedKind.RISK_AREAS, "510104,high,2026-12-20,", "invalid_request",
         "column 'valid_from': is in the future"),
        # Year 1 in China time is before datetime.min in UTC: it once crashed the import.
        (FeedKind.LAB_RESULTS, f"{ID_NUMBER},positive,pcr,0001-01-01", "invalid_request",
         "column 'sampled_at': the year must be within 1900-2100"),
        (FeedKind.VACCINATIONS, f"{ID_NUMBER},Sinovac,1,1899-12-31T23:59", "invalid_request",
         "column 'vaccinated_at': the year must be within 1900-2100"),
        (FeedKind.CLOSE_CONTACTS, f"{ID_NUMBER},SC-1,0001-01-01T00:00+08:00", "invalid_request",
         "column 'contact_at': the year must be within 1900-2100"),
        (FeedKind.RISK_AREAS, "510104,high,2026-11-20,2101-01-01", "invalid_request",
         "column 'valid_until': the year must be within 1900-2100"),
        (FeedKind.RISK_AREAS, "510104,high,9999-12-31T23:59:59-12:00,", "invalid_request",
         "column 'valid_from': the year must be within 1900-2100"),
    ],
)  # fmt: skip
def test_each_rejection_reason(kind: FeedKind, row: str, code: str, reason: str) -> None:
    rejected = only(row + "\n", kind)
    assert isinstance(rejected, RejectedRow), rejected
    assert rejected.line == 2
    assert rejected.code is ErrorCode(code)
    assert reason in rejected.reason
    assert ID_NUMBER not in rejected.reason
    assert ID_NUMBER[:14] not in rejected.reason


def test_times_at_the_year_bounds_are_accepted() -> None:
    """1900 and 2100 are inside; a risk area may be listed until 2100 (past 32-bit epochs)."""
    assert isinstance(only(f"{ID_NUMBER},negative,pcr,1900-01-01T00:00\n"), FeedRow)
    area = accepted("510104,high,2026-11-20,2100-12-31T23:59\n", FeedKind.RISK_AREAS)
    assert isinstance(area.record, RiskArea)
    assert area.record.valid_until == datetime(2100, 12, 31, 15, 59, tzinfo=UTC)


def test_future_tolerance_is_five_minutes() -> None:
    within = (NOW + timedelta(minutes=5)).isoformat()
    beyond = (NOW + timedelta(minutes=5, seconds=1)).isoformat()
    assert isinstance(only(f"{ID_NUMBER},positive,pcr,{within}\n"), FeedRow)
    assert isinstance(only(f"{ID_NUMBER},positive,pcr,{beyond}\n"), RejectedRow)


def test_today_alone_bounds_the_future_at_the_end_of_that_day_in_china() -> None:
    text = LAB_HEADER + f"{ID_NUMBER},positive,pcr,2026-11-22T23:59\n"
    text += f"{ID_NUMBER},positive,pcr,2026-11-23T00:06\n"
    rows = list(
        read_feed(
            io.StringIO(text), FeedKind.LAB_RESULTS, subject_secret=SECRET, today=date(2026, 11, 22)
        )
    )
    assert [type(row) for row in rows] == [FeedRow, RejectedRow]


def test_a_bad_row_never_stops_the_feed() -> None:
    rows = read(
        LAB_HEADER
        + f"{ID_NUMBER},positive,pcr,2026-11-20\n"
        + f'{ID_NUMBER},"positive,pcr,2026-11-20\n'
        + f"{OTHER_ID_NUMBER},negative,pcr,2026-11-20\n"
    )
    assert isinstance(rows[0], FeedRow)
    assert isinstance(rows[-1], RejectedRow)  # the open quote swallows the rest of the file
    assert all(ID_NUMBER not in repr(row) for row in rows)


# -- the header ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "is empty"),
        ("id_number,result,test\n", "it has 3 columns, not 4"),
        ("id_number,outcome,test,sampled_at\n", "column 2 should be 'result'"),
        ("area_code,level,valid_from,valid_until\n", "column 1 should be 'id_number'"),
        (f"{ID_NUMBER},positive,pcr,2026-11-20\n", "column 1 should be 'id_number'"),
    ],
)
def test_header_mismatch_refuses_the_whole_feed(text: str, expected: str) -> None:
    if text:
        text += f"{ID_NUMBER},positive,pcr,2026-11-20\n"
    rows = read_feed(io.StringIO(text), FeedKind.LAB_RESULTS, subject_secret=SECRET, now=NOW)
    with pytest.raises(FeedError) as caught:
        next(rows)
    assert caught.value.code is ErrorCode.INVALID_REQUEST
    assert expected in str(caught.value)
    assert "id_number,result,test,sampled_at" in str(caught.value)
    # A file without a header starts with a data row: its ID number must not be echoed.
    assert ID_NUMBER not in str(caught.value)
    assert ID_NUMBER not in repr(caught.value)


def test_read_feed_refuses_misuse() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        read_feed(io.StringIO(LAB_HEADER), FeedKind.LAB_RESULTS, subject_secret=b"short")
    with pytest.raises(ValueError, match="aware"):
        read_feed(
            io.StringIO(LAB_HEADER),
            FeedKind.LAB_RESULTS,
            subject_secret=SECRET,
            now=datetime(2026, 11, 22),
        )


# -- idempotency and privacy -------------------------------------------------------------------


def test_the_same_row_twice_has_the_same_key_even_when_spelled_differently() -> None:
    spellings = [
        f"{ID_NUMBER},positive,pcr,2026-11-20T09:30\n",
        f" {ID_NUMBER.lower()} , Positive ,PCR,2026-11-20T09:30:00+08:00\n",
        f"{ID_NUMBER},阳性,核酸,2026-11-20T01:30:00Z\n",
    ]
    keys = {accepted(text).row_key for text in spellings}
    assert len(keys) == 1


def test_different_rows_never_share_a_key() -> None:
    variants = [
        f"{ID_NUMBER},positive,pcr,2026-11-20T09:30",
        f"{OTHER_ID_NUMBER},positive,pcr,2026-11-20T09:30",
        f"{ID_NUMBER},negative,pcr,2026-11-20T09:30",
        f"{ID_NUMBER},positive,antigen,2026-11-20T09:30",
        f"{ID_NUMBER},positive,pcr,2026-11-20T09:31",
    ]
    keys = {accepted(text + "\n").row_key for text in variants}
    assert len(keys) == len(variants)
    # Same person and time in another feed kind is another fact.
    contact = accepted(f"{ID_NUMBER},positive,2026-11-20T09:30\n", FeedKind.CLOSE_CONTACTS)
    assert contact.row_key not in keys
    # Keys depend on the pseudonym secret, so they are not a dictionary of ID numbers.
    (other_secret,) = read(
        LAB_HEADER + variants[0] + "\n", subject_secret=b"another-secret-0123456789"
    )
    assert isinstance(other_secret, FeedRow)
    assert other_secret.row_key not in keys


def test_many_distinct_rows_have_distinct_keys() -> None:
    ids = [make_id_number("510104", date(1950 + n % 50, 1 + n % 12, 1), n) for n in range(200)]
    lines = (
        f"{ids[n % 200]},{'positive' if n % 3 else 'negative'},pcr,2026-11-{1 + n // 200:02d}T10:00"
        for n in range(2000)
    )
    rows = read(LAB_HEADER + "\n".join(lines) + "\n")
    assert all(isinstance(row, FeedRow) for row in rows)
    assert len({row.row_key for row in rows if isinstance(row, FeedRow)}) == 2000


def test_no_raw_id_number_in_any_produced_object() -> None:
    text = (
        LAB_HEADER
        + f"{ID_NUMBER},positive,pcr,2026-11-20\n"
        + f"{ID_NUMBER},positive,pcr,2026-11-30\n"
        + f"{ID_NUMBER},positive,pcr\n"
        + f"{ID_NUMBER},unknown,pcr,2026-11-20\n"
        + f"{BAD_CHECKSUM},positive,pcr,2026-11-20\n"
    )
    rows = read(text)
    assert len(rows) == 5
    for row in rows:
        for rendering in (repr(row), str(row)):
            assert ID_NUMBER not in rendering
            assert BAD_CHECKSUM not in rendering
            assert ID_NUMBER[:14] not in rendering


# -- streaming ----------------------------------------------------------------------------------


class GeneratedText(io.TextIOBase):
    """A read-only text stream backed by a generator of lines: the feed never exists whole."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines

    def readable(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        return next(self._lines, "")


def test_streaming_200k_rows_keeps_memory_flat() -> None:
    rows = 200_000
    ids = [
        make_id_number("510104", date(1960 + n % 40, 1 + n % 12, 1 + n % 28), n) for n in range(500)
    ]
    # Built up front so the traced loop measures the reader, not the test's string building.
    times = [f"2026-11-{1 + n // 24:02d}T{n % 24:02d}:30" for n in range(480)]

    def lines() -> Iterator[str]:
        yield LAB_HEADER
        for n in range(rows):
            result = "positive" if n % 97 == 0 else "negative"
            yield f"{ids[n % len(ids)]},{result},pcr,{times[n % len(times)]}\n"
            if n % 10_000 == 0:
                yield f"{BAD_CHECKSUM},positive,pcr,{times[0]}\n"

    tracemalloc.start()
    try:
        accepted_rows = rejected_rows = 0
        positives = 0
        stream = cast(TextIO, GeneratedText(lines()))  # a TextIOBase, as a file is
        for row in read_feed(stream, FeedKind.LAB_RESULTS, subject_secret=SECRET, now=NOW):
            if isinstance(row, FeedRow):
                accepted_rows += 1
                assert isinstance(row.record, Event)
                positives += row.record.data["result"] == "positive"
            else:
                rejected_rows += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert accepted_rows == rows
    assert rejected_rows == rows // 10_000
    assert positives == len(range(0, rows, 97))
    assert peak < 20 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
