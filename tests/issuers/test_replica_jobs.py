"""Two issuer replicas on one database: the once-per-round job (the session purge) runs on one
of them at a time, through the job's lease, and the other takes over when the first stops."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from pathlib import Path

import pytest

from tests.issuers.conftest import make_settings, running_issuer

ROUND = re.compile(r"session purge round \(lease holder (\S+)\)")


def _holders(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [m.group(1) for r in caplog.records if (m := ROUND.search(r.getMessage()))]


def _rounds_after(caplog: pytest.LogCaptureFixture, start: int, count: int) -> list[str]:
    """The holders of `count` rounds after the first `start` (waiting generously: this waits
    for events, it measures nothing)."""
    deadline = time.monotonic() + 60
    while len(_holders(caplog)) < start + count and time.monotonic() < deadline:
        time.sleep(0.05)
    return _holders(caplog)[start:]


def test_two_replicas_run_the_session_purge_once_per_round(
    tmp_path: Path, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="issuers")
    settings = make_settings(tmp_path, redis_url, session_purge_interval_s=0.05)
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(running_issuer(settings))
        alone = _rounds_after(caplog, 0, 3)
        assert len(set(alone)) == 1
        holder = alone[0]
        with running_issuer(settings) as second:
            assert second.http.get("/healthz").status_code == 200
            start = len(_holders(caplog))
            both = _rounds_after(caplog, start, 10)
            assert len(both) >= 10
            assert set(both) == {holder}  # the second replica stood by every round
            stack.close()  # the first replica stops cleanly: its lease is released
            assert first is not None
            start = len(_holders(caplog))
            after = _rounds_after(caplog, start, 3)
            assert len(after) >= 3
            assert len(set(after)) == 1
            assert after[0] != holder  # the second replica took the job over
