"""Two real issuer services for the checkpoint's end-to-end tests (shared with tests/issuers),
and a real checkpoint attached to one of them.

Only the tests start them in-process; the checkpoint itself talks to its issuer over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import tests.issuers.conftest as issuers_conftest
from healthcode.trust import TrustStore
from issuers.auth import Role
from tests.issuers.federation import two_provinces as federation
from tests.verifiers.conftest import RunningCheckpoint, start_checkpoint
from verifiers.settings import VerifierSettings

__all__ = ["checkpoint_of", "federation", "issuers_conftest"]


@contextmanager
def checkpoint_of(
    issuer: issuers_conftest.IssuerService,
    trust: TrustStore,
    tmp_path: Path,
    redis_url: str,
    place: str = "cd-east-gate",
) -> Iterator[RunningCheckpoint]:
    """A checkpoint named `place` that logs in to `issuer` with a new device account; its
    files are under `tmp_path/<place>`."""
    device = issuer.staff_headers(Role.CHECKPOINT)["Authorization"].removeprefix("Bearer ")
    home = tmp_path / place
    home.mkdir(parents=True, exist_ok=True)
    settings = VerifierSettings(
        demo_mode=True,
        database_url=f"sqlite:///{home / 'checkpoint.db'}",
        state_dir=home / "state",
        redis_url=redis_url,
        issuer_url=issuer.url,
        issuer_token=device,
        checkpoint_id=place,
        background_tasks=False,
    )
    running = start_checkpoint(settings, trust)
    try:
        yield running
    finally:
        running.server.stop()
