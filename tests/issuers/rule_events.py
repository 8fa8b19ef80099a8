"""Events at fixed times for the status rules tests: lab results, contacts, visits, listings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from issuers.events import CHINA_TIME, Event, EventKind, RiskArea
from issuers.rules import RuleSet, StatusDecision

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)  # 12:00 in China
TODAY = NOW.astimezone(CHINA_TIME).date()
CHENGDU_DISTRICT = "510104"
CHENGDU_OTHER_DISTRICT = "510106"


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def lab(days: float, result: str = "positive", test: str = "pcr") -> Event:
    return Event(EventKind.LAB_RESULT, days_ago(days), {"result": result, "test": test})


def contact(days: float) -> Event:
    return Event(EventKind.CLOSE_CONTACT, days_ago(days), {"case_ref": "SC-2026-0042"})


def declaration(days: float, temperature: float = 36.6, symptoms: Sequence[str] = ()) -> Event:
    data = {"symptoms": list(symptoms), "temperature_c": temperature}
    return Event(EventKind.HEALTH_DECLARATION, days_ago(days), data)


def visit(days: int, area_code: str = CHENGDU_DISTRICT) -> Event:
    visited_on = TODAY - timedelta(days=days)
    data = {"area_code": area_code, "visited_on": visited_on.isoformat()}
    return Event(EventKind.ITINERARY, days_ago(days), data)


def listed(level: str, area_code: str = CHENGDU_DISTRICT, days: int = 30) -> RiskArea:
    return RiskArea(area_code, level, days_ago(days), None)  # type: ignore[arg-type]


def decide(
    rules: RuleSet,
    events: Sequence[Event],
    areas: Sequence[RiskArea] = (),
    now: datetime = NOW,
) -> StatusDecision:
    return rules.evaluate(events, areas, now)
