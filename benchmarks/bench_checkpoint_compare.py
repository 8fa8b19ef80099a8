"""The checkpoint scan path of this tree against an earlier commit, interleaved in one run.

On a shared VM whose speed drifts by ±20 % within a minute, two runs of bench_checkpoint.py
minutes apart cannot tell a 10 % change from the drift. Here both versions serve at once
(each one uvicorn worker pinned to core 0, idle while the other is loaded) and wrk loads them
in alternating rounds, so each pair of rounds sees the same moment of the machine.

    .venv/bin/python benchmarks/bench_checkpoint_compare.py --baseline HEAD~1 [--rounds 10]

The baseline is checked out with `git worktree` into a temporary folder (removed afterwards)
and run with this tree's virtualenv. Prints, per version, the median scans/s, server CPU per
scan and the worst round's p99, and the library's `verify_credential` rate measured on core 0
between rounds. Needs wrk (apt-get install wrk).
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
import time
from pathlib import Path
from typing import Any

import bench_checkpoint as bench

from healthcode import SigningKey, jwks_document
from verifiers.auth import Authenticator
from verifiers.scanlog import make_engine

ROOT = Path(__file__).resolve().parents[1]


def _start(source: Path, work: Path, name: str) -> tuple[subprocess.Popen[bytes], int, str]:
    """One checkpoint worker serving `source`'s code, pinned to core 0."""
    state = work / f"state-{name}"
    state.mkdir()
    (state / "revocations.json").write_text(
        json.dumps({"issuers": {"cn-sc": {"seq": 0, "as_of": time.time() + 3600, "revoked": {}}}})
    )
    database_url = f"sqlite:///{work / f'checkpoint-{name}.db'}"
    _, token = Authenticator(make_engine(database_url), b"x" * 32, 60).add_device("bench")
    port = bench._free_port()
    env = bench.server_environment(port, database_url, state, work / "cn-sc.jwks.json")
    env["PYTHONPATH"] = str(source)  # this version's packages ahead of the installed tree
    command = ["taskset", "-c", "0", sys.executable, "-m", "verifiers"]
    return subprocess.Popen(command, env=env, cwd=source), port, token


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--baseline", required=True, help="git commit or ref to compare with")
    parser.add_argument("--rounds", type=int, default=10, help="rounds per version")
    parser.add_argument("--duration", type=int, default=3, help="seconds of load per round")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections")
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None or shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        print("needs wrk (apt-get install wrk), taskset and two cores", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="hc-bench-compare-"))
    baseline = work / "baseline"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(baseline), args.baseline],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    key = SigningKey.generate()
    (work / "cn-sc.jwks.json").write_text(json.dumps(jwks_document([key.verifying_key])))
    tokens = bench._tokens(key, 20_000)
    bodies = work / "bodies.txt"
    bodies.write_text("".join(json.dumps({"text": token}) + "\n" for token in tokens))
    script = work / "scan.lua"
    script.write_text(bench.WRK_SCRIPT)
    versions = {f"baseline ({args.baseline})": baseline, "this tree": ROOT}
    servers = {
        name: _start(source, work, str(index))
        for index, (name, source) in enumerate(versions.items())
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
    library: list[float] = []
    try:
        os.sched_setaffinity(0, {1})  # the load generator's core
        for _, port, token in servers.values():
            bench._wait(port)
            url = f"http://127.0.0.1:{port}"
            bench._run_wrk(wrk, url, script, [token, str(bodies), "1"], args.connections, 2)
        names = list(servers)
        for round_index in range(args.rounds):
            os.sched_setaffinity(0, {0})
            library.append(bench._library_rate(key, tokens[:1000], work / "state-0"))
            os.sched_setaffinity(0, {1})
            # Alternate which version goes first, so neither always follows the library run.
            for name in names if round_index % 2 == 0 else names[::-1]:
                process, port, token = servers[name]
                before = bench._cpu_seconds(process.pid)
                result, _ = bench._run_wrk(
                    wrk,
                    f"http://127.0.0.1:{port}",
                    script,
                    [token, str(bodies), "1"],
                    args.connections,
                    args.duration,
                )
                scans = int(result["requests"])
                if result["failures"] or not scans:
                    raise RuntimeError(f"{name}: failed scans in round {round_index}: {result}")
                results[name].append(
                    {
                        "scans_per_s": scans / (result["duration_us"] / 1e6),
                        "cpu_us_per_scan": 1e6 * (bench._cpu_seconds(process.pid) - before) / scans,
                        "p99_ms": result["p99_us"] / 1000,
                    }
                )
                print(
                    f"round {round_index + 1}/{args.rounds} {name}: "
                    f"{results[name][-1]['scans_per_s']:.0f} scans/s",
                    file=sys.stderr,
                )
    finally:
        for process, _, _ in servers.values():
            process.terminate()
            process.wait(10)
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(baseline)], cwd=ROOT, check=False
        )
        shutil.rmtree(work, ignore_errors=True)

    report: dict[str, Any] = {"library_verify_per_s": round(statistics.median(library), 1)}
    for name, rounds in results.items():
        report[name] = {
            "scans_per_s": round(statistics.median(r["scans_per_s"] for r in rounds), 1),
            "cpu_us_per_scan": round(statistics.median(r["cpu_us_per_scan"] for r in rounds), 1),
            "p99_ms_worst": round(max(r["p99_ms"] for r in rounds), 2),
            "ratio": round(
                statistics.median(r["scans_per_s"] for r in rounds) / statistics.median(library), 3
            ),
        }
    print(json.dumps(report, ensure_ascii=False))
    old, new = (report[name] for name in names)
    print(
        f"this tree {new['scans_per_s']:.0f} scans/s at {new['cpu_us_per_scan']:.0f} us CPU per "
        f"scan, p99 <= {new['p99_ms_worst']:.1f} ms; baseline {old['scans_per_s']:.0f} scans/s "
        f"at {old['cpu_us_per_scan']:.0f} us, p99 <= {old['p99_ms_worst']:.1f} ms; "
        f"CPU per scan {new['cpu_us_per_scan'] / old['cpu_us_per_scan'] - 1:+.0%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
