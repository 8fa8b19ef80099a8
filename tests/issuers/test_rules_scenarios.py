"""The status rules engine: scenarios at fixed times under both provinces' rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from healthcode import ErrorCode, ReasonCode, StatusColour
from issuers.events import CHINA_TIME, Event, EventKind, RiskArea, RulesError, validate_event_data
from issuers.rules import RuleSet, bundled_rules_path
from tests.issuers.rule_events import (
    CHENGDU_DISTRICT,
    CHENGDU_OTHER_DISTRICT,
    NOW,
    TODAY,
    contact,
    days_ago,
    decide,
    declaration,
    lab,
    listed,
    visit,
)

# -- scenarios ------------------------------------------------------------------------------------


def test_no_events_is_green(sichuan: RuleSet) -> None:
    decision = decide(sichuan, [])
    assert decision.colour is StatusColour.GREEN
    assert decision.reason is ReasonCode.NONE
    assert decision.rule_id == "default"
    assert decision.rules_version == sichuan.version
    assert decision.until is None


@pytest.mark.parametrize(
    ("province", "days", "colour", "lapse_days"),
    [
        ("cn-sc", 0, StatusColour.RED, 14),
        ("cn-sc", 13.9, StatusColour.RED, 14),
        ("cn-sc", 14, StatusColour.GREEN, None),
        ("cn-sc", 20, StatusColour.GREEN, None),
        ("cn-gd", 9.9, StatusColour.RED, 10),
        ("cn-gd", 10, StatusColour.GREEN, None),
        ("cn-gd", 12, StatusColour.GREEN, None),
    ],
)
def test_positive_pcr_is_red_for_the_provinces_window(
    province: str, days: float, colour: StatusColour, lapse_days: int | None
) -> None:
    rules = RuleSet.load(bundled_rules_path(province))
    decision = decide(rules, [lab(days)])
    assert decision.colour is colour
    if lapse_days is None:
        assert decision.until is None
    else:
        assert decision.reason is ReasonCode.POSITIVE_TEST
        assert decision.until == days_ago(days) + timedelta(days=lapse_days)


def test_positive_then_green_when_the_window_lapses(sichuan: RuleSet) -> None:
    positive = lab(0)
    red = decide(sichuan, [positive])
    assert red.colour is StatusColour.RED
    assert red.until is not None
    assert decide(sichuan, [positive], now=red.until - timedelta(seconds=1)).colour == "red"
    assert decide(sichuan, [positive], now=red.until).colour is StatusColour.GREEN


def test_antigen_positive_differs_between_provinces(sichuan: RuleSet, guangdong: RuleSet) -> None:
    antigen = lab(2, test="antigen")
    sc = decide(sichuan, [antigen])
    assert (sc.colour, sc.reason, sc.rule_id) == (
        StatusColour.YELLOW,
        ReasonCode.PENDING_TEST,
        "antigen-positive",
    )
    assert decide(sichuan, [antigen, lab(1, "negative", "pcr")]).colour is StatusColour.GREEN
    # An antigen negative does not clear it in Sichuan: the rule asks for a PCR.
    assert decide(sichuan, [antigen, lab(1, "negative", "antigen")]).colour == "yellow"
    gd = decide(guangdong, [antigen])
    assert (gd.colour, gd.reason) == (StatusColour.RED, ReasonCode.POSITIVE_TEST)


@pytest.mark.parametrize(
    ("province", "negative_after_days", "colour"),
    [
        ("cn-sc", None, StatusColour.RED),
        ("cn-sc", 3, StatusColour.RED),  # taken too early
        ("cn-sc", 6.9, StatusColour.RED),
        ("cn-sc", 7, StatusColour.GREEN),
        ("cn-sc", 9, StatusColour.GREEN),
        ("cn-gd", 3, StatusColour.RED),
        ("cn-gd", 5, StatusColour.GREEN),
    ],
)
def test_close_contact_is_red_until_a_late_enough_negative_test(
    province: str, negative_after_days: float | None, colour: StatusColour
) -> None:
    rules = RuleSet.load(bundled_rules_path(province))
    contact_days_ago = 10
    events = [contact(contact_days_ago)]
    if negative_after_days is not None:
        events.append(lab(contact_days_ago - negative_after_days, "negative"))
    decision = decide(rules, events)
    assert decision.colour is colour
    if colour is StatusColour.RED:
        assert decision.reason is ReasonCode.CLOSE_CONTACT
        assert decision.until is None  # open-ended: only a negative test ends it


def test_negative_test_in_the_future_does_not_clear_yet(sichuan: RuleSet) -> None:
    events = [
        contact(10),
        Event(
            EventKind.LAB_RESULT, NOW + timedelta(hours=1), {"result": "negative", "test": "pcr"}
        ),
    ]
    assert decide(sichuan, events).colour is StatusColour.RED
    assert decide(sichuan, events, now=NOW + timedelta(hours=1)).colour is StatusColour.GREEN


def test_events_after_now_are_ignored(sichuan: RuleSet) -> None:
    future_positive = Event(
        EventKind.LAB_RESULT, NOW + timedelta(days=1), {"result": "positive", "test": "pcr"}
    )
    assert decide(sichuan, [future_positive]).colour is StatusColour.GREEN


def test_an_ignored_future_event_ends_the_decision_when_it_begins_to_count(
    sichuan: RuleSet,
) -> None:
    """A positive dated 3 minutes ahead (feeds allow 5) must be looked at again then."""
    soon = NOW + timedelta(minutes=3)
    positive = Event(EventKind.LAB_RESULT, soon, {"result": "positive", "test": "pcr"})
    now_decision = decide(sichuan, [positive])
    assert (now_decision.colour, now_decision.until) == (StatusColour.GREEN, soon)
    then = decide(sichuan, [positive], now=soon)
    assert then.colour is StatusColour.RED
    assert then.until == soon + timedelta(days=14)


def test_a_future_event_shortens_a_longer_decision(sichuan: RuleSet) -> None:
    soon = NOW + timedelta(minutes=3)
    events = [
        declaration(1, temperature=38.5),  # yellow until cleared: no lapse of its own
        Event(EventKind.LAB_RESULT, soon, {"result": "negative", "test": "pcr"}),
    ]
    decision = decide(sichuan, events)
    assert (decision.colour, decision.until) == (StatusColour.YELLOW, soon)
    assert decide(sichuan, events, now=soon).colour is StatusColour.GREEN


def test_a_visit_declared_for_a_later_day_ends_the_decision_when_that_day_begins(
    sichuan: RuleSet,
) -> None:
    day = TODAY + timedelta(days=2)
    planned = Event(
        EventKind.ITINERARY, days_ago(1), {"area_code": CHENGDU_DISTRICT, "visited_on": str(day)}
    )
    decision = decide(sichuan, [planned], [listed("high")])
    start_of_day = datetime(day.year, day.month, day.day, tzinfo=CHINA_TIME)
    assert (decision.colour, decision.until) == (StatusColour.GREEN, start_of_day)
    assert decide(sichuan, [planned], [listed("high")], now=start_of_day).colour == "red"


@pytest.mark.parametrize(
    ("province", "level", "visit_days_ago", "colour"),
    [
        ("cn-sc", "medium", 6, StatusColour.YELLOW),
        ("cn-sc", "medium", 7, StatusColour.YELLOW),
        ("cn-sc", "medium", 8, StatusColour.GREEN),
        ("cn-sc", "high", 6, StatusColour.RED),
        ("cn-sc", "high", 8, StatusColour.GREEN),
        ("cn-sc", "low", 1, StatusColour.GREEN),
        ("cn-gd", "medium", 6, StatusColour.YELLOW),
        ("cn-gd", "high", 6, StatusColour.YELLOW),
        ("cn-gd", "medium", 8, StatusColour.GREEN),
    ],
)
def test_risk_area_visit(
    province: str, level: str, visit_days_ago: int, colour: StatusColour
) -> None:
    rules = RuleSet.load(bundled_rules_path(province))
    decision = decide(rules, [visit(visit_days_ago)], [listed(level)])
    assert decision.colour is colour
    if colour is not StatusColour.GREEN:
        assert decision.reason is ReasonCode.RISK_AREA
        # The window counts from the end of the visit day (China time), 7 days on.
        visit_day = TODAY - timedelta(days=visit_days_ago)
        end_of_visit = datetime(
            visit_day.year, visit_day.month, visit_day.day, tzinfo=CHINA_TIME
        ) + timedelta(days=1)
        assert decision.until == end_of_visit + timedelta(days=7)


def test_a_declared_visit_counts_only_once_its_day_has_begun(sichuan: RuleSet) -> None:
    planned = Event(
        EventKind.ITINERARY,
        days_ago(1),
        {"area_code": CHENGDU_DISTRICT, "visited_on": (TODAY + timedelta(days=2)).isoformat()},
    )
    assert decide(sichuan, [planned], [listed("high")]).colour is StatusColour.GREEN
    on_the_day = NOW + timedelta(days=2)
    assert decide(sichuan, [planned], [listed("high")], now=on_the_day).colour == "red"


def test_visit_counts_only_when_the_area_was_listed_that_day(sichuan: RuleSet) -> None:
    trip = visit(6)
    listed_after = RiskArea(CHENGDU_DISTRICT, "medium", days_ago(2), None)
    delisted_before = RiskArea(CHENGDU_DISTRICT, "medium", days_ago(30), days_ago(10))
    listed_that_day = RiskArea(CHENGDU_DISTRICT, "medium", days_ago(6.2), days_ago(5.9))
    assert decide(sichuan, [trip], [listed_after]).colour is StatusColour.GREEN
    assert decide(sichuan, [trip], [delisted_before]).colour is StatusColour.GREEN
    assert decide(sichuan, [trip], [listed_that_day]).colour is StatusColour.YELLOW


def test_city_and_province_listings_cover_their_districts(sichuan: RuleSet) -> None:
    trip = visit(2, CHENGDU_OTHER_DISTRICT)
    assert decide(sichuan, [trip], [listed("medium", "510100")]).colour == "yellow"
    assert decide(sichuan, [trip], [listed("medium", "510000")]).colour == "yellow"
    assert decide(sichuan, [trip], [listed("medium", CHENGDU_DISTRICT)]).colour == "green"
    assert decide(sichuan, [trip], [listed("medium", "440100")]).colour == "green"


@pytest.mark.parametrize(
    ("temperature", "symptoms", "colour"),
    [
        (36.8, [], StatusColour.GREEN),
        (37.2, ["cough"], StatusColour.GREEN),
        (37.3, [], StatusColour.YELLOW),
        (38.5, [], StatusColour.YELLOW),
        (36.5, ["fever"], StatusColour.YELLOW),
        (36.5, [" Fever "], StatusColour.YELLOW),
        (36.5, ["发热"], StatusColour.YELLOW),
    ],
)
def test_fever_declaration_is_yellow(
    sichuan: RuleSet, temperature: float, symptoms: list[str], colour: StatusColour
) -> None:
    decision = decide(sichuan, [declaration(1, temperature, symptoms)])
    assert decision.colour is colour
    if colour is StatusColour.YELLOW:
        assert decision.reason is ReasonCode.SYMPTOMS
        assert decision.until is None


@pytest.mark.parametrize("province", ["cn-sc", "cn-gd"])
def test_fever_then_later_negative_is_green_but_earlier_negative_is_not(province: str) -> None:
    rules = RuleSet.load(bundled_rules_path(province))
    fever = declaration(3, 38.0)
    assert decide(rules, [fever, lab(2, "negative")]).colour is StatusColour.GREEN
    assert decide(rules, [lab(4, "negative"), fever]).colour is StatusColour.YELLOW


def test_highest_priority_rule_wins(sichuan: RuleSet) -> None:
    everything = [lab(1), contact(2), declaration(1, 39.0), visit(1)]
    assert decide(sichuan, everything, [listed("high")]).rule_id == "positive-pcr"
    assert decide(sichuan, everything[1:], [listed("high")]).rule_id == "close-contact"
    assert decide(sichuan, everything[2:], [listed("high")]).rule_id == "high-risk-visit"
    assert decide(sichuan, everything[2:], [listed("medium")]).rule_id == "medium-risk-visit"
    assert decide(sichuan, everything[2:3]).rule_id == "fever"


def test_until_is_the_latest_lapse_of_the_matching_events(sichuan: RuleSet) -> None:
    decision = decide(sichuan, [lab(10), lab(3)])
    assert decision.until == days_ago(3) + timedelta(days=14)


def test_reason_text_is_citizen_readable_in_both_languages(sichuan: RuleSet) -> None:
    decision = decide(sichuan, [lab(1)])
    assert "阳性" in decision.reason_text["zh"]
    assert "14 days" in decision.reason_text["en"]


def test_evaluate_refuses_a_naive_now(sichuan: RuleSet) -> None:
    with pytest.raises(ValueError, match="aware"):
        sichuan.evaluate([], [], datetime(2026, 11, 22))


def test_malformed_event_data_never_matches_and_never_crashes(sichuan: RuleSet) -> None:
    odd = [
        Event(EventKind.LAB_RESULT, days_ago(1), {"result": True}),
        Event(EventKind.HEALTH_DECLARATION, days_ago(1), {"temperature_c": "39", "symptoms": 5}),
        Event(EventKind.ITINERARY, days_ago(1), {"area_code": 510104, "visited_on": "yesterday"}),
    ]
    assert decide(sichuan, odd, [listed("high")]).colour is StatusColour.GREEN


def test_event_requires_an_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        Event(EventKind.LAB_RESULT, datetime(2026, 1, 1), {})


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        (EventKind.LAB_RESULT, {"result": "positive", "test": "pcr"}, None),
        (EventKind.LAB_RESULT, {"result": "maybe", "test": "pcr"}, "'result' must be one of"),
        (EventKind.LAB_RESULT, {"result": "positive"}, "missing the field 'test'"),
        (EventKind.VACCINATION, {"vaccine": "Sinovac", "dose": True}, "'dose' must be an integer"),
        (EventKind.HEALTH_DECLARATION, {"symptoms": [], "temperature_c": 50}, "within"),
        (EventKind.ITINERARY, {"area_code": "510104", "visited_on": "2026-02-30"}, "YYYY-MM-DD"),
        (EventKind.CLOSE_CONTACT, {"case_ref": "x", "note": "y"}, "unknown field"),
        # Year 1 would overflow when the day is turned into a UTC interval.
        (EventKind.ITINERARY, {"area_code": "510104", "visited_on": "0001-01-01"}, "1900-2100"),
        (EventKind.ITINERARY, {"area_code": "510104", "visited_on": "2101-01-01"}, "1900-2100"),
        (EventKind.ITINERARY, {"area_code": "510104", "visited_on": "1900-01-01"}, None),
        # NaN passes every comparison with a bound, so it would match `at_least = 37.3`.
        (EventKind.HEALTH_DECLARATION, {"symptoms": [], "temperature_c": float("nan")}, "finite"),
        (EventKind.HEALTH_DECLARATION, {"symptoms": [], "temperature_c": float("inf")}, "finite"),
        (EventKind.HEALTH_DECLARATION, {"symptoms": ["a"] * 32, "temperature_c": 36.6}, None),
        (
            EventKind.HEALTH_DECLARATION,
            {"symptoms": ["a"] * 33, "temperature_c": 36.6},
            "at most 32",
        ),
        (
            EventKind.HEALTH_DECLARATION,
            {"symptoms": ["fever\x00"], "temperature_c": 36.6},
            "printable",
        ),
        (EventKind.VACCINATION, {"vaccine": "Sino\ud800", "dose": 1}, "printable"),
    ],
)
def test_validate_event_data(kind: EventKind, data: dict[str, Any], message: str | None) -> None:
    if message is None:
        validate_event_data(kind, data)
        return
    with pytest.raises(RulesError, match=message) as caught:
        validate_event_data(kind, data)
    assert caught.value.code is ErrorCode.INVALID_REQUEST
