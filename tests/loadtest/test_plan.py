"""Load plans: every field checked before use, written owner-only, loopback targets only."""

from __future__ import annotations

import copy
import stat
from pathlib import Path
from typing import Any

import pytest

from loadtest.errors import LoadTestError, LoadTestErrorCode
from loadtest.plan import (
    CheckpointTarget,
    ExpectedAnswer,
    LoadPlan,
    PartnerTarget,
    Person,
    ProvinceTarget,
    check_target,
)

PERSON = Person(id_number="510101196804091235", name="张三丰")


def a_plan() -> LoadPlan:
    return LoadPlan(
        checkpoint=CheckpointTarget(
            url="http://127.0.0.1:8400",
            token="staff-token",
            id_card_token="reader-token",
            gate_tokens=("gate-2", "gate-3"),
            scans=(ExpectedAnswer(display="green", text="hc:/5676"),),
            id_cards=(ExpectedAnswer(display="red", person=PERSON),),
        ),
        provinces=(
            ProvinceTarget(
                id="cn-sc",
                url="http://127.0.0.1:8300",
                citizen_tokens=("t",),
                login_phones=("19905100001",),
            ),
        ),
        partner=PartnerTarget(
            partner_id="cn-gd",
            key_file="/keys/partner.pem",
            url="http://127.0.0.1:8300/partner/v1",
            audience="http://127.0.0.1:8300/partner/v1",
            people=(PERSON,),
        ),
    )


def test_a_plan_is_written_owner_only_and_read_back_the_same(tmp_path: Path) -> None:
    path = a_plan().save(tmp_path / "peak" / "plan.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds tokens and ID numbers
    assert LoadPlan.load(path) == a_plan()
    assert not list(path.parent.glob("*.tmp"))


def test_gates_take_every_session_in_turn_and_an_older_plan_has_one() -> None:
    assert a_plan().checkpoint.scan_tokens() == ("staff-token", "gate-2", "gate-3")
    older = a_plan().to_json()
    del older["checkpoint"]["gate_tokens"]
    assert LoadPlan.from_json(older).checkpoint.scan_tokens() == ("staff-token",)


def _broken(change: str) -> dict[str, Any]:
    data = copy.deepcopy(a_plan().to_json())
    if change == "version":
        data["version"] = 2
    elif change == "display":
        data["checkpoint"]["scans"][0]["display"] = "blue"
    elif change == "scan text":
        data["checkpoint"]["scans"][0]["text"] = ""
    elif change == "id card person":
        del data["checkpoint"]["id_cards"][0]["person"]["name"]
    elif change == "no scans":
        data["checkpoint"]["scans"] = []
    elif change == "token":
        data["checkpoint"]["token"] = 7
    elif change == "reader token":
        data["checkpoint"]["id_card_token"] = ""
    elif change == "gate tokens":
        data["checkpoint"]["gate_tokens"] = ["gate-2", None]
    elif change == "citizen tokens":
        data["provinces"][0]["citizen_tokens"] = ["", "t"]
    elif change == "login phones":
        data["provinces"][0]["login_phones"] = ["+86 139"]
    elif change == "partner people":
        data["partner"]["people"] = "everyone"
    return data


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("version", "'version' must be 1"),
        ("display", "checkpoint.scans[0].display must be one of"),
        ("scan text", "checkpoint.scans[0].text must be a non-empty string"),
        ("id card person", "checkpoint.id_cards[0].name must be a non-empty string"),
        ("no scans", "checkpoint.scans must list at least one code"),
        ("token", "checkpoint.token must be a non-empty string"),
        ("reader token", "checkpoint.id_card_token must be a non-empty string"),
        ("gate tokens", "checkpoint.gate_tokens must hold non-empty strings"),
        ("citizen tokens", "provinces[0].citizen_tokens must hold non-empty strings"),
        ("login phones", "provinces[0].login_phones must be a list of phone numbers"),
        ("partner people", "partner.people must be a list"),
    ],
)
def test_a_wrong_field_refuses_the_plan_and_is_named(change: str, named: str) -> None:
    with pytest.raises(LoadTestError) as refused:
        LoadPlan.from_json(_broken(change))
    assert refused.value.code is LoadTestErrorCode.PLAN_INVALID
    assert named in refused.value.message


def test_an_unreadable_plan_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text("{not json", encoding="utf-8")
    for path in (tmp_path / "plan.json", tmp_path / "missing.json"):
        with pytest.raises(LoadTestError) as refused:
            LoadPlan.load(path)
        assert refused.value.code is LoadTestErrorCode.PLAN_INVALID


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:1", "http://[::1]:8080/x", "https://localhost", "http://127.8.0.2"]
)
def test_loopback_targets_are_accepted(url: str) -> None:
    check_target(url)


@pytest.mark.parametrize(
    "url", ["http://10.0.0.5:8400", "https://staging.example", "http://0.0.0.0"]
)
def test_a_target_off_this_machine_is_refused_unless_named(url: str) -> None:
    with pytest.raises(LoadTestError) as refused:
        check_target(url)
    assert refused.value.code is LoadTestErrorCode.TARGET_NOT_LOOPBACK
    assert "--allow-host" in refused.value.message
    host = url.split("//")[1].split(":")[0]
    check_target(url, allowed_hosts=[host])


def test_a_plan_with_one_remote_target_is_refused_whole() -> None:
    plan = a_plan()
    remote = LoadPlan(
        checkpoint=plan.checkpoint,
        provinces=(*plan.provinces, ProvinceTarget("cn-gd", "http://192.0.2.7", ("t",))),
        partner=plan.partner,
    )
    plan.check_targets()
    with pytest.raises(LoadTestError) as refused:
        remote.check_targets()
    assert refused.value.code is LoadTestErrorCode.TARGET_NOT_LOOPBACK
    assert "192.0.2.7" in refused.value.message


@pytest.mark.parametrize("url", ["ftp://127.0.0.1", "127.0.0.1:8400", "http://"])
def test_a_target_that_is_not_an_http_url_is_refused(url: str) -> None:
    with pytest.raises(LoadTestError) as refused:
        check_target(url)
    assert refused.value.code is LoadTestErrorCode.PLAN_INVALID
