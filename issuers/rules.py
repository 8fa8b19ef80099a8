"""A province's status rules as data, and their evaluation into a colour (docs/rules.md).

A rule file (TOML or JSON) has a `[meta]` table and `[[rule]]` entries. Each rule names a
colour, a coarse reason code, a citizen-readable reason in Chinese and English, and `when`: one
condition or a list of conditions (any one suffices) over the citizen's events. The vocabulary
is deliberately small -- an event kind, field tests (`where`), a time window (`within_days`), a
risk-area level for itineraries (`area_level`) and a clearing event (`unless_followed_by`) -- so
a health official can read a file and a reviewer can see what it does. Exactly one rule has no
`when`: the default, with the lowest priority.

`RuleSet.evaluate(events, risk_areas, now)` tries the rules from the highest priority down and
returns the first that matches as a `StatusDecision`, including `until`: when that decision
lapses if nothing else happens (None: until some event clears it). Evaluation is a pure
function of its arguments: no clock, no storage, no I/O.

Loading validates everything and refuses with a `RulesError` naming the file, the rule id and
the field, so a bad file is refused when a service starts, never at a citizen's code request.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from healthcode.credential import ReasonCode, StatusColour
from issuers.events import (
    EVENT_FIELDS,
    RISK_LEVELS,
    Event,
    EventKind,
    FieldSpec,
    FieldType,
    RiskArea,
    RiskLevel,
    RulesError,
    china_day_bounds,
    parse_day,
)

__all__ = [
    "MAX_WINDOW_DAYS",
    "Condition",
    "EventPattern",
    "FieldTest",
    "Rule",
    "RuleSet",
    "RulesError",
    "StatusDecision",
    "bundled_rules_path",
]

#: The longest time window a rule may name; longer ones are almost surely a typo.
MAX_WINDOW_DAYS = 366
_RULE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_LANGUAGES = ("zh", "en")
_MAX_REASON_TEXT_CHARS = 200
_META_KEYS = {"province", "version", "description"}
_RULE_KEYS = {"id", "priority", "colour", "reason", "reason_text", "when"}
_CONDITION_KEYS = {"event", "where", "area_level", "within_days", "unless_followed_by"}
_CLEARING_KEYS = {"event", "where", "area_level", "after_days"}
_OPERATORS: Mapping[FieldType, frozenset[str]] = {
    FieldType.CHOICE: frozenset({"one_of"}),
    FieldType.TEXT: frozenset({"one_of"}),
    FieldType.AREA_CODE: frozenset({"one_of"}),
    FieldType.INTEGER: frozenset({"one_of", "at_least", "at_most"}),
    FieldType.NUMBER: frozenset({"at_least", "at_most"}),
    FieldType.TEXT_LIST: frozenset({"contains", "contains_any"}),
    FieldType.DAY: frozenset(),
}
_BUNDLED_DIR = "data"


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


def _counts_from(event: Event) -> datetime | None:
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


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A province's validated rules, highest priority first. Build it with `RuleSet.load()`."""

    province: str
    version: str
    description: str
    rules: tuple[Rule, ...]
    source: str = "<memory>"

    @classmethod
    def load(cls, path: str | Path) -> RuleSet:
        """Read and validate a rule file: TOML (`.toml`) or JSON (`.json`) by its suffix."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".toml", ".json"):
            raise RulesError(f"{path}: a rule file must end in .toml or .json")
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise RulesError(f"{path}: cannot read the rule file ({exc.strerror})") from None
        try:
            document = tomllib.loads(raw.decode("utf-8")) if suffix == ".toml" else json.loads(raw)
        except (UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise RulesError(f"{path}: not valid {suffix[1:].upper()}: {exc}") from None
        return cls.from_document(document, source=str(path))

    @classmethod
    def from_document(cls, document: Any, *, source: str = "<memory>") -> RuleSet:
        """Validate an already parsed rule document (what `load` reads from a file)."""
        return _parse_document(document, source)

    def evaluate(
        self, events: Sequence[Event], risk_areas: Sequence[RiskArea], now: datetime
    ) -> StatusDecision:
        """The citizen's status at `now`: the highest-priority rule that matches.

        Events after `now` are ignored (a feed row dated a few minutes ahead, a visit declared
        for a later day), but the decision's `until` is never later than the first of them to
        begin, so the caller evaluates again when it starts to count; `now` must be aware.
        """
        if now.utcoffset() is None:
            raise ValueError("now must be an aware datetime")
        past = [event for event in events if event.occurred_at <= now]
        # An ignored event still ends the decision when it begins to count: without this a
        # positive test dated a minute ahead (feeds allow small clock differences) would wait
        # for some unrelated event before anyone looked at it again.
        pending = [at for at in map(_counts_from, events) if at is not None and at > now]
        for rule in self.rules:
            matched, until = rule.applies(past, risk_areas, now)
            if matched:
                if pending:
                    until = min(pending) if until is None else min(until, *pending)
                return StatusDecision(
                    colour=rule.colour,
                    reason=rule.reason,
                    reason_text=dict(rule.reason_text),  # a plain dict serialises anywhere
                    rule_id=rule.id,
                    rules_version=self.version,
                    until=until,
                )
        raise AssertionError("a validated rule set always has a default rule")

    @property
    def default_rule(self) -> Rule:
        """The rule without conditions (the lowest priority: it always matches)."""
        return next(rule for rule in self.rules if rule.is_default)


def bundled_rules_path(province: str) -> Path:
    """The path of a demo rule file shipped with the package (`cn-sc`, `cn-gd`)."""
    path = Path(__file__).parent / _BUNDLED_DIR / f"rules-{province}.toml"
    if not path.is_file():
        raise RulesError(f"no bundled rule file for province {province!r}")
    return path


# -- validation --------------------------------------------------------------------------------


class _Context:
    """Where in a rule document we are, for error messages: file, rule, field."""

    def __init__(self, source: str, rule: str | None = None) -> None:
        self.source = source
        self.rule = rule

    def error(self, field: str, problem: str) -> RulesError:
        where = f"rule {self.rule!r}, " if self.rule is not None else ""
        return RulesError(f"{self.source}: {where}field {field!r}: {problem}")


def _table(value: Any, ctx: _Context, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ctx.error(field, "must be a table (an object)")
    return value


def _check_keys(
    table: Mapping[str, Any], allowed: Iterable[str], ctx: _Context, field: str
) -> None:
    allowed = set(allowed)
    unknown = sorted(str(key) for key in table if key not in allowed)
    if unknown:
        raise ctx.error(
            f"{field}.{unknown[0]}" if field else unknown[0],
            f"unknown key (allowed: {', '.join(sorted(allowed))})",
        )


def _string(value: Any, ctx: _Context, field: str, *, max_chars: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_chars:
        raise ctx.error(field, f"must be a non-empty string of at most {max_chars} characters")
    return value


def _days(value: Any, ctx: _Context, field: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ctx.error(field, "must be a whole number of days")
    if not minimum <= value <= MAX_WINDOW_DAYS:
        raise ctx.error(field, f"must be within {minimum}..{MAX_WINDOW_DAYS} days")
    return value


def _enum_value(value: Any, choices: Iterable[str], ctx: _Context, field: str) -> str:
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise ctx.error(field, f"must be one of {', '.join(options)} (got {value!r})")
    return value


def _parse_document(document: Any, source: str) -> RuleSet:
    ctx = _Context(source)
    top = _table(document, ctx, "<document>")
    _check_keys(top, {"meta", "rule"}, ctx, "")
    if "meta" not in top:
        raise ctx.error("meta", "missing: a rule file needs [meta] with province and version")
    meta = _table(top["meta"], ctx, "meta")
    _check_keys(meta, _META_KEYS, ctx, "meta")
    for key in ("province", "version"):
        if key not in meta:
            raise ctx.error(f"meta.{key}", "missing")
    province = _string(meta["province"], ctx, "meta.province", max_chars=64)
    version = _string(meta["version"], ctx, "meta.version", max_chars=64)
    description = _string(meta.get("description", "-"), ctx, "meta.description", max_chars=2000)

    entries = top.get("rule")
    if not isinstance(entries, list) or not entries:
        raise ctx.error("rule", "missing: a rule file needs at least one [[rule]]")
    rules: list[Rule] = []
    seen_ids: set[str] = set()
    seen_priorities: dict[int, str] = {}
    for index, entry in enumerate(entries, 1):
        rule = _parse_rule(entry, _Context(source, f"#{index}"))
        if rule.id in seen_ids:
            raise _Context(source, rule.id).error("id", "duplicate rule id")
        if rule.priority in seen_priorities:
            raise _Context(source, rule.id).error(
                "priority",
                f"priority {rule.priority} is already used by rule "
                f"{seen_priorities[rule.priority]!r}; priorities must be distinct so the "
                "winner is never ambiguous",
            )
        seen_ids.add(rule.id)
        seen_priorities[rule.priority] = rule.id
        rules.append(rule)

    defaults = [rule for rule in rules if rule.is_default]
    if not defaults:
        raise ctx.error("rule", "no default rule: exactly one rule must have no 'when'")
    if len(defaults) > 1:
        raise _Context(source, defaults[1].id).error(
            "when", f"missing, but rule {defaults[0].id!r} is already the default rule"
        )
    default = defaults[0]
    if any(rule.priority < default.priority for rule in rules):
        raise _Context(source, default.id).error(
            "priority", "the default rule must have the lowest priority (it always matches)"
        )
    rules.sort(key=lambda rule: rule.priority, reverse=True)
    return RuleSet(province, version, description, tuple(rules), source)


def _parse_rule(entry: Any, ctx: _Context) -> Rule:
    table = _table(entry, ctx, "rule")
    if "id" in table:
        rule_id = table["id"]
        if not isinstance(rule_id, str) or not _RULE_ID.fullmatch(rule_id):
            raise ctx.error("id", "must be lower-case letters, digits, '-' or '_' (max 64)")
        ctx.rule = rule_id
    _check_keys(table, _RULE_KEYS, ctx, "")
    for key in ("id", "priority", "colour", "reason", "reason_text"):
        if key not in table:
            raise ctx.error(key, "missing")
    priority = table["priority"]
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ctx.error("priority", "must be an integer (higher wins)")
    colour = StatusColour(_enum_value(table["colour"], StatusColour, ctx, "colour"))
    reason = ReasonCode(_enum_value(table["reason"], ReasonCode, ctx, "reason"))
    texts = _table(table["reason_text"], ctx, "reason_text")
    _check_keys(texts, _LANGUAGES, ctx, "reason_text")
    reason_text: dict[str, str] = {}
    for language in _LANGUAGES:
        if language not in texts:
            raise ctx.error(f"reason_text.{language}", "missing: give the reason in zh and en")
        reason_text[language] = _string(
            texts[language], ctx, f"reason_text.{language}", max_chars=_MAX_REASON_TEXT_CHARS
        )
    conditions: tuple[Condition, ...] = ()
    if "when" in table:
        when = table["when"]
        items = when if isinstance(when, list) else [when]
        if not items:
            raise ctx.error("when", "an empty list never matches; omit 'when' for the default")
        conditions = tuple(
            _parse_condition(item, ctx, f"when[{i}]" if isinstance(when, list) else "when")
            for i, item in enumerate(items)
        )
    return Rule(
        id=ctx.rule or "",
        priority=priority,
        colour=colour,
        reason=reason,
        reason_text=MappingProxyType(reason_text),
        conditions=conditions,
    )


def _parse_condition(value: Any, ctx: _Context, field: str) -> Condition:
    table = _table(value, ctx, field)
    _check_keys(table, _CONDITION_KEYS, ctx, field)
    pattern = _parse_pattern(table, ctx, field)
    within_days = None
    if "within_days" in table:
        within_days = _days(table["within_days"], ctx, f"{field}.within_days", minimum=1)
    clearing = None
    after_days = 0
    if "unless_followed_by" in table:
        clearing_field = f"{field}.unless_followed_by"
        clearing_table = _table(table["unless_followed_by"], ctx, clearing_field)
        _check_keys(clearing_table, _CLEARING_KEYS, ctx, clearing_field)
        clearing = _parse_pattern(clearing_table, ctx, clearing_field)
        if "after_days" in clearing_table:
            after_days = _days(
                clearing_table["after_days"], ctx, f"{clearing_field}.after_days", minimum=0
            )
    return Condition(pattern, within_days, clearing, after_days)


def _parse_pattern(table: Mapping[str, Any], ctx: _Context, field: str) -> EventPattern:
    if "event" not in table:
        raise ctx.error(f"{field}.event", "missing: name the event kind this looks at")
    kind = EventKind(_enum_value(table["event"], EventKind, ctx, f"{field}.event"))
    tests: list[FieldTest] = []
    if "where" in table:
        where = _table(table["where"], ctx, f"{field}.where")
        fields = EVENT_FIELDS[kind]
        for name, spec_value in where.items():
            if name not in fields:
                raise ctx.error(
                    f"{field}.where.{name}",
                    f"{kind.value} events have no such field (fields: {', '.join(fields)})",
                )
            tests.append(_parse_field_test(name, fields[name], spec_value, ctx, f"{field}.where"))
    levels: tuple[RiskLevel, ...] = ()
    if "area_level" in table:
        level_field = f"{field}.area_level"
        if kind is not EventKind.ITINERARY:
            raise ctx.error(level_field, "only itinerary events visit risk areas")
        raw = table["area_level"]
        items = raw if isinstance(raw, list) else [raw]
        if not items:
            raise ctx.error(level_field, "must name at least one level")
        levels = tuple(
            cast(RiskLevel, _enum_value(item, RISK_LEVELS, ctx, level_field)) for item in items
        )
    return EventPattern(kind, tuple(tests), levels)


def _parse_field_test(
    name: str, spec: FieldSpec, value: Any, ctx: _Context, parent: str
) -> FieldTest:
    field = f"{parent}.{name}"
    if spec.type is FieldType.DAY:
        raise ctx.error(field, "dates are matched with within_days, not where")
    operators = _OPERATORS[spec.type]
    if isinstance(value, Mapping):
        _check_keys(value, operators, ctx, field)
        if not value:
            raise ctx.error(field, f"name an operator ({', '.join(sorted(operators))})")
        table = value
    elif "one_of" in operators:
        table = {"one_of": value if isinstance(value, list) else [value]}
    else:
        raise ctx.error(field, f"use a table with {' or '.join(sorted(operators))}")

    one_of: tuple[Any, ...] = ()
    if "one_of" in table:
        values = table["one_of"]
        if not isinstance(values, list) or not values:
            raise ctx.error(field, "one_of must be a non-empty list")
        one_of = tuple(_check_value(spec, item, ctx, field) for item in values)
    bounds: dict[str, float] = {}
    for bound in ("at_least", "at_most"):
        if bound in table:
            number = table[bound]
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise ctx.error(f"{field}.{bound}", "must be a number")
            bounds[bound] = float(number)
    if "at_least" in bounds and "at_most" in bounds and bounds["at_least"] > bounds["at_most"]:
        raise ctx.error(field, "at_least is greater than at_most: nothing can match")
    contains: list[str] = []
    if "contains" in table:
        contains.append(_string(table["contains"], ctx, f"{field}.contains", max_chars=64))
    if "contains_any" in table:
        items = table["contains_any"]
        if not isinstance(items, list) or not items:
            raise ctx.error(f"{field}.contains_any", "must be a non-empty list of strings")
        contains.extend(_string(item, ctx, f"{field}.contains_any", max_chars=64) for item in items)
    return FieldTest(
        field=name,
        one_of=one_of,
        at_least=bounds.get("at_least"),
        at_most=bounds.get("at_most"),
        contains_any=tuple(item.strip().casefold() for item in contains),
    )


def _check_value(spec: FieldSpec, value: Any, ctx: _Context, field: str) -> Any:
    """A `one_of` value must be one the field can actually hold, else the rule is dead code."""
    if spec.type is FieldType.CHOICE:
        return _enum_value(value, spec.choices, ctx, field)
    if spec.type is FieldType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ctx.error(field, f"must be an integer (got {value!r})")
        return value
    if spec.type is FieldType.AREA_CODE:
        if not isinstance(value, str) or not re.fullmatch(r"[0-9]{6}", value):
            raise ctx.error(field, f"must be a 6-digit GB/T 2260 code (got {value!r})")
        return value
    return _string(value, ctx, field, max_chars=64)
