"""What a run must show follows from its plan; a run's settings are checked before it starts."""

from __future__ import annotations

import pytest

from loadtest import requests as names
from loadtest.errors import LoadTestError
from loadtest.plan import CheckpointTarget, LoadPlan, ProvinceTarget
from loadtest.runner import LoadRun, expected_requests
from tests.loadtest.test_plan import a_plan


def test_every_scenario_of_a_full_plan_is_expected() -> None:
    assert expected_requests(a_plan()) == list(names.ALL)


def test_a_plan_without_cards_citizens_or_partner_expects_only_scans() -> None:
    full = a_plan()
    scans_only = LoadPlan(
        checkpoint=CheckpointTarget(
            url=full.checkpoint.url, token="t", scans=full.checkpoint.scans, id_cards=()
        ),
        provinces=(ProvinceTarget("cn-sc", "http://127.0.0.1:1", citizen_tokens=()),),
        partner=None,
    )
    assert expected_requests(scans_only) == [names.SCAN]


@pytest.mark.parametrize(
    "settings",
    [{"users": 0}, {"spawn_rate": 0}, {"run_time_s": 0}, {"think_s": 0}, {"partner_rate": -1}],
)
def test_a_run_that_could_not_load_anything_is_refused(settings: dict[str, float]) -> None:
    with pytest.raises(LoadTestError):
        LoadRun(**settings)  # type: ignore[arg-type]
