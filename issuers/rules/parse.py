"""A rule document into a `RuleSet`, validating every table, rule, condition and field test."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, cast

from healthcode.credential import ReasonCode, StatusColour
from issuers.events import (
    EVENT_FIELDS,
    RISK_LEVELS,
    EventKind,
    FieldSpec,
    FieldType,
    RiskLevel,
)
from issuers.rules.check import (
    RuleContext,
    check_keys,
    days_value,
    enum_value,
    string_value,
    table_value,
)
from issuers.rules.model import (
    CLEARING_KEYS,
    CONDITION_KEYS,
    LANGUAGES,
    MAX_REASON_TEXT_CHARS,
    META_KEYS,
    OPERATORS,
    RULE_ID,
    RULE_KEYS,
    Condition,
    EventPattern,
    FieldTest,
    Rule,
)
from issuers.rules.ruleset import RuleSet


def parse_document(document: Any, source: str) -> RuleSet:
    ctx = RuleContext(source)
    top = table_value(document, ctx, "<document>")
    check_keys(top, {"meta", "rule"}, ctx, "")
    if "meta" not in top:
        raise ctx.error("meta", "missing: a rule file needs [meta] with province and version")
    meta = table_value(top["meta"], ctx, "meta")
    check_keys(meta, META_KEYS, ctx, "meta")
    for key in ("province", "version"):
        if key not in meta:
            raise ctx.error(f"meta.{key}", "missing")
    province = string_value(meta["province"], ctx, "meta.province", max_chars=64)
    version = string_value(meta["version"], ctx, "meta.version", max_chars=64)
    description = string_value(
        meta.get("description", "-"), ctx, "meta.description", max_chars=2000
    )

    entries = top.get("rule")
    if not isinstance(entries, list) or not entries:
        raise ctx.error("rule", "missing: a rule file needs at least one [[rule]]")
    rules: list[Rule] = []
    seen_ids: set[str] = set()
    seen_priorities: dict[int, str] = {}
    for index, entry in enumerate(entries, 1):
        rule = _parse_rule(entry, RuleContext(source, f"#{index}"))
        if rule.id in seen_ids:
            raise RuleContext(source, rule.id).error("id", "duplicate rule id")
        if rule.priority in seen_priorities:
            raise RuleContext(source, rule.id).error(
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
        raise RuleContext(source, defaults[1].id).error(
            "when", f"missing, but rule {defaults[0].id!r} is already the default rule"
        )
    default = defaults[0]
    if any(rule.priority < default.priority for rule in rules):
        raise RuleContext(source, default.id).error(
            "priority", "the default rule must have the lowest priority (it always matches)"
        )
    rules.sort(key=lambda rule: rule.priority, reverse=True)
    return RuleSet(province, version, description, tuple(rules), source)


def _parse_rule(entry: Any, ctx: RuleContext) -> Rule:
    table = table_value(entry, ctx, "rule")
    if "id" in table:
        rule_id = table["id"]
        if not isinstance(rule_id, str) or not RULE_ID.fullmatch(rule_id):
            raise ctx.error("id", "must be lower-case letters, digits, '-' or '_' (max 64)")
        ctx.rule = rule_id
    check_keys(table, RULE_KEYS, ctx, "")
    for key in ("id", "priority", "colour", "reason", "reason_text"):
        if key not in table:
            raise ctx.error(key, "missing")
    priority = table["priority"]
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ctx.error("priority", "must be an integer (higher wins)")
    colour = StatusColour(enum_value(table["colour"], StatusColour, ctx, "colour"))
    reason = ReasonCode(enum_value(table["reason"], ReasonCode, ctx, "reason"))
    texts = table_value(table["reason_text"], ctx, "reason_text")
    check_keys(texts, LANGUAGES, ctx, "reason_text")
    reason_text: dict[str, str] = {}
    for language in LANGUAGES:
        if language not in texts:
            raise ctx.error(f"reason_text.{language}", "missing: give the reason in zh and en")
        reason_text[language] = string_value(
            texts[language], ctx, f"reason_text.{language}", max_chars=MAX_REASON_TEXT_CHARS
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


def _parse_condition(value: Any, ctx: RuleContext, field: str) -> Condition:
    table = table_value(value, ctx, field)
    check_keys(table, CONDITION_KEYS, ctx, field)
    pattern = _parse_pattern(table, ctx, field)
    within_days = None
    if "within_days" in table:
        within_days = days_value(table["within_days"], ctx, f"{field}.within_days", minimum=1)
    clearing = None
    after_days = 0
    if "unless_followed_by" in table:
        clearing_field = f"{field}.unless_followed_by"
        clearing_table = table_value(table["unless_followed_by"], ctx, clearing_field)
        check_keys(clearing_table, CLEARING_KEYS, ctx, clearing_field)
        clearing = _parse_pattern(clearing_table, ctx, clearing_field)
        if "after_days" in clearing_table:
            after_days = days_value(
                clearing_table["after_days"], ctx, f"{clearing_field}.after_days", minimum=0
            )
    return Condition(pattern, within_days, clearing, after_days)


def _parse_pattern(table: Mapping[str, Any], ctx: RuleContext, field: str) -> EventPattern:
    if "event" not in table:
        raise ctx.error(f"{field}.event", "missing: name the event kind this looks at")
    kind = EventKind(enum_value(table["event"], EventKind, ctx, f"{field}.event"))
    tests: list[FieldTest] = []
    if "where" in table:
        where = table_value(table["where"], ctx, f"{field}.where")
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
            cast(RiskLevel, enum_value(item, RISK_LEVELS, ctx, level_field)) for item in items
        )
    return EventPattern(kind, tuple(tests), levels)


def _parse_field_test(
    name: str, spec: FieldSpec, value: Any, ctx: RuleContext, parent: str
) -> FieldTest:
    field = f"{parent}.{name}"
    if spec.type is FieldType.DAY:
        raise ctx.error(field, "dates are matched with within_days, not where")
    operators = OPERATORS[spec.type]
    if isinstance(value, Mapping):
        check_keys(value, operators, ctx, field)
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
        contains.append(string_value(table["contains"], ctx, f"{field}.contains", max_chars=64))
    if "contains_any" in table:
        items = table["contains_any"]
        if not isinstance(items, list) or not items:
            raise ctx.error(f"{field}.contains_any", "must be a non-empty list of strings")
        contains.extend(
            string_value(item, ctx, f"{field}.contains_any", max_chars=64) for item in items
        )
    return FieldTest(
        field=name,
        one_of=one_of,
        at_least=bounds.get("at_least"),
        at_most=bounds.get("at_most"),
        contains_any=tuple(item.strip().casefold() for item in contains),
    )


def _check_value(spec: FieldSpec, value: Any, ctx: RuleContext, field: str) -> Any:
    """A `one_of` value must be one the field can actually hold, else the rule is dead code."""
    if spec.type is FieldType.CHOICE:
        return enum_value(value, spec.choices, ctx, field)
    if spec.type is FieldType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ctx.error(field, f"must be an integer (got {value!r})")
        return value
    if spec.type is FieldType.AREA_CODE:
        if not isinstance(value, str) or not re.fullmatch(r"[0-9]{6}", value):
            raise ctx.error(field, f"must be a 6-digit GB/T 2260 code (got {value!r})")
        return value
    return string_value(value, ctx, field, max_chars=64)
