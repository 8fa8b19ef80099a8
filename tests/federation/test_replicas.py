"""`healthcode federation up --replicas 2`: each province and the checkpoint run two processes
behind a real HAProxy on a shared PostgreSQL. One replica killed with `kill -9` while
declarations stream in: the balancer routes around it, and every declaration that was
acknowledged is stored (nothing acknowledged is lost)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from federation.haproxy import FILL_FIRST_MAXCONN
from tests.issuers.conftest import metric_sample
from tests.servers import demo_federation

_CLI = [sys.executable, "-m", "healthcode.cli"]

pytestmark = pytest.mark.postgres  # the replicas share a PostgreSQL cluster of their own


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    directory = tmp_path_factory.mktemp("replicas") / "demo"
    try:
        with demo_federation(directory, args=["--replicas", "2"], startup_timeout_s=420) as urls:
            yield directory, urls
    finally:
        # Run as the postgres user, the cluster lives outside DIR (named in postgres-home).
        home = directory / "postgres-home"
        if home.exists():
            shutil.rmtree(home.read_text(encoding="utf-8").strip(), ignore_errors=True)


def _pids(directory: Path) -> dict[str, int]:
    children: dict[str, int] = json.loads((directory / "federation.json").read_text())["children"]
    return children


def _declarations(directory: Path) -> int:
    port = json.loads((directory / "ports.json").read_text())["postgres"]
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/hc_cn_sc") as connection:
        row = connection.execute(
            "SELECT count(*) FROM eventrecord WHERE kind = 'health_declaration'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def _citizen_token(url: str, directory: Path) -> str:
    logins = json.loads((directory / "cn-sc" / "demo-logins.json").read_text())
    phone = next(c["phone"] for c in logins["citizens"] if c.get("phone"))
    with httpx.Client(base_url=url, timeout=30) as http:
        code = http.post("/v1/auth/otp/request", json={"phone": phone}).json()["demo_code"]
        answer = http.post("/v1/auth/otp/verify", json={"phone": phone, "code": code})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_every_service_runs_twice_behind_the_balancer(
    replicated: tuple[Path, dict[str, Any]],
) -> None:
    directory, urls = replicated
    assert urls["replicas"] == 2
    pids = _pids(directory)
    for name in ("cn-sc", "cn-sc-2", "cn-gd", "cn-gd-2", "checkpoint", "checkpoint-2"):
        assert name in pids, name
    assert "balancer" in pids
    assert "postgres" in pids
    config = (directory / "haproxy.cfg").read_text()
    # Each province: a backend for reads, one for writes (a new connection each); the checkpoint.
    assert config.count("option httpchk GET /readyz") == 5
    # Both replicas answer through the one URL the province is known by.
    with httpx.Client(timeout=30) as http:
        for url in (urls["provinces"]["cn-sc"], urls["checkpoint"]):
            assert http.get(f"{url}/readyz").status_code == 200


def _served(port: int, route: str) -> float:
    """Requests for `route` one replica has answered (its own /metrics, not the balancer's)."""
    with httpx.Client(timeout=30) as http:
        metrics = http.get(f"http://127.0.0.1:{port}/metrics").text
    return metric_sample(metrics, "hc_http_requests_total", route=route, status="200")


def test_a_provinces_requests_fill_its_first_replica_before_the_next(
    replicated: tuple[Path, dict[str, Any]],
) -> None:
    """The replicas share this machine's cores: HAProxy packs a province's requests onto its
    first replica (up to FILL_FIRST_MAXCONN at once) instead of spreading them (ADR 0025)."""
    directory, urls = replicated
    ports = json.loads((directory / "ports.json").read_text())
    route = "/v1/app/config"
    before = [_served(ports[f"cn-gd-{index}"], route) for index in (1, 2)]
    with httpx.Client(base_url=urls["provinces"]["cn-gd"], timeout=30) as http:
        for _ in range(30):
            assert http.get(route).status_code == 200
    after = [_served(ports[f"cn-gd-{index}"], route) for index in (1, 2)]
    assert after[0] - before[0] == 30
    assert after[1] == before[1]
    config = (directory / "haproxy.cfg").read_text()
    # Two provinces, each a reads and a writes backend of two replicas.
    assert config.count(f"maxconn {FILL_FIRST_MAXCONN}") == 8
    assert "balance hdr(authorization)" in config  # the checkpoint stays sticky per device


def test_a_replica_killed_mid_stream_loses_no_acknowledged_declaration(
    replicated: tuple[Path, dict[str, Any]],
) -> None:
    """The replica carrying the stream dies (`balance first` packs it all onto replica 1).
    Only requests sent to it before it was gone may fail; every declaration sent once it is
    gone is served by the other one, and nothing acknowledged is lost.

    "Gone" is when its sockets are closed: every thread of it has exited (`_wait_dead`). A
    process killed with SIGKILL frees its memory before its files, so for some milliseconds
    the kernel still accepts connections and data for it: a client whose request was cut by
    the kill can send one more into that window, and lose it too. Two per client, then, and
    both sent before the replica was gone.
    """
    directory, urls = replicated
    url = urls["provinces"]["cn-sc"]
    headers = {"Authorization": f"Bearer {_citizen_token(url, directory)}"}
    before = _declarations(directory)
    acknowledged: list[int] = []
    failed: list[tuple[int, int, bool]] = []  # (request, status, sent after the replica died)
    sent = threading.Semaphore(0)
    gone = threading.Event()
    lock = threading.Lock()

    def declare(worker: int) -> None:
        with httpx.Client(base_url=url, timeout=30, headers=headers) as http:
            for index in range(40):
                number = worker * 1000 + index
                # Each body differs (the row key is per content), and declares no symptom.
                body = {
                    "kind": "health_declaration",
                    "data": {"symptoms": [], "temperature_c": 35.0 + (worker * 40 + index) / 100},
                }
                after_death = gone.is_set()
                try:
                    status = http.post("/v1/me/declarations", json=body).status_code
                except httpx.HTTPError:
                    status = 0
                with lock:
                    if status == 201:
                        acknowledged.append(number)
                    else:
                        failed.append((number, status, after_death))
                sent.release()

    workers = [threading.Thread(target=declare, args=(w,)) for w in range(4)]
    for worker in workers:
        worker.start()
    for _ in range(40):  # a quarter of the stream has been answered
        sent.acquire()
    victim = _pids(directory)["cn-sc"]
    os.kill(victim, signal.SIGKILL)
    _wait_dead(victim)
    gone.set()
    for worker in workers:
        worker.join(120)
    assert len(acknowledged) + len(failed) == 160
    # Sent once the replica was dead: HAProxy must place it elsewhere (it was refused, or
    # found the kept-alive connection closed, before anything was sent).
    assert [f for f in failed if f[2]] == [], failed
    per_client = Counter(number // 1000 for number, _, _ in failed)
    assert max(per_client.values(), default=0) <= 2, failed
    stored = _declarations(directory) - before
    # Everything acknowledged is stored; a request cut after its commit may be stored too.
    assert len(acknowledged) <= stored <= len(acknowledged) + len(failed)
    with httpx.Client(timeout=30) as http:
        assert http.get(f"{url}/readyz").status_code == 200  # the other replica serves


def _wait_dead(pid: int) -> None:
    """Until every thread of the killed process has exited, and so its sockets are closed.

    The main thread's own state is not enough: it can be a zombie while the process's other
    threads are still exiting, and the files they share stay open until the last one is gone
    (a request HAProxy connected in that window was cut, 502, and counted as sent after death).
    """
    for _ in range(1200):
        if _all_threads_exited(pid):
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"process {pid} still alive a minute after kill -9")


def _all_threads_exited(pid: int) -> bool:
    """Whether every thread of `pid` is a zombie or gone (the process reaped: True)."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError):
        return True
    for thread in threads:
        try:
            stat = Path(f"/proc/{pid}/task/{thread}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited and released meanwhile
        if stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
            return False
    return True


def test_a_devices_scan_and_card_read_meet_in_one_checkpoint_replica(
    replicated: tuple[Path, dict[str, Any]],
) -> None:
    """Scan + tap pairs a device's code scan and ID-card read in one process's memory (ADR
    0014): the balancer sends every request of one session token to the same replica."""
    directory, urls = replicated
    secrets = json.loads((directory / "secrets.json").read_text())
    logins = json.loads((directory / "cn-sc" / "demo-logins.json").read_text())
    person = {key: logins["citizens"][0][key] for key in ("id_number", "name")}
    counter = next(a for a in logins["accounts"] if a["role"] == "counter_staff")
    with httpx.Client(base_url=urls["provinces"]["cn-sc"], timeout=30) as province:
        counter_token = province.post(
            "/v1/auth/login",
            json={"username": counter["username"], "password": counter["password"]},
        ).json()["access_token"]
        printed = province.post(
            "/v1/counter/offline-code",
            json=person,
            headers={"Authorization": f"Bearer {counter_token}"},
        ).json()
    results = []
    with httpx.Client(base_url=urls["checkpoint"], timeout=30) as checkpoint:
        for _ in range(6):  # a fresh device session each round: each hashes to its own replica
            login = checkpoint.post(
                "/v1/auth/login",
                json={"username": "staff", "password": secrets["checkpoint_staff_password"]},
            )
            assert login.status_code == 200, login.text
            device = {"Authorization": f"Bearer {login.json()['access_token']}"}
            scanned = checkpoint.post("/v1/scan", json={"text": printed["qr_text"]}, headers=device)
            card = checkpoint.post("/v1/id-card", json=person, headers=device)
            assert scanned.status_code == card.status_code == 200, (scanned.text, card.text)
            results.append((scanned.json()["binding"]["result"], card.json()["binding"]["result"]))
    # Without the sticky balance about half of the card reads would land on the replica that
    # never saw the scan, and answer "waiting" instead of comparing.
    assert results == [("waiting", "match")] * 6, results


def test_the_balancer_restarted_by_the_operator_serves_again(
    replicated: tuple[Path, dict[str, Any]],
) -> None:
    """The supervisor's advice when HAProxy dies, `healthcode federation start balancer`,
    brings it back; it once crashed the supervisor and with it every service."""
    directory, urls = replicated
    before = _pids(directory)
    alive = {name: pid for name, pid in before.items() if _alive(pid) and name != "balancer"}
    os.kill(before["balancer"], signal.SIGKILL)
    done = subprocess.run(
        [*_CLI, "federation", "start", "balancer", "--dir", str(directory)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    after = _pids(directory)
    assert after["balancer"] != before["balancer"]
    assert _alive(after["balancer"])
    for name, pid in alive.items():  # nothing else was stopped or restarted
        assert after[name] == pid, name
        assert _alive(pid), name
    with httpx.Client(timeout=30) as http:
        # HAProxy takes a replica into rotation after its first passing check (1 s apart).
        for _ in range(120):
            answer = http.get(f"{urls['provinces']['cn-sc']}/readyz")
            if answer.status_code == 200:
                break
            threading.Event().wait(0.5)
        assert answer.status_code == 200, answer.text


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
