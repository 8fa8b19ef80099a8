"""`healthcode federation up` starts a working federation and stops it cleanly on SIGTERM."""

from __future__ import annotations

import json
import selectors
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from healthcode.trustlist import TrustListState, load_root


def _first_line(process: subprocess.Popen[bytes], timeout: float) -> bytes:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError("federation up printed nothing")
        return process.stdout.readline()


def _up_and_stop(demo: Path, errors: Path, stop_signal: int = signal.SIGTERM) -> dict[str, Any]:
    """Run `federation up`, check it, stop it with `stop_signal`; the URLs it printed."""
    with (
        errors.open("wb") as stderr,
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "healthcode.cli",
                "federation",
                "up",
                "--dir",
                str(demo),
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=stderr,
        ) as process,
    ):
        where = _check_running(process, demo, errors)
        children = json.loads((demo / "federation.json").read_text())["children"]
        assert set(children) == {
            "redis",
            "registry",
            "print-cn-sc",
            "print-cn-gd",
            "cn-sc",
            "cn-gd",
            "checkpoint",
        }
        process.send_signal(stop_signal)
        status = process.wait(60)
    assert status == 0, errors.read_text()
    for name, pid in children.items():  # every child stopped, none left behind
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), name
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{where['registry']}/healthz", timeout=1)
        except httpx.HTTPError:
            return where
        time.sleep(0.2)
    raise AssertionError("the registry still answers after the federation stopped")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_federation_up_serves_onboarded_provinces_and_stops_cleanly(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    first = _up_and_stop(demo, tmp_path / "stderr-1.txt")
    # A second `up` right after, on the same directory (same ports, some in TIME_WAIT), serves
    # the provinces where the registry lists them; Ctrl-C (SIGINT) stops every child.
    second = _up_and_stop(demo, tmp_path / "stderr-2.txt", signal.SIGINT)
    assert second == first


def _check_citizen_app(where: dict[str, Any], demo: Path) -> None:
    """The citizen app at the province's `/`, printing on, and a demo phone that logs in with
    the one-time code the demo shows."""
    app = where["citizen_app"]["cn-sc"]
    with httpx.Client(timeout=30) as http:
        page = http.get(app)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        config = http.get(f"{app}v1/app/config").json()
        assert config["demo_mode"] is True
        assert config["print"]["available"] is True
        assert http.get(f"{where['printers']['cn-sc']}/healthz").status_code == 200
        logins = json.loads((demo / "cn-sc" / "demo-logins.json").read_text())
        phone = next(c["phone"] for c in logins["citizens"] if c["colour"] == "green")
        sent = http.post(f"{app}v1/auth/otp/request", json={"phone": phone})
        if sent.status_code == 202 and "demo_code" in sent.json():  # not within resend interval
            verified = http.post(
                f"{app}v1/auth/otp/verify", json={"phone": phone, "code": sent.json()["demo_code"]}
            )
            assert verified.status_code == 200, verified.text


def _check_running(process: subprocess.Popen[bytes], demo: Path, errors: Path) -> dict[str, Any]:
    try:
        line = _first_line(process, timeout=240)
        assert line, errors.read_text()
        where = json.loads(line)
        assert set(where) == {
            *("registry", "provinces", "checkpoint", "citizen_app", "printers", "replicas")
        }
        assert where["replicas"] == 1
        assert set(where["provinces"]) == {"cn-sc", "cn-gd"}
        with httpx.Client(timeout=10) as http:
            state = TrustListState(load_root((demo / "registry/root/root-1.json").read_bytes()))
            state.update(http.get(f"{where['registry']}/v1/trust-list").content, datetime.now(UTC))
            trust = state.trust_store()
            assert {trust.issuers[i].region for i in ("cn-sc", "cn-gd")} == {"510000", "440000"}
            for issuer_id, url in where["provinces"].items():
                assert http.get(f"{url}/healthz").status_code == 200
                assert trust.issuers[issuer_id].endpoints["partner_api"] == f"{url}/partner/v1"
        assert (demo / "cn-sc" / "demo-logins.json").exists()
        _check_citizen_app(where, demo)
    except BaseException:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        raise
    result: dict[str, Any] = where
    return result
