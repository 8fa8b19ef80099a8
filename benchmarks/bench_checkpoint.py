"""Checkpoint scan endpoint under load vs the library's `verify_credential` rate.

One uvicorn worker process serves the checkpoint (pinned to core 0 when `taskset` exists); this
process generates load from core 1: httpx clients with keep-alive over a few concurrent
connections, each request a distinct token, bounded by count and by time. Every scan goes the
whole way: bearer device token, verification with revocation data, scan-log row in SQLite.

    .venv/bin/python benchmarks/bench_checkpoint.py [--requests 4000] [--connections 4]

Prints scans/s, p50, p99 and the ratio to the library's verify rate measured in the same run
(on the load core, before the load starts). Goals: ratio >= 0.5, p99 < 20 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from healthcode import CodeKind, SigningKey, StatusColour, encode_numeric, jwks_document
from healthcode.credential import new_credential
from healthcode.jws import sign_credential
from healthcode.trust import IssuerEntry, TrustedKey, TrustStore
from healthcode.verify import verify_credential
from verifiers.auth import Authenticator
from verifiers.revocations import RevocationCache
from verifiers.scanlog import make_engine

ROOT = Path(__file__).resolve().parents[1]
SUBJECT = "YmVuY2gtc3ViamVjdC1wc2V1ZG9ueW0"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tokens(key: SigningKey, count: int) -> list[str]:
    return [
        encode_numeric(
            sign_credential(
                new_credential(
                    issuer="cn-sc",
                    subject=SUBJECT,
                    status=StatusColour.GREEN,
                    masked_name="张*丰",
                    id_tail="123X",
                    kind=CodeKind.OFFLINE if i % 2 else CodeKind.PHONE,
                ),
                key,
            )
        )
        for i in range(count)
    ]


def _library_rate(key: SigningKey, tokens: list[str], state_dir: Path) -> float:
    """verify_credential per second over the same tokens, with the same revocation data."""
    trust = TrustStore(
        [
            IssuerEntry(
                id="cn-sc", name="Sichuan", region="510000", keys=(TrustedKey(key.verifying_key),)
            )
        ]
    )
    cache = RevocationCache(state_dir, max_age_s=900)
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for token in tokens:
            now = time.time()
            result = verify_credential(token, trust, now, revocations=cache.checker(now))
            assert result.valid, result.message
        best = max(best, len(tokens) / (time.perf_counter() - start))
    return best


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _client_ceiling(url: str, connections: int, count: int) -> float:
    """Requests/s this load generator reaches on a trivial endpoint (its own limit)."""
    lock = threading.Lock()
    remaining = iter(range(count))

    def worker() -> None:
        with httpx.Client(timeout=10) as client:
            while True:
                with lock:
                    if next(remaining, None) is None:
                        return
                client.get(url)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return count / (time.perf_counter() - start)


def _wait(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError("checkpoint did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="scans in the measured run")
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="stop after this long")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hc-bench-checkpoint-"))
    key = SigningKey.generate()
    (work / "cn-sc.jwks.json").write_text(json.dumps(jwks_document([key.verifying_key])))
    state = work / "state"
    state.mkdir()
    # Fresh revocation data as a sync would leave it (no issuer process in this benchmark).
    (state / "revocations.json").write_text(
        json.dumps({"issuers": {"cn-sc": {"seq": 0, "as_of": time.time() + 60, "revoked": {}}}})
    )
    database_url = f"sqlite:///{work / 'checkpoint.db'}"
    _, device_token = Authenticator(make_engine(database_url), b"x" * 32, 60).add_device("bench")

    warmup = 300
    tokens = _tokens(key, args.requests + warmup)
    pinned = shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    if pinned:
        os.sched_setaffinity(0, {1})
    library_rate = _library_rate(key, tokens[:2000], state)

    port = _free_port()
    env = {
        **os.environ,
        "HC_VERIFIER_DEMO_MODE": "true",
        "HC_VERIFIER_PORT": str(port),
        "HC_VERIFIER_LOG_LEVEL": "warning",
        "HC_VERIFIER_DATABASE_URL": database_url,
        "HC_VERIFIER_STATE_DIR": str(state),
        "HC_VERIFIER_BACKGROUND_TASKS": "false",
        "HC_VERIFIER_TRUST_JWKS": json.dumps({"cn-sc": str(work / "cn-sc.jwks.json")}),
        "HC_VERIFIER_TRUST_ISSUERS": json.dumps({"cn-sc": {"name": "四川省", "region": "510000"}}),
    }
    command = [sys.executable, "-m", "verifiers"]
    if pinned:
        command = ["taskset", "-c", "0", *command]
    server = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        _wait(port)
        url = f"http://127.0.0.1:{port}/v1/scan"
        headers = {"Authorization": f"Bearer {device_token}"}
        latencies: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()
        queue = iter(tokens)
        deadline = time.monotonic() + args.max_seconds

        def worker(record: bool) -> None:
            with httpx.Client(headers=headers, timeout=10) as client:
                while time.monotonic() < deadline:
                    with lock:
                        token = next(queue, None)
                    if token is None:
                        return
                    start = time.perf_counter()
                    response = client.post(url, json={"text": token})
                    elapsed = time.perf_counter() - start
                    body = response.json()
                    with lock:
                        if response.status_code != 200 or body.get("display") != "green":
                            failures.append(str(body.get("error")))
                        elif record:
                            latencies.append(elapsed)

        # Warm-up (not measured): connections, caches, first-request imports.
        queue = iter(tokens[:warmup])
        threads = [threading.Thread(target=worker, args=(False,)) for _ in range(args.connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        queue = iter(tokens[warmup:])
        threads = [threading.Thread(target=worker, args=(True,)) for _ in range(args.connections)]
        cpu_before = _cpu_seconds(server.pid)
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
        server_cpu = _cpu_seconds(server.pid) - cpu_before
        ceiling = _client_ceiling(f"http://127.0.0.1:{port}/healthz", args.connections, 2000)
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)

    latencies.sort()
    rate = len(latencies) / wall
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    capacity = len(latencies) / server_cpu if server_cpu > 0 else float("nan")
    report = {
        "scans": len(latencies),
        "failures": len(failures),
        "connections": args.connections,
        "pinned": pinned,
        "scans_per_s": round(rate, 1),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "library_verify_per_s": round(library_rate, 1),
        "ratio": round(rate / library_rate, 3),
        "server_cpu_s": round(server_cpu, 2),
        "server_scans_per_cpu_s": round(capacity, 1),
        "server_ratio": round(capacity / library_rate, 3),
        "client_ceiling_healthz_per_s": round(ceiling, 1),
    }
    print(json.dumps(report))
    print(
        f"checkpoint scans/s {rate:.0f}  p50 {p50:.2f} ms  p99 {p99:.2f} ms  "
        f"library verify/s {library_rate:.0f}  ratio {rate / library_rate:.2f} "
        f"(goal >= 0.5; p99 goal < 20 ms)"
    )
    print(
        f"server CPU per scan {server_cpu / len(latencies) * 1e6:.0f} us = "
        f"{capacity:.0f} scans per CPU-second (ratio {capacity / library_rate:.2f}); "
        f"the same load generator reaches {ceiling:.0f} req/s on GET /healthz"
    )
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
