"""Judging a run: goals per request name, failures, scenarios that sent nothing, the report
and the plot, from files in Locust's own format (columns as Locust 2.x writes them)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from loadtest import requests as names
from loadtest.errors import LoadTestError, LoadTestErrorCode
from loadtest.judge import DEFAULT_GOALS, Goals, judge, read_stats, write_report

# Column names as Locust 2.x writes them (checked against a real run's files).
PERCENTILES = ["50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%"]
STATS_HEADER = [
    *("Type", "Name", "Request Count", "Failure Count", "Median Response Time"),
    *("Average Response Time", "Min Response Time", "Max Response Time"),
    *("Average Content Size", "Requests/s", "Failures/s"),
    *PERCENTILES,
]
HISTORY_HEADER = [
    *("Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s"),
    *PERCENTILES,
    *("Total Request Count", "Total Failure Count", "Total Median Response Time"),
    *("Total Average Response Time", "Total Min Response Time", "Total Max Response Time"),
    "Total Average Content Size",
]


def stats_row(kind: str, name: str, count: int, failures: int, p95: str, p99: str) -> list[str]:
    return [kind, name, str(count), str(failures), "5", "6.1", "1.2", p99, "900", "12.5", "0.0",
            "5", "6", "7", "8", "9", p95, p95, p99, p99, p99, p99]  # fmt: skip


def write_stats(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(STATS_HEADER)
        writer.writerows(rows)
        writer.writerow(stats_row("", "Aggregated", 1000, 0, "40", "90"))
    return path


GOOD = [
    stats_row("POST", names.SCAN, 800, 0, "20", "45"),
    stats_row("POST", names.ID_CARD, 200, 0, "300", "700"),
]


def test_a_run_within_every_goal_passes(tmp_path: Path) -> None:
    verdict = judge(write_stats(tmp_path / "s.csv", GOOD), DEFAULT_GOALS, [names.SCAN])
    assert verdict.passed, verdict.failed()
    assert verdict.aggregate is not None
    assert verdict.aggregate.requests == 1000
    assert {check.what for check in verdict.checks} == {"failed requests", "p95", "p99"}
    assert len(verdict.checks) == 6


def test_a_slow_request_name_fails_and_is_named(tmp_path: Path) -> None:
    rows = [GOOD[0], stats_row("POST", names.ID_CARD, 200, 0, "900", "1400")]
    verdict = judge(write_stats(tmp_path / "s.csv", rows), DEFAULT_GOALS, [])
    assert not verdict.passed
    assert [(c.name, c.what, c.measured, c.limit) for c in verdict.failed()] == [
        (names.ID_CARD, "p95", "900 ms", "<= 800 ms")
    ]


def test_failures_over_the_share_fail_the_run(tmp_path: Path) -> None:
    rows = [stats_row("POST", names.SCAN, 1000, 2, "20", "45"), GOOD[1]]
    verdict = judge(write_stats(tmp_path / "s.csv", rows), DEFAULT_GOALS, [])
    assert [(c.name, c.measured) for c in verdict.failed()] == [(names.SCAN, "0.20% (2 of 1000)")]
    # One failure in a thousand is within the default share (0.1 %).
    rows = [stats_row("POST", names.SCAN, 1000, 1, "20", "45"), GOOD[1]]
    assert judge(write_stats(tmp_path / "s.csv", rows), DEFAULT_GOALS, []).passed


def test_a_scenario_that_sent_nothing_fails_the_run(tmp_path: Path) -> None:
    expected = [names.SCAN, names.ID_CARD, names.PARTNER_STATUS]
    verdict = judge(write_stats(tmp_path / "s.csv", GOOD), DEFAULT_GOALS, expected)
    assert [(c.name, c.what) for c in verdict.failed()] == [(names.PARTNER_STATUS, "requests sent")]


def test_a_request_name_with_no_timed_answer_fails(tmp_path: Path) -> None:
    rows = [GOOD[0], stats_row("POST", names.ID_CARD, 0, 0, "N/A", "N/A")]
    verdict = judge(write_stats(tmp_path / "s.csv", rows), DEFAULT_GOALS, [names.ID_CARD])
    assert {(c.name, c.what) for c in verdict.failed()} == {
        (names.ID_CARD, "requests sent"),
        (names.ID_CARD, "p95"),
        (names.ID_CARD, "p99"),
    }


def test_a_goals_file_overrides_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "goals.json"
    path.write_text(
        json.dumps({"max_failure_ratio": 0, "requests": {names.SCAN: {"p95_ms": 10, "p99_ms": 50}}})
    )
    goals = Goals.load(path)
    assert goals.requests[names.ID_CARD] == DEFAULT_GOALS.requests[names.ID_CARD]
    verdict = judge(write_stats(tmp_path / "s.csv", GOOD), goals, [])
    assert [(c.name, c.what) for c in verdict.failed()] == [(names.SCAN, "p95")]


@pytest.mark.parametrize(
    "goals",
    [
        [],
        {"requests": {names.SCAN: {"p95_ms": 10}}},
        {"requests": {names.SCAN: {"p95_ms": 100, "p99_ms": 50}}},
        {"requests": {names.SCAN: {"p95_ms": "fast", "p99_ms": 50}}},
        {"max_failure_ratio": 1.5},
    ],
)
def test_a_wrong_goals_file_is_refused(tmp_path: Path, goals: object) -> None:
    path = tmp_path / "goals.json"
    path.write_text(json.dumps(goals))
    with pytest.raises(LoadTestError) as refused:
        Goals.load(path)
    assert refused.value.code is LoadTestErrorCode.GOALS_INVALID


def test_missing_or_foreign_statistics_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LoadTestError) as refused:
        read_stats(tmp_path / "absent.csv")
    assert refused.value.code is LoadTestErrorCode.STATS_MISSING
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(LoadTestError) as refused:
        read_stats(tmp_path / "other.csv")
    assert refused.value.code is LoadTestErrorCode.STATS_MISSING


def test_the_report_leads_with_the_verdict_and_lists_every_goal(tmp_path: Path) -> None:
    rows = [GOOD[0], stats_row("POST", names.ID_CARD, 200, 0, "900", "1400")]
    verdict = judge(write_stats(tmp_path / "s.csv", rows), DEFAULT_GOALS, [])
    report = write_report(
        verdict, tmp_path / "report.md", run={"users": 50}, notes=["the load generator ran out"]
    )
    text = report.read_text()
    lines = text.splitlines()
    assert lines[2] == f"**FAILED**: {names.ID_CARD} p95 900 ms"
    assert "Run: users 50" in text
    assert not any(line.startswith("Machine:") for line in lines)  # not measured: not said
    assert "**Note**: the load generator ran out" in lines
    assert f"| {names.ID_CARD} | p95 | <= 800 ms | 900 ms | **FAILED** |" in lines
    scale = [line for line in lines if line.startswith("**Scale**")]
    assert len(scale) == 1
    assert "add replicas of the checkpoint" in scale[0]
    assert f"{names.ID_CARD} p95 900 ms" in scale[0]
    assert f"| {names.SCAN} | 800 | 0 | 12.5 | 5 | 20 | 45 | 45 |" in lines


def test_the_report_says_how_fast_the_machine_was(tmp_path: Path) -> None:
    verdict = judge(write_stats(tmp_path / "s.csv", GOOD), DEFAULT_GOALS, [])
    machine = "one core verified 14,700 ES256 signatures a second just before the run"
    report = write_report(verdict, tmp_path / "report.md", run={"users": 50}, machine=machine)
    lines = report.read_text().splitlines()
    assert lines[lines.index("Run: users 50") + 1] == f"Machine: {machine}"
