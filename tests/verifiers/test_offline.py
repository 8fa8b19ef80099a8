"""Offline, failing closed: sources stopped, QR codes still verify; ID-card reads refused."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from healthcode import CodeKind, StatusColour, TrustStore, encode_numeric, new_credential
from healthcode.idnumber import pseudonymous_subject
from healthcode.jws import sign_credential
from tests.servers import AppServer, RedisServer
from tests.simulators import TrustRegistrySimulator
from tests.verifiers.conftest import SC_GREEN, MakeSettings, Province, entry, start_checkpoint
from tests.verifiers.standin import SUBJECT_SECRET
from verifiers.service import CheckpointService
from verifiers.trustsource import LocalTrustSource, RegistryTrustSource


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


def _code(
    province: Province,
    now: float | None = None,
    kind: CodeKind = CodeKind.PHONE,
    lifetime_s: int | None = None,
) -> tuple[str, str]:
    credential = new_credential(
        issuer=province.issuer.issuer_id,
        # SC_GREEN's own code: a scan and that ID card read together are one person (scan + tap).
        subject=pseudonymous_subject(SC_GREEN, SUBJECT_SECRET),
        status=StatusColour.GREEN,
        masked_name="张*丰",
        id_tail=SC_GREEN[-4:],
        now=now,
        kind=kind,
        lifetime_s=lifetime_s,
    )
    return encode_numeric(sign_credential(credential, province.issuer.key)), credential.jti


def test_offline_qr_verifies_and_id_card_is_refused(
    make_settings: MakeSettings,
    trust_store: TrustStore,
    sc: Province,
    bj: Province,
    own_redis: RedisServer,
) -> None:
    running = start_checkpoint(make_settings(redis_url=own_redis.url), trust_store)
    try:
        assert running.service.sync_revocations() == {"cn-sc": "ok (+0)", "cn-bj": "ok (+0)"}
        text, _ = _code(sc)
        # Every source goes away: both issuers (registry stand-ins) and Redis.
        sc.server.stop()
        bj.server.stop()
        own_redis.stop()

        answer = running.post("/v1/scan", json={"text": text}).json()
        assert answer["display"] == "green"
        assert answer["checks"]["revocation"] == "passed"
        assert any(note.startswith("revocation data as of") for note in answer["notes"])

        refused = running.post("/v1/id-card", json={"id_number": SC_GREEN, "name": "张三丰"})
        assert refused.status_code == 503
        assert refused.json()["error"] == "unavailable_offline"

        assert running.service.sync_revocations() == {"cn-sc": "failed", "cn-bj": "failed"}
        status = running.get("/v1/status").json()
        assert status["offline"] is True
        assert status["revocations"]["cn-sc"]["last_error"].startswith("upstream_unavailable")
        sources = {source["name"]: source for source in status["sources"]}
        assert sources["cn-sc"]["state"] == "failing"
        assert sources["cn-sc"]["last_error"]["code"] == "upstream_unavailable"
        assert set(status["failing_sources"]) == {"cn-sc", "cn-bj"}
        as_of = running.service.revocations.state("cn-sc").as_of
        assert status["offline_since"] == as_of

        # Offline but within the staleness bound: still green, and the answer says so.
        offline = running.post("/v1/scan", json={"text": text}).json()
        assert offline["display"] == "green"
        assert offline["unchecked"] == [
            {
                "check": "revocation_sync",
                "since": as_of,
                "age_s": offline["unchecked"][0]["age_s"],
                "within_policy": True,
                "text": {
                    "en": "offline: revocation data from the last sync",
                    "zh": "离线：使用上次同步的作废数据",
                },
            }
        ]
        assert 0 <= offline["unchecked"][0]["age_s"] < 60

        # Past the freshness bound the same code is never green: status_unconfirmed.
        late = running.service.checkpoint.verify_text(text, now=as_of + 901).to_json()
        assert late["display"] == "unconfirmed"
        assert late["error"] == "status_unconfirmed"
        assert late["unchecked"][0]["check"] == "revocation"
        assert late["unchecked"][0]["since"] == as_of
        assert late["unchecked"][0]["age_s"] == 901
    finally:
        running.server.stop()


def test_revocation_state_survives_a_restart_offline(
    make_settings: MakeSettings, trust_store: TrustStore, sc: Province
) -> None:
    settings = make_settings()
    first = CheckpointService(settings, LocalTrustSource(trust_store))
    text, jti = _code(sc)
    sc.issuer.revoked.append((jti, int(time.time()) + 3600))
    first.sync_revocations()
    first.close()
    sc.server.stop()

    second = CheckpointService(settings, LocalTrustSource(trust_store))
    try:
        assert second.checkpoint.verify_text(text).to_json()["error"] == "revoked"
        other, _ = _code(sc)
        assert second.checkpoint.verify_text(other).display == "green"
    finally:
        second.close()


def test_catches_up_by_itself_when_the_network_returns(
    make_settings: MakeSettings, trust_store: TrustStore, sc: Province, bj: Province
) -> None:
    settings = make_settings(background_tasks=True, revocation_sync_interval_s=0.2)
    port = sc.server.port
    sc.server.stop()
    running = start_checkpoint(settings, trust_store)
    try:
        text, jti = _code(sc)
        assert running.post("/v1/scan", json={"text": text}).json()["error"] == (
            "status_unconfirmed"
        )
        sc.issuer.revoked.append((jti, int(time.time()) + 3600))
        restarted = AppServer(sc.issuer.app(), port=port)
        try:
            deadline = time.monotonic() + 120
            answer: dict[str, object] = {}
            while time.monotonic() < deadline:
                answer = running.post("/v1/scan", json={"text": text}).json()
                if answer["error"] == "revoked":
                    break
                time.sleep(0.1)
            assert answer["error"] == "revoked"
            fresh, _ = _code(sc)
            assert running.post("/v1/scan", json={"text": fresh}).json()["display"] == "green"
        finally:
            restarted.stop()
    finally:
        running.server.stop()


class BlackHole:
    """A TCP listener that accepts connections and never answers: a black-holed Redis.

    It counts what reaches it (connections, bytes sent by clients), so a test can tell that
    nothing was asked of it without timing anything.
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._listener.settimeout(0.1)
        self._held: list[socket.socket] = []  # kept open, never answered
        self._lock = threading.Lock()
        self._bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._listener.getsockname()[1]}/0"

    def _accept(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                connection, _ = self._listener.accept()
                connection.setblocking(False)
                with self._lock:
                    self._held.append(connection)

    def traffic(self) -> tuple[int, int]:
        """(connections accepted, bytes received) so far; reads without ever answering."""
        with self._lock:
            for connection in self._held:
                with contextlib.suppress(BlockingIOError, ConnectionError, OSError):
                    while chunk := connection.recv(65536):
                        self._bytes += len(chunk)
            return len(self._held), self._bytes

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        with self._lock:
            for connection in self._held:
                connection.close()
        self._listener.close()


@contextlib.contextmanager
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    try:
        yield hole
    finally:
        hole.close()


def _wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def test_black_holed_redis_never_holds_up_a_scan(
    make_settings: MakeSettings, trust_store: TrustStore, sc: Province
) -> None:
    """Scans ask the in-memory copy, never Redis: nothing reaches the black hole while they run.

    Counted, not timed: a scan that waited on Redis would have sent it a command.
    """
    with black_hole() as hole:
        settings = make_settings(
            redis_url=hole.url,
            revocation_redis_url=hole.url,
            background_tasks=True,
            # One copy attempt at start-up (it fails after the socket timeout), then none
            # while the scans run: whatever reaches Redis after it came from a scan.
            revocation_mirror_interval_s=3600,
        )
        running = start_checkpoint(settings, trust_store)
        try:
            revocations = running.service.revocations
            published = running.service.published_revocations
            assert published is not None
            _wait_for(lambda: all(revocations.state(i) for i in ("cn-sc", "cn-bj")))
            _wait_for(lambda: revocations.state("cn-sc").as_of is not None)
            _wait_for(lambda: published.status.last_error is not None)
            connections, sent = hole.traffic()
            assert connections >= 1  # the copy's attempt reached the black hole: it counts
            assert sent > 0
            codes = [_code(sc)[0] for _ in range(20)]
            answers = [running.post("/v1/scan", json={"text": text}).json() for text in codes]
            assert hole.traffic() == (connections, sent)
            assert [answer["display"] for answer in answers] == ["green"] * 20
            for answer in answers:
                assert answer["checks"]["revocation"] == "passed"
                (item,) = answer["unchecked"]
                assert item["check"] == "published_revocations"
                assert item["within_policy"] is True
                assert "last sync" in item["text"]["en"]
            status = running.get("/v1/status").json()
            assert status["offline"] is True
            assert status["published_revocations"]["current"] is False
        finally:
            running.server.stop()


def test_registry_issuers_and_redis_down_then_back(
    make_settings: MakeSettings, tmp_path: Path, sc: Province, bj: Province, own_redis: RedisServer
) -> None:
    """Acceptance: every source stops; QR and printed codes verify, ID-card reads are refused,
    the answers say what could not be checked since when; then it all catches up by itself."""
    simulator = TrustRegistrySimulator(now=datetime.now(UTC))
    simulator.issuers = [
        entry(sc.issuer, sc.url, "四川省 Sichuan"),
        entry(bj.issuer, bj.url, "北京市 Beijing"),
    ]
    simulator.publish()
    registry = AppServer(simulator.app())
    pinned = tmp_path / "root.json"
    pinned.write_text(json.dumps(simulator.pinned_root))
    settings = make_settings(
        registry_url=registry.url,
        pinned_root=pinned,
        redis_url=own_redis.url,
        revocation_redis_url=own_redis.url,
        background_tasks=True,
        revocation_sync_interval_s=0.3,
        revocation_mirror_interval_s=0.2,
    )
    running = start_checkpoint(settings, None)
    restarted: list[AppServer] = []
    try:
        service = running.service
        assert isinstance(service.trust_source, RegistryTrustSource)

        def online() -> bool:
            status = running.get("/v1/status").json()
            return status["offline"] is False and set(status["revocations"]) == {"cn-sc", "cn-bj"}

        _wait_for(online)
        phone, phone_jti = _code(sc)
        printed, _ = _code(sc, kind=CodeKind.OFFLINE, lifetime_s=7 * 86400)
        for text in (phone, printed):
            answer = running.post("/v1/scan", json={"text": text}).json()
            assert (answer["display"], answer["unchecked"]) == ("green", [])

        for server in (registry, sc.server, bj.server):
            server.stop()
        own_redis.halt()  # down, data kept: own_redis.restart() below brings it back
        down_at = time.time()  # everything was reachable until shortly before

        def offline_everywhere() -> bool:
            status = running.get("/v1/status").json()
            return (
                status["trust_list"]["offline_since"] is not None
                and all(r["last_error"] for r in status["revocations"].values())
                and status["published_revocations"]["current"] is False
            )

        _wait_for(offline_everywhere)
        status = running.get("/v1/status").json()
        assert status["offline"] is True
        assert status["offline_since"] <= down_at
        as_of = service.revocations.state("cn-sc").as_of
        for text, kind in ((phone, "phone"), (printed, "offline")):
            response = running.post("/v1/scan", json={"text": text})
            assert response.status_code == 200
            answer = response.json()
            assert answer["display"] == "green", answer
            assert answer["kind"] == kind
            assert answer["checks"]["revocation"] == "passed"
            items = {item["check"]: item for item in answer["unchecked"]}
            assert set(items) == {"revocation_sync", "published_revocations", "trust_list_sync"}
            assert all(item["within_policy"] for item in items.values())
            assert items["revocation_sync"]["since"] == as_of
            assert items["trust_list_sync"]["since"] <= down_at
            assert items["published_revocations"]["since"] <= down_at
            assert all(item["text"]["zh"] and item["text"]["en"] for item in items.values())

        refused = running.post("/v1/id-card", json={"id_number": SC_GREEN, "name": "张三丰"})
        assert refused.status_code == 503
        assert refused.json()["error"] == "unavailable_offline"

        # Meanwhile the citizen's status changed at the issuer.
        sc.issuer.revoked.append((phone_jti, int(time.time()) + 3600))
        own_redis.restart()
        restarted += [
            AppServer(simulator.app(), port=registry.port),
            AppServer(sc.issuer.app(), port=sc.server.port),
            AppServer(bj.issuer.app(), port=bj.server.port),
        ]
        _wait_for(online)
        assert service.trust_source.outage() is None
        assert running.post("/v1/scan", json={"text": phone}).json()["error"] == "revoked"
        back = running.post("/v1/scan", json={"text": printed}).json()
        assert (back["display"], back["unchecked"]) == ("green", [])
        assert (
            running.post("/v1/id-card", json={"id_number": SC_GREEN, "name": "张三丰"}).json()[
                "display"
            ]
            == "green"
        )
    finally:
        running.server.stop()
        for server in restarted:
            server.stop()
