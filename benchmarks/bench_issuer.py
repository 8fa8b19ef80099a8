"""The citizen hot path `GET /v1/me/code` under load vs `GET /healthz` on the same worker.

One uvicorn worker process (`python -m issuers serve`) is pinned to core 0 (`taskset`); wrk and
the benchmark's own redis-server run on core 1. 10,000 citizens are registered the way the
counter registers them (rules evaluated, audited), each with a logged-in session; wrk sends
`GET /v1/me/code` with their tokens in turn over keep-alive connections, checking every answer
is a 200 carrying a green code. Rounds alternate: `/healthz` (the framework's floor on the
same app, same moment of the shared machine), then `/v1/me/code`; each round's ratio is
printed, and the spread over rounds.

Before the measured rounds, one pass over all citizens runs cold (every code read from the
database, codes issued, caches filled) and is reported on its own: a citizen's app polls its
code, so the steady state is the warm path, but the cold figure is not hidden.

    .venv/bin/python benchmarks/bench_issuer.py [--postgres [URL]] [--duration 5] [--rounds 3]

`--postgres` uses HC_TEST_POSTGRES_URL (or the URL given), in a fresh schema dropped after.
Goals (issue 14): ratio >= 0.5 and p99 < 20 ms, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, insert, text

from healthcode.idnumber import make_id_number
from issuers.auth import Principal, Role, issue_access_token
from issuers.context import IssuerContext
from issuers.db import migrate
from issuers.models import AuthSession, Citizen
from issuers.settings import IssuerSettings
from issuers.store import parse_resident, register_citizen, subject_of

ROOT = Path(__file__).resolve().parents[1]
TOKEN_SECRET = "bench-token-secret-0123456789abcdef"
SUBJECT_SECRET = "bench-subject-secret-0123456789abcdef"
#: Redis shares the worker's core: on the generator's core, which wrk keeps busy, each reply waits
#: for a CPU time slice (milliseconds), which measures the scheduler, not the service.
REDIS_CORE = "0"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_checkpoint import WRK_DONE, WRK_SETUP, _cpu_seconds, _free_port, _run_wrk  # noqa: E402

# Each wrk thread starts at its own offset in the token file and cycles through it; an answer
# that is not a 200 with the expected marker in its body is a failure.
WRK_SCRIPT = (
    WRK_SETUP
    + r"""
failures = 0
local tokens, index, path, marker = {}, 0, "/", ""
function init(args)
  path, marker = args[1], args[2]
  for line in io.lines(args[3]) do tokens[#tokens + 1] = line end
  index = math.floor(#tokens * id / tonumber(args[4]))
end

function request()
  index = index % #tokens + 1
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. tokens[index]})
end

function response(status, _, body)
  if status ~= 200 or not string.find(body, marker, 1, true) then
    failures = failures + 1
  end
end

"""
    + WRK_DONE
)


@contextlib.contextmanager
def _database(postgres: str | None, work: Path) -> Iterator[str]:
    if postgres is None:
        yield f"sqlite:///{work / 'issuer.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(postgres)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in postgres else "?"
        yield f"{postgres}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@contextlib.contextmanager
def _redis(work: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is needed (apt-get install redis-server)")
    port = _free_port()
    command = ["taskset", "-c", REDIS_CORE, binary, "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no", "--dir", str(work)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def _environment(settings: IssuerSettings, port: int, work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HC_ISSUER_PORT": str(port),
        "HC_ISSUER_LOG_LEVEL": "warning",
        "HC_ISSUER_DATABASE_URL": settings.database_url,
        "HC_ISSUER_REDIS_URL": str(settings.redis_url),
        "HC_ISSUER_KEY_DIR": str(settings.key_dir),
        "HC_ISSUER_TOKEN_SECRET": TOKEN_SECRET,
        "HC_ISSUER_SUBJECT_SECRET": SUBJECT_SECRET,
        "HC_ISSUER_TRUST_CACHE_DIR": str(work / "trust-cache"),
    }


#: What registering a citizen without events decides, copied to the bulk-seeded ones.
_DECISION_FIELDS = (
    *("masked_name", "colour", "reason", "reason_zh", "reason_en", "rule_id"),
    *("rules_version", "status_until", "division_code", "name_hmac"),
)


def seed(settings: IssuerSettings, count: int) -> list[str]:
    """Register `count` green citizens and log each in; returns their access tokens.

    The first is registered as the counter does (rules evaluated, audited); the others get the
    same decision written directly (none has events, so the rules would decide the same), in
    bulk: seeding 10,000 one by one takes minutes and is not what is measured."""
    context = IssuerContext.create(settings)
    now = int(time.time())
    lifetime_s = 24 * 3600
    try:
        with context.session() as session:
            first, _ = register_citizen(
                context, session, id_number=_id_number(0), name="测试人", phone=None, actor="bench"
            )
            session.commit()
        decided = {name: getattr(first, name) for name in _DECISION_FIELDS}
        citizens = [first.subject] + [
            subject_of(context, parse_resident(_id_number(sequence)))
            for sequence in range(1, count)
        ]
        rows = [
            {**decided, "subject": subject, "id_tail": _id_number(i)[-4:], "updated_at": now}
            for i, subject in enumerate(citizens)
            if i
        ]
        sessions = [
            {
                "id": secrets.token_urlsafe(16),
                "principal": f"citizen:{subject}",
                "role": Role.CITIZEN.value,
                "created_at": now,
                "expires_at": now + lifetime_s,
            }
            for subject in citizens
        ]
        with context.engine.begin() as connection:
            if rows:
                connection.execute(insert(Citizen.__table__), rows)  # type: ignore[attr-defined]
            connection.execute(insert(AuthSession.__table__), sessions)  # type: ignore[attr-defined]
    finally:
        context.close()
    secret = TOKEN_SECRET.encode()
    return [
        issue_access_token(
            Principal(role=Role.CITIZEN, subject=subject, session_id=str(row["id"])),
            secret,
            lifetime_s,
            now=now,
        )
        for subject, row in zip(citizens, sessions, strict=True)
    ]


def _id_number(sequence: int) -> str:
    # Distinct (birth date, sequence) pairs: 10,000 citizens over 1,000 sequences x 10 days.
    return make_id_number("510104", date(1980, 1, 1 + sequence // 1000), sequence % 1000)


def _wait(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the issuer exited at start-up")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError("the issuer did not start")


def _round(
    wrk: str, port: int, work: Path, path: str, marker: str, tokens: Path, args: argparse.Namespace
) -> dict[str, Any]:
    script = work / "load.lua"
    script.write_text(WRK_SCRIPT)
    url = f"http://127.0.0.1:{port}"
    lua = [path, marker, str(tokens), str(args.threads)]
    command_wrk = wrk
    result, client_cpu = _run_wrk(command_wrk, url, script, lua, args.connections, args.duration)
    wall_s = result["duration_us"] / 1e6
    return {
        "per_s": result["requests"] / wall_s,
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "failures": result["failures"] + result["socket_errors"] + result["timeouts"],
        "requests": result["requests"],
        "client_cpu_s": client_cpu,
    }


def _cold_pass(port: int, tokens: list[str]) -> dict[str, float]:
    """Every citizen's first read, 8 clients at a time (httpx; not the steady state)."""
    from concurrent.futures import ThreadPoolExecutor

    def read(chunk: list[str]) -> int:
        bad = 0
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for token in chunk:
                answer = client.get("/v1/me/code", headers={"Authorization": f"Bearer {token}"})
                bad += answer.status_code != 200 or answer.json().get("status") != "green"
        return bad

    chunks = [tokens[i::8] for i in range(8)]
    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        failures = sum(pool.map(read, chunks))
    elapsed = time.perf_counter() - start
    return {"per_s": round(len(tokens) / elapsed, 1), "failures": failures}


def _profiler(output: Path | None, pid: int) -> subprocess.Popen[bytes] | None:
    """py-spy (PyPI) sampling the server on core 1 until interrupted."""
    if output is None:
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [
        "taskset",
        "-c",
        "1",
        spy,
        "record",
        "-p",
        str(pid),
        "-o",
        str(output),
        "-f",
        "raw",
        "--gil",
    ]
    return subprocess.Popen([*command, "-r", "200", "--nonblocking"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", nargs="?", const="", default=None, help="PostgreSQL URL")
    parser.add_argument("--citizens", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk round")
    parser.add_argument("--rounds", type=int, default=3, help="healthz/code round pairs")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (on core 1)")
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy flame graph of the first code round"
    )
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is needed (apt-get install wrk)")
    postgres = args.postgres
    if postgres == "":
        postgres = os.environ.get("HC_TEST_POSTGRES_URL") or None
        if postgres is None:
            raise SystemExit("--postgres needs a URL or HC_TEST_POSTGRES_URL")
    with tempfile.TemporaryDirectory(prefix="hc-bench-issuer-") as directory:
        work = Path(directory)
        with _database(postgres, work) as database_url, _redis(work) as redis_url:
            settings = IssuerSettings(
                database_url=database_url,
                redis_url=redis_url,
                key_dir=work / "keys",
                token_secret=TOKEN_SECRET,  # type: ignore[arg-type]
                subject_secret=SUBJECT_SECRET,  # type: ignore[arg-type]
                trust_cache_dir=work / "trust-cache",
            )
            migrate(database_url)
            started = time.perf_counter()
            tokens = seed(settings, args.citizens)
            seeded_s = time.perf_counter() - started
            token_file = work / "tokens.txt"
            token_file.write_text("\n".join(tokens) + "\n")
            port = _free_port()
            command = ["taskset", "-c", "0", sys.executable, "-m", "issuers", "serve"]
            server = subprocess.Popen(command, env=_environment(settings, port, work), cwd=work)
            try:
                _wait(port, server)
                cold = _cold_pass(port, tokens)
                rounds = []
                for _ in range(args.rounds):
                    cpu = _cpu_seconds(server.pid)
                    floor = _round(wrk, port, work, "/healthz", '"ok"', token_file, args)
                    floor_cpu = _cpu_seconds(server.pid) - cpu
                    spy = _profiler(args.profile, server.pid) if not rounds else None
                    cpu = _cpu_seconds(server.pid)
                    code = _round(
                        wrk, port, work, "/v1/me/code", '"status":"green"', token_file, args
                    )
                    code_cpu = _cpu_seconds(server.pid) - cpu
                    if spy is not None:
                        spy.send_signal(2)
                        spy.wait(60)
                    rounds.append(
                        {
                            "healthz_per_s": round(floor["per_s"], 1),
                            "code_per_s": round(code["per_s"], 1),
                            "ratio": round(code["per_s"] / floor["per_s"], 3),
                            "code_p50_ms": round(code["p50_ms"], 2),
                            "code_p99_ms": round(code["p99_ms"], 2),
                            "healthz_p99_ms": round(floor["p99_ms"], 2),
                            "failures": code["failures"] + floor["failures"],
                            "server_cpu_us_per_code": round(
                                code_cpu / max(code["requests"], 1) * 1e6, 1
                            ),
                            "server_cpu_us_per_healthz": round(
                                floor_cpu / max(floor["requests"], 1) * 1e6, 1
                            ),
                        }
                    )
            finally:
                server.terminate()
                server.wait(30)
    ratios = [r["ratio"] for r in rounds]
    worst_p99 = max(r["code_p99_ms"] for r in rounds)
    failures = sum(r["failures"] for r in rounds) + cold["failures"]
    summary = {
        "database": "postgresql" if postgres else "sqlite",
        "citizens": args.citizens,
        "seeded_s": round(seeded_s, 1),
        "cold_pass": cold,
        "rounds": rounds,
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "code_p99_ms_worst": worst_p99,
        "failures": failures,
        "goal": "ratio >= 0.5 and p99 < 20 ms",
        "goal_met": statistics.median(ratios) >= 0.5 and worst_p99 < 20 and failures == 0,
    }
    print(json.dumps(summary, indent=2))
    print(
        f"/v1/me/code vs /healthz on one worker ({summary['database']}): ratio "
        f"{summary['ratio_median']:.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f}), "
        f"worst p99 {worst_p99:.1f} ms, failures {failures}"
    )
    return 0 if summary["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
