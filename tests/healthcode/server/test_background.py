"""One shape for background work: `run_every` survives failing rounds, `background_tasks`
stops every job when the app shuts down."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from healthcode.errors import ErrorCode, RequestError
from healthcode.server.background import background_tasks, run_every


def test_failing_rounds_are_logged_and_the_next_round_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rounds: list[int] = []
    third = threading.Event()

    def job() -> None:
        rounds.append(len(rounds) + 1)
        if len(rounds) == 1:
            raise RequestError(ErrorCode.TRUST_LIST_UNAVAILABLE, "no trust list yet")
        if len(rounds) == 2:
            raise OSError("disk unreadable")
        third.set()

    async def main() -> None:
        async with background_tasks([run_every(0.01, job, name="test job")]) as tasks:
            # Liveness only (a generous guard, not a speed bound): the third round happens.
            assert await asyncio.to_thread(third.wait, 60)
        assert all(task.done() for task in tasks)

    caplog.set_level(logging.WARNING, logger="healthcode.server.background")
    asyncio.run(main())
    assert rounds[:3] == [1, 2, 3]
    messages = [record.getMessage() for record in caplog.records]
    assert "test job: trust_list_unavailable: no trust list yet; retrying next round" in messages
    assert "test job round failed; retrying next round" in messages


def test_leaving_the_lifespan_cancels_every_job() -> None:
    started = threading.Event()
    ran: list[str] = []

    def job() -> None:
        ran.append("x")
        started.set()

    async def main() -> list[asyncio.Task[None]]:
        jobs = [run_every(3600, job, name="hourly"), run_every(3600, job, name="also hourly")]
        async with background_tasks(jobs) as tasks:
            assert await asyncio.to_thread(started.wait, 60)
        return tasks

    tasks = asyncio.run(main())
    assert all(task.cancelled() for task in tasks)
    assert 1 <= len(ran) <= 2  # each ran its first round at most; none waited an hour


def test_a_first_delay_postpones_the_first_round() -> None:
    ran: list[str] = []

    async def main() -> None:
        async with background_tasks(
            [run_every(1, lambda: ran.append("x"), name="late", first_delay_s=3600)]
        ):
            await asyncio.sleep(0)
            await asyncio.sleep(0)

    asyncio.run(main())
    assert ran == []
