"""The citizen app's page weight and time to first code, on a throttled phone network.

A province's issuer (SQLite, no Redis) serves the app on a loopback port; headless Chromium at
390×844 opens it logged in (a citizen session put in localStorage, as after an OTP login) under
Chromium's network emulation (CDP `Network.emulateNetworkConditions`), in three states:

- **cold**: a new browser profile: no HTTP cache, no service worker, no cached code;
- **warm**: the same profile opened again: the service worker answers the app's files from its
  cache and the last code is in localStorage;
- each on the profiles below, with the unthrottled run as the in-run reference.

Profiles: Chrome DevTools' presets `slow-3g` = 2,000 ms latency, 50,000 B/s down and up
("Slow 3G"/"3G": 400 ms RTT × 5, 500 kbit/s × 0.8) and `fast-3g` = 562.5 ms, 180,000 B/s down,
84,375 B/s up (150 ms × 3.75, 1.6 Mbit/s × 0.9 down, 750 kbit/s × 0.9 up); and
`3g-slow-rtt400`, the same bandwidth as `slow-3g` with a 400 ms round trip (WebPageTest's
"3G Slow"). Chromium adds the emulated latency to every request, also on a reused connection,
so `slow-3g` charges 2 s per round trip of requests: the pessimistic bound.

Times come from the page's own marks (`performance.mark`, from navigation start):
`hc-code-shown` when a valid code's QR is first drawn (from the phone's cache when warm) and
`hc-code-fresh` when a code fetched from the issuer is on screen. Bytes are CDP's
`encodedDataLength` of every response of the page (headers included, as transferred), until
the fresh code is shown; JS+CSS is the gzip size of the scripts and styles the page loaded.

    .venv/bin/python benchmarks/bench_citizen_app.py [--runs 3] [--json]

Goals (issue 15): first load <= 300 KB transferred including the CJK font subset, JS+CSS
<= 100 KB gzipped; on slow 3G the code is on screen within 3 s warm, 6 s cold.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright
from pydantic import SecretStr

from healthcode.idnumber import make_id_number, parse_id_number, pseudonymous_subject
from healthcode.server.redis_process import redis_server_command
from issuers.app import create_app
from issuers.auth import Principal, Role, open_session
from issuers.db import migrate
from issuers.models import Citizen
from issuers.settings import IssuerSettings
from issuers.store import register_citizen

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 390, "height": 844}
TOKEN_SECRET = "bench-token-secret-0123456789abcdef"
PROFILES: dict[str, dict[str, float] | None] = {
    "none": None,
    "fast-3g": {"latency": 562.5, "downloadThroughput": 180_000, "uploadThroughput": 84_375},
    "slow-3g": {"latency": 2000, "downloadThroughput": 50_000, "uploadThroughput": 50_000},
    "3g-slow-rtt400": {"latency": 400, "downloadThroughput": 50_000, "uploadThroughput": 50_000},
}
WEB = Path(__file__).resolve().parents[1] / "issuers" / "web"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Province:
    """An issuer on a free loopback port (with its own redis-server) with one registered
    citizen and an open session."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed (scripts/test installs it)")
        redis_port = _free_port()
        self.redis = subprocess.Popen(
            redis_server_command(binary, redis_port, directory),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", redis_port)):
                break
            time.sleep(0.05)
        self.settings = IssuerSettings(
            database_url=f"sqlite:///{directory / 'issuer.db'}",
            redis_url=f"redis://127.0.0.1:{redis_port}/0",
            key_dir=directory / "keys",
            token_secret=SecretStr(TOKEN_SECRET),
            subject_secret=SecretStr("bench-subject-secret-0123456789abcdef"),
            trust_cache_dir=directory / "trust",
        )
        migrate(self.settings.database_url)
        app = create_app(self.settings)
        self.port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        context = app.state.context
        id_number = make_id_number("510104", date(1980, 5, 17), 7)
        subject = pseudonymous_subject(parse_id_number(id_number), self.settings.subject_key)
        with context.session() as session:
            if session.get(Citizen, subject) is None:
                register_citizen(
                    context,
                    session,
                    id_number=id_number,
                    name="李健康",
                    phone="13800138000",
                    actor="bench",
                )
            self.token = open_session(
                session, Principal(Role.CITIZEN, subject), TOKEN_SECRET.encode(), 3600
            )
            session.commit()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.redis.terminate()
        self.redis.wait(10)


def _session_script(token: str) -> str:
    session = {"token": token, "expiresAt": int(time.time() * 1000) + 3_600_000}
    return f"localStorage.setItem('hc.session', {json.dumps(json.dumps(session))});"


def _open(page: Page, url: str, conditions: dict[str, float] | None) -> dict[str, Any]:
    """Open the app once; returns the marks (ms) and the bytes its responses took."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    if conditions is not None:
        cdp.send("Network.emulateNetworkConditions", {"offline": False, **conditions})
    transferred: dict[str, int] = {}
    urls: dict[str, str] = {}
    cdp.on(
        "Network.responseReceived", lambda e: urls.__setitem__(e["requestId"], e["response"]["url"])
    )
    cdp.on(
        "Network.loadingFinished",
        lambda e: transferred.__setitem__(e["requestId"], int(e["encodedDataLength"])),
    )
    page.goto(url + "/", wait_until="commit")
    page.wait_for_function(
        "() => performance.getEntriesByName('hc-code-fresh').length > 0", timeout=120_000
    )
    marks = page.evaluate(
        """['hc-code-shown', 'hc-code-fresh'].map(
            n => (performance.getEntriesByName(n)[0] || {}).startTime ?? null)"""
    )
    loaded = [urls.get(request, "") for request in transferred]
    cdp.detach()
    return {
        "shown_ms": marks[0],
        "fresh_ms": marks[1],
        "bytes": sum(transferred.values()),
        "requests": len(transferred),
        "files": sorted({u.split("127.0.0.1", 1)[-1].split(":", 1)[-1] for u in loaded}),
    }


def measure(browser: Browser, province: Province, profile: str) -> dict[str, Any]:
    """One cold and one warm opening of the app on `profile`."""
    context = browser.new_context(viewport=PHONE, locale="zh-CN", service_workers="allow")
    context.add_init_script(_session_script(province.token))
    try:
        page = context.new_page()
        cold = _open(page, province.url, PROFILES[profile])
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=30_000)
        page.close()
        warm = _open(context.new_page(), province.url, PROFILES[profile])
        return {"cold": cold, "warm": warm}
    finally:
        context.close()


def js_css_gzip_bytes(files: list[str]) -> int:
    """The gzip -9 size of the scripts and styles among `files` (URL paths of the app)."""
    total = 0
    for path in files:
        name = path.split("/", 1)[-1] if "/" in path else path
        local = WEB / name.split("?", 1)[0]
        if local.suffix in {".js", ".mjs", ".css"} and local.is_file():
            total += len(gzip.compress(local.read_bytes(), compresslevel=9))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds per profile (median shown)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in PROFILES}
    with tempfile.TemporaryDirectory(prefix="hc-bench-app-") as tmp, sync_playwright() as pw:
        province = Province(Path(tmp))
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for _ in range(args.runs):  # interleaved, so load drifts hit every profile alike
                for name in PROFILES:
                    results[name].append(measure(browser, province, name))
        finally:
            browser.close()
            province.stop()
    report = summarise(results)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print_report(report)


def summarise(results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for name, runs in results.items():
        entry: dict[str, Any] = {}
        for state in ("cold", "warm"):
            entry[state] = {
                key: statistics.median(run[state][key] for run in runs)
                for key in ("shown_ms", "fresh_ms", "bytes", "requests")
            }
            # The spread of the rounds, not only their median: the machine may be shared.
            fresh = [run[state]["fresh_ms"] for run in runs]
            entry[state]["fresh_ms_min"] = min(fresh)
            entry[state]["fresh_ms_max"] = max(fresh)
        report[name] = entry
    first = results["none"][0]["cold"]["files"]
    report["files_first_load"] = first
    report["js_css_gzip_bytes"] = js_css_gzip_bytes(first)
    reference = report["none"]
    for name in PROFILES:
        if name == "none":
            continue
        for state in ("cold", "warm"):
            base = reference[state]["fresh_ms"] or 1
            report[name][state]["fresh_vs_unthrottled"] = report[name][state]["fresh_ms"] / base
    return report


def print_report(report: dict[str, Any]) -> None:
    print(
        f"first load: {report['none']['cold']['bytes'] / 1000:.1f} KB transferred in "
        f"{report['none']['cold']['requests']:.0f} responses until the fresh code is shown; "
        f"JS+CSS {report['js_css_gzip_bytes'] / 1000:.1f} KB gzipped"
    )
    print(
        f"{'profile':<14} {'state':<5} {'code shown':>11} {'fresh code':>11} "
        f"{'fresh min-max':>14} {'KB':>7} {'x ref':>6}"
    )
    for name in PROFILES:
        for state in ("cold", "warm"):
            row = report[name][state]
            ratio = row.get("fresh_vs_unthrottled")
            times = f"{row['shown_ms'] / 1000:>10.2f}s {row['fresh_ms'] / 1000:>10.2f}s"
            spread = f"{row['fresh_ms_min'] / 1000:.2f}-{row['fresh_ms_max'] / 1000:.2f}s"
            times = f"{times} {spread:>14}"
            shown = "" if ratio is None else f"{ratio:6.1f}"
            print(f"{name:<14} {state:<5} {times} {row['bytes'] / 1000:>7.1f} {shown}")
    print("goals on slow-3g: code on screen <= 3 s warm, <= 6 s cold", file=sys.stderr)


if __name__ == "__main__":
    main()
