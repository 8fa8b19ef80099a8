"""Judging a Locust run against its goals, and the report ops read afterwards.

Locust writes `<prefix>_stats.csv` (one row per request name, plus "Aggregated") and
`<prefix>_stats_history.csv` (the aggregate once a second). `judge` reads the first against
`Goals`: per request name a p95 and a p99 limit, a largest share of failed requests, and the
rule that every expected request name was sent at all (a scenario that sent nothing proves
nothing). `write_report` writes report.md (`loadtest.plot` draws latency.png).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadtest import requests as names
from loadtest.errors import LoadTestError, LoadTestErrorCode

__all__ = [
    "DEFAULT_GOALS",
    "Goals",
    "LatencyGoal",
    "RequestStats",
    "Verdict",
    "judge",
    "read_stats",
    "write_report",
]


@dataclass(frozen=True)
class LatencyGoal:
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Goals:
    """What a peak test must show (loadtest/README.md says why these numbers)."""

    requests: Mapping[str, LatencyGoal]
    #: The largest share of one request name's requests that may fail (0.001 = 0.1 %).
    max_failure_ratio: float = 0.001

    @classmethod
    def from_json(cls, data: object) -> Goals:
        """A goals file: `{"max_failure_ratio": 0.001, "requests": {name: {"p95_ms": ..,
        "p99_ms": ..}}}`; names left out keep the defaults."""
        if not isinstance(data, dict) or not isinstance(data.get("requests", {}), dict):
            raise _goals_invalid("a goals file is an object with a 'requests' object")
        requests = dict(DEFAULT_GOALS.requests)
        for name, limits in data.get("requests", {}).items():
            try:
                p95, p99 = float(limits["p95_ms"]), float(limits["p99_ms"])
            except (TypeError, KeyError, ValueError) as exc:
                raise _goals_invalid(f"goal {name!r} needs numbers p95_ms and p99_ms") from exc
            if not (0 < p95 <= p99 and math.isfinite(p99)):
                raise _goals_invalid(f"goal {name!r}: need 0 < p95_ms <= p99_ms")
            requests[name] = LatencyGoal(p95, p99)
        ratio = data.get("max_failure_ratio", DEFAULT_GOALS.max_failure_ratio)
        if not isinstance(ratio, int | float) or not 0 <= ratio < 1:
            raise _goals_invalid("max_failure_ratio must be a number from 0 to below 1")
        return cls(requests=requests, max_failure_ratio=float(ratio))

    @classmethod
    def load(cls, path: Path) -> Goals:
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise _goals_invalid(f"cannot read the goals file {path}: {exc}") from exc


#: A checkpoint must show its answer "within a fraction of a second" (DESIGN.md): a scan is
#: local work (p95 250 ms); an ID-card read of another province's traveller crosses to the
#: home province's partner API (p95 800 ms); what a citizen's phone opens, 500 ms.
DEFAULT_GOALS = Goals(
    requests={
        names.SCAN: LatencyGoal(250, 500),
        names.ID_CARD: LatencyGoal(800, 1500),
        names.CITIZEN_CODE: LatencyGoal(500, 1000),
        names.CITIZEN_CODE_PNG: LatencyGoal(800, 1500),
        names.CITIZEN_PROFILE: LatencyGoal(500, 1000),
        # A login: the phone waits for the SMS anyway, but the answer must not add to it.
        names.LOGIN_CODE: LatencyGoal(800, 1500),
        names.LOGIN: LatencyGoal(800, 1500),
        names.PARTNER_STATUS: LatencyGoal(800, 1500),
        names.PARTNER_REVOCATIONS: LatencyGoal(1000, 2000),
    }
)


@dataclass(frozen=True)
class RequestStats:
    """One row of Locust's stats: a request name's totals and percentiles."""

    name: str
    requests: int
    failures: int
    requests_per_s: float
    median_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @property
    def failure_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Check:
    """One goal as measured."""

    name: str
    what: str
    limit: str
    measured: str
    passed: bool


@dataclass
class Verdict:
    stats: list[RequestStats]
    aggregate: RequestStats | None
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]


def _number(value: str) -> float:
    return float(value) if value not in ("", "N/A") else math.nan


def read_stats(path: Path) -> tuple[list[RequestStats], RequestStats | None]:
    """The rows of a Locust `_stats.csv` (request names, then the "Aggregated" row)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise LoadTestError(
            LoadTestErrorCode.STATS_MISSING,
            f"no Locust statistics at {path} ({exc}): did the run start? See locust.log",
        ) from exc
    stats: list[RequestStats] = []
    aggregate: RequestStats | None = None
    try:
        for row in rows:
            item = RequestStats(
                name=row["Name"],
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                requests_per_s=_number(row["Requests/s"]),
                median_ms=_number(row["50%"]),
                p95_ms=_number(row["95%"]),
                p99_ms=_number(row["99%"]),
                max_ms=_number(row["Max Response Time"]),
            )
            if row["Name"] == "Aggregated" and not row.get("Type"):
                aggregate = item
            else:
                stats.append(item)
    except (KeyError, ValueError) as exc:
        raise LoadTestError(
            LoadTestErrorCode.STATS_MISSING, f"{path} is not a Locust stats file ({exc})"
        ) from exc
    return stats, aggregate


def judge(stats_csv: Path, goals: Goals, expected: Iterable[str]) -> Verdict:
    """Measure the run in `stats_csv` against `goals`; `expected` request names must appear."""
    stats, aggregate = read_stats(stats_csv)
    verdict = Verdict(stats=stats, aggregate=aggregate)
    by_name = {item.name: item for item in stats}
    for name in expected:
        if by_name.get(name) is None or by_name[name].requests == 0:
            verdict.checks.append(
                # Nothing proven. Locust shares users out by weight: too few users leave a
                # scenario with none.
                Check(name, "requests sent", ">= 1", "0 (too few --users?)", passed=False)
            )
    for item in stats:
        ratio = item.failure_ratio
        verdict.checks.append(
            Check(
                item.name,
                "failed requests",
                f"<= {goals.max_failure_ratio:.2%}",
                f"{ratio:.2%} ({item.failures} of {item.requests})",
                passed=ratio <= goals.max_failure_ratio,
            )
        )
        goal = goals.requests.get(item.name)
        if goal is None:
            continue
        for what, measured, limit in (
            ("p95", item.p95_ms, goal.p95_ms),
            ("p99", item.p99_ms, goal.p99_ms),
        ):
            verdict.checks.append(
                Check(
                    item.name,
                    what,
                    f"<= {limit:g} ms",
                    f"{measured:g} ms",
                    passed=measured <= limit,  # NaN (no answer timed) fails
                )
            )
    return verdict


#: Which service answers each request name: where to add replicas when its goals are missed.
SERVICE_OF = {
    names.SCAN: "the checkpoint",
    names.ID_CARD: "the checkpoint, and the provinces' partner API it asks for travellers",
    names.CITIZEN_CODE: "the province issuers",
    names.CITIZEN_CODE_PNG: "the province issuers",
    names.CITIZEN_PROFILE: "the province issuers",
    names.LOGIN_CODE: "the province issuers (and their SMS gateway's capacity)",
    names.LOGIN: "the province issuers",
    names.PARTNER_STATUS: "the home province's issuers (partner API)",
    names.PARTNER_REVOCATIONS: "the home province's issuers (partner API)",
}


def scaling_advice(verdict: Verdict) -> list[str]:
    """One line per service whose requests missed a latency goal: add replicas of it.
    Wrong answers are not a capacity question and get no advice here."""
    missed: dict[str, list[str]] = {}
    for check in verdict.failed():
        if check.what in ("p95", "p99"):
            service = SERVICE_OF.get(check.name, f"the service answering {check.name!r}")
            missed.setdefault(service, []).append(f"{check.name} {check.what} {check.measured}")
    return [
        f"add replicas of {service} ({'; '.join(checks)}), then run the test again"
        for service, checks in missed.items()
    ]


def write_report(
    verdict: Verdict,
    path: Path,
    *,
    run: Mapping[str, Any],
    notes: Iterable[str] = (),
    machine: str | None = None,
) -> Path:
    """report.md: the verdict first, then each request name's figures and each goal.

    `machine`: how fast the machine was (`es256_verify_rate`), so that two runs compare.
    """
    lines = [
        "# Peak test report",
        "",
        f"**{'PASSED' if verdict.passed else 'FAILED'}**"
        + (
            ""
            if verdict.passed
            else ": " + "; ".join(f"{c.name} {c.what} {c.measured}" for c in verdict.failed())
        ),
        "",
        "Run: " + ", ".join(f"{key} {value}" for key, value in run.items()),
        *([f"Machine: {machine}"] if machine else []),
        f"Judged: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M:%S')} UTC",
        "",
        *(f"**Note**: {note}\n" for note in notes),
        *(f"**Scale**: {advice}\n" for advice in scaling_advice(verdict)),
        "| request | requests | failed | req/s | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [*verdict.stats, *([verdict.aggregate] if verdict.aggregate else [])]
    for item in rows:
        lines.append(
            f"| {item.name} | {item.requests} | {item.failures} | {item.requests_per_s:.1f} | "
            f"{item.median_ms:g} | {item.p95_ms:g} | {item.p99_ms:g} | {item.max_ms:.0f} |"
        )
    lines += ["", "| request | goal | limit | measured | |", "|---|---|---|---|---|"]
    for check in verdict.checks:
        mark = "ok" if check.passed else "**FAILED**"
        lines.append(f"| {check.name} | {check.what} | {check.limit} | {check.measured} | {mark} |")
    lines += ["", "![requests per second and latency over the run](latency.png)", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _goals_invalid(message: str) -> LoadTestError:
    return LoadTestError(LoadTestErrorCode.GOALS_INVALID, message)
