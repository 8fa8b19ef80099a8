"""`RuleSet`: a province's validated rules, loaded from a file and evaluated into a colour."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from issuers.events import (
    Event,
    RiskArea,
    RulesError,
)
from issuers.rules.model import BUNDLED_DIR, Rule, StatusDecision, counts_from


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
        # Imported here: the parser builds RuleSets, so it imports this module.
        from issuers.rules.parse import parse_document

        return parse_document(document, source)

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
        pending = [at for at in map(counts_from, events) if at is not None and at > now]
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
    path = Path(__file__).parents[1] / BUNDLED_DIR / f"rules-{province}.toml"
    if not path.is_file():
        raise RulesError(f"no bundled rule file for province {province!r}")
    return path
