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

from issuers.events import RulesError
from issuers.rules.model import (
    MAX_WINDOW_DAYS,
    Condition,
    EventPattern,
    FieldTest,
    Rule,
    StatusDecision,
)
from issuers.rules.ruleset import RuleSet, bundled_rules_path

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
