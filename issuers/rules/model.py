"""The parsed rule vocabulary (field tests, event patterns, conditions, rules) and how each
matches a citizen's events: pure functions of their arguments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from healthcode.credential import ReasonCode, StatusColour
from issuers.events import (
    Event,
    EventKind,
    FieldType,
    RiskArea,
    RiskLevel,
    china_day_bounds,
    parse_day,
)

MAX_WINDOW_DAYS = 366
RULE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
LANGUAGES = ("zh", "en")
MAX_REASON_TEXT_CHARS = 200
META_KEYS = {"province", "version", "description"}
RULE_KEYS = {"id", "priority", "colour", "reason", "reason_text", "when"}
CONDITION_KEYS = {"event", "where", "area_level", "within_days", "unless_followed_by"}
CLEARING_KEYS = {"event", "where", "area_level", "after_days"}
OPERATORS: Mapping[FieldType, frozenset[str]] = {
    FieldType.CHOICE: frozenset({"one_of"}),
    FieldType.TEXT: frozenset({"one_of"}),
    FieldType.AREA_CODE: frozenset({"one_of"}),
    FieldType.INTEGER: frozenset({"one_of", "at_least", "at_most"}),
    FieldType.NUMBER: frozenset({"at_least", "at_most"}),
    FieldType.TEXT_LIST: frozenset({"contains", "contains_any"}),
    FieldType.DAY: frozenset(),
}
BUNDLED_DIR = "data"


@dataclass(frozen=True, slots=True)
class StatusDecision:
    """The colour a rule set gives a citizen now, why, and until when."""

    colour: StatusColour
    reason: ReasonCode
    reason_text: Mapping[str, str]  # {"zh": ..., "en": ...}, shown to the citizen
    rule_id: str
    rules_version: str
    until: datetime | None  # when this decision lapses if nothing else happens; None: no end


# -- the parsed vocabulary ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldTest:
    """One `where` entry: a field of the event's data and what it must satisfy."""

    field: str
    one_of: tuple[Any, ...] = ()
    at_least: float | None = None
    at_most: float | None = None
    contains_any: tuple[str, ...] = ()

    def matches(self, data: Mapping[str, Any]) -> bool:
        """Whether `data` satisfies this test (a missing or ill-typed field never does)."""
        value = data.get(self.field)
        if value is None or isinstance(value, bool):
            return False
        if self.one_of and value not in self.one_of:
            return False
        if self.at_least is not None or self.at_most is not None:
            if not isinstance(value, int | float):
                return False
            if self.at_least is not None and value < self.at_least:
                return False
            if self.at_most is not None and value > self.at_most:
                return False
        if self.contains_any:
            if not isinstance(value, list | tuple):
                return False
            # Declarations come from free input; "Fever" and "fever " are the same symptom.
            declared = {item.strip().casefold() for item in value if isinstance(item, str)}
            if declared.isdisjoint(self.contains_any):
                return False
        return True


@dataclass(frozen=True, slots=True)
class EventPattern:
    """Which events a condition looks at: a kind, field tests, and for itineraries the levels
    of risk area that make a visit count."""

    event: EventKind
    where: tuple[FieldTest, ...] = ()
    area_levels: tuple[RiskLevel, ...] = ()

    def matches(self, event: Event, risk_areas: Sequence[RiskArea]) -> bool:
        """Whether `event` is of this pattern (for an itinerary: to an area listed that day)."""
        if event.kind is not self.event or not all(test.matches(event.data) for test in self.where):
            return False
        if not self.area_levels:
            return True
        visit = _visit_interval(event)
        area_code = event.data.get("area_code")
        if visit is None or not isinstance(area_code, str):
            return False
        return any(
            area.level in self.area_levels and area.covers(area_code) and area.listed_during(*visit)
            for area in risk_areas
        )


@dataclass(frozen=True, slots=True)
class Condition:
    """One `when` entry: a triggering event, an optional window and an optional clearing event."""

    pattern: EventPattern
    within_days: int | None = None
    clearing: EventPattern | None = None
    clearing_after_days: int = 0

    def holds(
        self, events: Sequence[Event], risk_areas: Sequence[RiskArea], now: datetime
    ) -> tuple[bool, datetime | None]:
        """Whether the condition holds at `now`, and until when (None: until cleared)."""
        holds = False
        lapses: list[datetime] = []
        open_ended = False
        for event in events:
            if not self.pattern.matches(event, risk_areas):
                continue
            reference = _reference_time(event)
            if reference is None or not _has_happened(event, now):
                continue
            lapse = None if self.within_days is None else reference + timedelta(self.within_days)
            if lapse is not None and lapse <= now:
                continue
            if self.clearing is not None and self._cleared(reference, events, risk_areas, now):
                continue
            holds = True
            if lapse is None:
                open_ended = True
            else:
                lapses.append(lapse)
        if not holds:
            return False, None
        return True, (None if open_ended else max(lapses))

    def _cleared(
        self,
        reference: datetime,
        events: Sequence[Event],
        risk_areas: Sequence[RiskArea],
        now: datetime,
    ) -> bool:
        assert self.clearing is not None
        earliest = reference + timedelta(self.clearing_after_days)
        return any(
            self.clearing.matches(event, risk_areas)
            and reference < event.occurred_at <= now
            and event.occurred_at >= earliest
            for event in events
        )


@dataclass(frozen=True, slots=True)
class Rule:
    """One `[[rule]]`: a colour and reason given when any of its conditions holds.

    A rule without conditions is the default rule (it always matches).
    """

    id: str
    priority: int
    colour: StatusColour
    reason: ReasonCode
    reason_text: Mapping[str, str]
    conditions: tuple[Condition, ...]

    @property
    def is_default(self) -> bool:
        return not self.conditions

    def applies(
        self, events: Sequence[Event], risk_areas: Sequence[RiskArea], now: datetime
    ) -> tuple[bool, datetime | None]:
        """Whether the rule matches at `now`, and until when (the latest of its conditions)."""
        if self.is_default:
            return True, None
        matched = False
        lapses: list[datetime] = []
        open_ended = False
        for condition in self.conditions:
            holds, until = condition.holds(events, risk_areas, now)
            if holds:
                matched = True
                if until is None:
                    open_ended = True
                else:
                    lapses.append(until)
        if not matched:
            return False, None
        return True, (None if open_ended else max(lapses))


def _visit_interval(event: Event) -> tuple[datetime, datetime] | None:
    """The China calendar day of an itinerary visit as a UTC interval (None if malformed)."""
    visited_on = event.data.get("visited_on")
    day = parse_day(visited_on) if isinstance(visited_on, str) else None
    return None if day is None else china_day_bounds(day)


def _has_happened(event: Event, now: datetime) -> bool:
    """Whether the event has begun by `now` (a declared visit on a later day has not)."""
    if event.kind is EventKind.ITINERARY:
        visit = _visit_interval(event)
        return visit is not None and visit[0] <= now
    return event.occurred_at <= now


def counts_from(event: Event) -> datetime | None:
    """When the rules start to see `event`: when it happened; a declared visit, not before its
    day begins (None: a malformed visit, which never counts)."""
    if event.kind is EventKind.ITINERARY:
        visit = _visit_interval(event)
        return None if visit is None else max(visit[0], event.occurred_at)
    return event.occurred_at


def _reference_time(event: Event) -> datetime | None:
    """The time a window counts from: when it happened; for a visit, the end of the visit day
    (the latest moment the visit could have been, so a window is never cut short)."""
    if event.kind is EventKind.ITINERARY:
        visit = _visit_interval(event)
        return None if visit is None else visit[1]
    return event.occurred_at
