"""`kill -9` of a real checkpoint process while scans are being answered: after a restart,
every scan that got an answer is in the scan log (the journal, ADR 0020).

The process is `python -m verifiers` (uvloop, the scan fast path, the journal) with a flush
interval of an hour, so no scan reaches the database before the kill: whatever is there after
the restart came back from the journal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, col, func, select

from healthcode import SigningKey, StatusColour, new_credential, sign_credential
from healthcode.credential import mask_name
from healthcode.keys import jwks_document
from tests.servers import free_port, wait_for_port
from verifiers.auth import Authenticator
from verifiers.scanlog import ScanRecord, make_engine
from verifiers.settings import VerifierSettings

SCANNERS = 4
#: Scans answered (over all scanners) before the kill: several fast-path batches.
ANSWERED_BEFORE_KILL = 120


class Checkpoint:
    """`python -m verifiers` on a free port, with its database and state in `directory`."""

    def __init__(self, directory: Path, jwks: Path) -> None:
        self.port = free_port()
        self.database_url = f"sqlite:///{directory / 'checkpoint.db'}"
        self.env = {
            **os.environ,
            "HC_VERIFIER_DEMO_MODE": "true",
            "HC_VERIFIER_PORT": str(self.port),
            "HC_VERIFIER_DATABASE_URL": self.database_url,
            "HC_VERIFIER_STATE_DIR": str(directory / "state"),
            "HC_VERIFIER_CHECKPOINT_ID": "crash-gate",
            "HC_VERIFIER_TRUST_JWKS": f'{{"cn-sc": "{jwks}"}}',
            "HC_VERIFIER_BACKGROUND_TASKS": "false",
            "HC_VERIFIER_SCAN_LOG_FLUSH_S": "3600",
            "HC_VERIFIER_LOG_LEVEL": "warning",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "verifiers"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, timeout=120)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


@pytest.fixture
def checkpoint(tmp_path: Path) -> Iterator[tuple[Checkpoint, list[tuple[str, str]], str]]:
    """A checkpoint process (not started), device tokens registered in its database, and a
    credential it accepts."""
    key = SigningKey.generate()
    jwks = tmp_path / "cn-sc.jwks.json"
    jwks.write_text(json.dumps(jwks_document([key.verifying_key])))
    running = Checkpoint(tmp_path, jwks)
    settings = VerifierSettings(demo_mode=True, database_url=running.database_url)
    engine = make_engine(running.database_url)
    auth = Authenticator(engine, settings.token_secret.get_secret_value().encode(), 3600)
    devices = [auth.add_device(f"scanner {index}") for index in range(SCANNERS)]
    engine.dispose()
    credential = new_credential(
        issuer="cn-sc",
        subject="crash-test-subject-pseudonym-0000000000000",
        status=StatusColour.GREEN,
        masked_name=mask_name("张三丰"),
        id_tail="1234",
        lifetime_s=3600,
    )
    yield running, devices, sign_credential(credential, key)
    running.stop()


def _scan_until_refused(url: str, token: str, text: str, answered: list[int], index: int) -> None:
    """Scan on one keep-alive connection until the server is gone; count the answers."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        while True:
            try:
                answer = client.post("/v1/scan", json={"text": text})
            except httpx.HTTPError:
                return  # the process was killed
            assert answer.status_code == 200, answer.text
            answered[index] += 1


def _logged_by_device(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            rows = session.exec(
                select(ScanRecord.actor, func.count()).group_by(col(ScanRecord.actor))
            ).all()
            return {actor: int(count) for actor, count in rows}
    finally:
        engine.dispose()


def test_no_answered_scan_is_lost_to_kill_9(
    checkpoint: tuple[Checkpoint, list[tuple[str, str]], str],
) -> None:
    running, devices, text = checkpoint
    running.start()
    url = f"http://127.0.0.1:{running.port}"
    answered = [0] * SCANNERS
    scanners = [
        threading.Thread(target=_scan_until_refused, args=(url, token, text, answered, index))
        for index, (_, token) in enumerate(devices)
    ]
    for scanner in scanners:
        scanner.start()
    while sum(answered) < ANSWERED_BEFORE_KILL:
        assert all(scanner.is_alive() for scanner in scanners), answered
        threading.Event().wait(0.01)
    running.kill()  # mid-stream: the scanners are still sending
    for scanner in scanners:
        scanner.join(60)
    assert _logged_by_device(running.database_url) == {}  # nothing was flushed before the kill

    running.start()  # the restart replays the journal
    logged = _logged_by_device(running.database_url)
    # Per scanner: every answered scan is logged; at most the one in flight at the kill (logged
    # and journaled, its answer not yet received) is logged without an answer.
    for (device_id, _), got in zip(devices, answered, strict=True):
        assert got <= logged.get(device_id, 0) <= got + 1, (logged, answered)
