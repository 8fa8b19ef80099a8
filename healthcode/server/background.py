"""Background work of a service: periodic jobs and the lifespan that runs them.

Every service has jobs that run beside the requests (purging expired logins, syncing partners'
revocations, re-signing trust lists, refreshing a revocation mirror). They share one shape:
a blocking job run in a worker thread now and then every interval, a failed round logged and
retried next round (a job that stopped for good would leave the service answering with data
that silently go stale), and all of them cancelled when the app shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from typing import Any

from healthcode.errors import HealthcodeError

__all__ = ["background_tasks", "run_every"]

logger = logging.getLogger("healthcode.server.background")


async def run_every(
    interval_s: float,
    job: Callable[[], object],
    *,
    name: str,
    first_delay_s: float = 0.0,
    log: logging.Logger = logger,
) -> None:
    """Run the blocking `job` in a worker thread after `first_delay_s`, then every
    `interval_s`, until cancelled. A round that raises is logged and the next one runs:
    an expected refusal (a `HealthcodeError`, e.g. no trust list yet) as a warning, anything
    else with its traceback, on the service's `log`."""
    if first_delay_s > 0:
        await asyncio.sleep(first_delay_s)
    while True:
        try:
            await asyncio.to_thread(job)
        except HealthcodeError as error:
            log.warning("%s: %s: %s; retrying next round", name, error.code.value, error.message)
        except Exception:
            log.exception("%s round failed; retrying next round", name)
        await asyncio.sleep(interval_s)


@contextlib.asynccontextmanager
async def background_tasks(
    jobs: Iterable[Coroutine[Any, Any, None]],
) -> AsyncIterator[list[asyncio.Task[None]]]:
    """Run `jobs` as tasks for the body of the `async with` (an app's lifespan); on the way
    out, cancel them all and wait until each has stopped."""
    tasks = [asyncio.create_task(job) for job in jobs]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
