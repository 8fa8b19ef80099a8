"""The status rules engine: the two demo rule files, and rule files it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from healthcode import ErrorCode, StatusColour
from issuers.events import RulesError
from issuers.rules import RuleSet, bundled_rules_path
from tests.issuers.rule_events import decide, lab

# -- the demo files -----------------------------------------------------------------------------


@pytest.mark.parametrize("province", ["cn-sc", "cn-gd"])
def test_demo_rule_file_loads_with_a_green_default(province: str) -> None:
    rules = RuleSet.load(bundled_rules_path(province))
    assert rules.province == province
    assert rules.version
    assert [rule.priority for rule in rules.rules] == sorted(
        (rule.priority for rule in rules.rules), reverse=True
    )
    default = rules.rules[-1]
    assert default.is_default
    assert default.colour is StatusColour.GREEN
    for rule in rules.rules:
        assert set(rule.reason_text) == {"zh", "en"}


def test_bundled_rules_path_refuses_an_unknown_province() -> None:
    with pytest.raises(RulesError, match="cn-xx"):
        bundled_rules_path("cn-xx")


def test_json_rule_file_loads_like_toml(tmp_path: Path, sichuan: RuleSet) -> None:
    import tomllib

    document = tomllib.loads(bundled_rules_path("cn-sc").read_text(encoding="utf-8"))
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    loaded = RuleSet.load(path)
    assert loaded.rules == sichuan.rules
    assert decide(loaded, [lab(3)]).rule_id == "positive-pcr"


# -- refusals -------------------------------------------------------------------------------------

DEFAULT_RULE = (
    '[[rule]]\nid = "default"\npriority = 0\ncolour = "green"\nreason = "none"\n'
    'reason_text = { zh = "无异常", en = "No findings" }\n'
)
META = '[meta]\nprovince = "cn-test"\nversion = "1"\n'


def positive_rule(**overrides: str) -> str:
    fields = {
        "id": '"positive"',
        "priority": "10",
        "colour": '"red"',
        "reason": '"positive_test"',
        "reason_text": '{ zh = "阳性", en = "Positive" }',
        "when": '{ event = "lab_result", where = { result = "positive" }, within_days = 14 }',
    }
    fields.update(overrides)
    body = "".join(f"{key} = {value}\n" for key, value in fields.items() if value != "<omit>")
    return "[[rule]]\n" + body


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[meta\n", "not valid TOML"),
        (DEFAULT_RULE, "field 'meta': missing"),
        (META.replace('version = "1"\n', "") + DEFAULT_RULE, "field 'meta.version': missing"),
        (META + 'owner = "x"\n' + DEFAULT_RULE, "field 'meta.owner': unknown key"),
        (META, "field 'rule': missing"),
        (META + positive_rule(), "no default rule"),
        (META + DEFAULT_RULE + DEFAULT_RULE, "rule 'default', field 'id': duplicate rule id"),
        (
            META + positive_rule(priority="0") + DEFAULT_RULE,
            "rule 'default', field 'priority': priority 0 is already used by rule 'positive'",
        ),
        (
            META + positive_rule(colour='"blue"') + DEFAULT_RULE,
            "rule 'positive', field 'colour': must be one of green, yellow, red",
        ),
        (
            META + positive_rule(reason='"tired"') + DEFAULT_RULE,
            "rule 'positive', field 'reason': must be one of",
        ),
        (
            META + positive_rule(colour="<omit>") + DEFAULT_RULE,
            "rule 'positive', field 'colour': missing",
        ),
        (
            META + positive_rule(reason_text='{ zh = "阳性" }') + DEFAULT_RULE,
            "rule 'positive', field 'reason_text.en': missing",
        ),
        (
            META + positive_rule(priority='"high"') + DEFAULT_RULE,
            "rule 'positive', field 'priority': must be an integer",
        ),
        (
            META + positive_rule(id='"Positive Test"') + DEFAULT_RULE,
            "rule '#1', field 'id': must be lower-case",
        ),
        (
            META + positive_rule(colour_code='"red"') + DEFAULT_RULE,
            "rule 'positive', field 'colour_code': unknown key",
        ),
        (
            META + positive_rule(when='{ event = "pcr" }') + DEFAULT_RULE,
            "rule 'positive', field 'when.event': must be one of lab_result",
        ),
        (
            META + positive_rule(when='{ where = { result = "positive" } }') + DEFAULT_RULE,
            "rule 'positive', field 'when.event': missing",
        ),
        (
            META + positive_rule(when='{ event = "lab_result", within = 14 }') + DEFAULT_RULE,
            "rule 'positive', field 'when.within': unknown key",
        ),
        (
            META
            + positive_rule(when='{ event = "lab_result", where = { outcome = "positive" } }')
            + DEFAULT_RULE,
            "rule 'positive', field 'when.where.outcome': lab_result events have no such field",
        ),
        (
            META
            + positive_rule(when='{ event = "lab_result", where = { result = "postive" } }')
            + DEFAULT_RULE,
            "rule 'positive', field 'when.where.result': must be one of positive, negative",
        ),
        (
            META
            + positive_rule(
                when='[{ event = "lab_result" }, { event = "health_declaration", '
                "where = { temperature_c = 37 } }]"
            )
            + DEFAULT_RULE,
            "rule 'positive', field 'when[1].where.temperature_c': use a table with at_least",
        ),
        (
            META
            + positive_rule(
                when='{ event = "health_declaration", where = { symptoms = '
                '{ contains = "fever", equals = "x" } } }'
            )
            + DEFAULT_RULE,
            "field 'when.where.symptoms.equals': unknown key",
        ),
        (
            META
            + positive_rule(when='{ event = "itinerary", where = { visited_on = "2026-01-01" } }')
            + DEFAULT_RULE,
            "field 'when.where.visited_on': dates are matched with within_days",
        ),
        (
            META + positive_rule(when='{ event = "lab_result", within_days = 0 }') + DEFAULT_RULE,
            "field 'when.within_days': must be within 1..366",
        ),
        (
            META + positive_rule(when='{ event = "lab_result", within_days = 2.5 }') + DEFAULT_RULE,
            "field 'when.within_days': must be a whole number of days",
        ),
        (
            META
            + positive_rule(when='{ event = "lab_result", area_level = "high" }')
            + DEFAULT_RULE,
            "field 'when.area_level': only itinerary events visit risk areas",
        ),
        (
            META
            + positive_rule(when='{ event = "itinerary", area_level = "extreme" }')
            + DEFAULT_RULE,
            "field 'when.area_level': must be one of low, medium, high",
        ),
        (
            META
            + positive_rule(
                when='{ event = "close_contact", unless_followed_by = '
                '{ event = "lab_result", after = 7 } }'
            )
            + DEFAULT_RULE,
            "field 'when.unless_followed_by.after': unknown key",
        ),
        (
            META
            + positive_rule(
                when='{ event = "close_contact", unless_followed_by = '
                '{ event = "lab_result", after_days = -1 } }'
            )
            + DEFAULT_RULE,
            "field 'when.unless_followed_by.after_days': must be within 0..366",
        ),
        (META + positive_rule(when="[]") + DEFAULT_RULE, "field 'when': an empty list"),
        (
            META + positive_rule(priority="-5") + DEFAULT_RULE,
            "rule 'default', field 'priority': the default rule must have the lowest priority",
        ),
        (
            META + DEFAULT_RULE + positive_rule(id='"other"', when="<omit>"),
            "rule 'other', field 'when': missing, but rule 'default' is already the default",
        ),
    ],
)
def test_bad_rule_file_is_refused_with_file_rule_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "rules-bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        RuleSet.load(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert expected in message
    assert caught.value.code is ErrorCode.INVALID_REQUEST


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("rules.yaml", "meta: {}", "must end in .toml or .json"),
        ("rules.json", "{not json", "not valid JSON"),
        ("rules.json", "[1, 2]", "field '<document>': must be a table"),
        ("rules.toml", "\udcff", "not valid TOML"),
    ],
)
def test_unreadable_rule_files_are_refused(
    tmp_path: Path, name: str, content: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(RulesError, match=expected):
        RuleSet.load(path)


def test_missing_rule_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read"):
        RuleSet.load(tmp_path / "absent.toml")


def test_from_document_matches_load(sichuan: RuleSet) -> None:
    import tomllib

    document = tomllib.loads(bundled_rules_path("cn-sc").read_text(encoding="utf-8"))
    assert RuleSet.from_document(document).rules == sichuan.rules
