"""Checks of single values in a rule file, each refusing with a `RulesError` that names the file,
the rule and the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from issuers.events import (
    RulesError,
)
from issuers.rules.model import MAX_WINDOW_DAYS

# -- validation --------------------------------------------------------------------------------


class RuleContext:
    """Where in a rule document we are, for error messages: file, rule, field."""

    def __init__(self, source: str, rule: str | None = None) -> None:
        self.source = source
        self.rule = rule

    def error(self, field: str, problem: str) -> RulesError:
        where = f"rule {self.rule!r}, " if self.rule is not None else ""
        return RulesError(f"{self.source}: {where}field {field!r}: {problem}")


def table_value(value: Any, ctx: RuleContext, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ctx.error(field, "must be a table (an object)")
    return value


def check_keys(
    table: Mapping[str, Any], allowed: Iterable[str], ctx: RuleContext, field: str
) -> None:
    allowed = set(allowed)
    unknown = sorted(str(key) for key in table if key not in allowed)
    if unknown:
        raise ctx.error(
            f"{field}.{unknown[0]}" if field else unknown[0],
            f"unknown key (allowed: {', '.join(sorted(allowed))})",
        )


def string_value(value: Any, ctx: RuleContext, field: str, *, max_chars: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_chars:
        raise ctx.error(field, f"must be a non-empty string of at most {max_chars} characters")
    return value


def days_value(value: Any, ctx: RuleContext, field: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ctx.error(field, "must be a whole number of days")
    if not minimum <= value <= MAX_WINDOW_DAYS:
        raise ctx.error(field, f"must be within {minimum}..{MAX_WINDOW_DAYS} days")
    return value


def enum_value(value: Any, choices: Iterable[str], ctx: RuleContext, field: str) -> str:
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise ctx.error(field, f"must be one of {', '.join(options)} (got {value!r})")
    return value
