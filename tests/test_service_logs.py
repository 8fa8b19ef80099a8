"""Real service processes log cleanly: no "Logging error", no ID numbers or tokens, JSON lines.

Each service runs as `python -m <service>` with its access log on (level info), answers a few
requests carrying personal data (an ID number in a query, bearer tokens, signed codes), and is
stopped; its whole output is then searched. The checkpoint runs in both log formats: with
uvicorn's text access formatter every fast-path scan used to print a 37-line "Logging error".
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from healthcode import CodeKind, SigningKey, StatusColour, encode_numeric, jwks_document
from healthcode.credential import new_credential
from healthcode.idnumber import make_id_number
from healthcode.jws import sign_credential
from tests.servers import free_port, wait_for_port
from verifiers.auth import Authenticator
from verifiers.scanlog import make_engine

ID_NUMBER = make_id_number("510104", date(1975, 3, 8), 456)
FORBIDDEN = ("Logging error", "Traceback", ID_NUMBER)


@contextlib.contextmanager
def service_process(module: str, env: dict[str, str], port: int, out: Path) -> Iterator[str]:
    """`python -m module` with its output in `out`; stopped (SIGTERM) on exit."""
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            env={**os.environ, **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=out.parent,
        )
        try:
            wait_for_port(port, timeout=60)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def check_output(out: Path, secrets: list[str], log_format: str) -> list[str]:
    text = out.read_text(errors="replace")
    for needle in (*FORBIDDEN, *secrets):
        assert needle not in text, f"{needle[:20]!r} in the output of {out.name}:\n{text[-3000:]}"
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "the service printed nothing: is its log on?"
    if log_format == "json":
        for line in lines:
            entry = json.loads(line)
            assert entry["ts"].endswith("Z")
            assert entry["level"] in ("debug", "info", "warning", "error", "critical")
    return lines


def _ops(http: httpx.Client) -> None:
    assert http.get("/healthz").status_code == 200
    assert http.get("/readyz").status_code in (200, 503)
    metrics = http.get("/metrics")
    assert metrics.status_code == 200
    assert "hc_http_requests_total" in metrics.text


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_checkpoint_scans_log_cleanly(tmp_path: Path, log_format: str) -> None:
    key = SigningKey.generate()
    jwks = tmp_path / "cn-sc.jwks.json"
    jwks.write_text(json.dumps(jwks_document([key.verifying_key])))
    state = tmp_path / "state"
    state.mkdir()
    (state / "revocations.json").write_text(
        json.dumps({"issuers": {"cn-sc": {"seq": 0, "as_of": time.time() + 60, "revoked": {}}}})
    )
    database_url = f"sqlite:///{tmp_path / 'checkpoint.db'}"
    _, device = Authenticator(make_engine(database_url), b"x" * 32, 60).add_device("gate")
    code = encode_numeric(
        sign_credential(
            new_credential(
                issuer="cn-sc",
                subject="c3ViamVjdC1wc2V1ZG9ueW0",
                status=StatusColour.GREEN,
                masked_name="张*丰",
                id_tail="456X",
                kind=CodeKind.PHONE,
            ),
            key,
        )
    )
    port = free_port()
    env = {
        "HC_VERIFIER_DEMO_MODE": "true",
        "HC_VERIFIER_PORT": str(port),
        "HC_VERIFIER_LOG_LEVEL": "info",
        "HC_VERIFIER_LOG_FORMAT": log_format,
        "HC_VERIFIER_DATABASE_URL": database_url,
        "HC_VERIFIER_STATE_DIR": str(state),
        "HC_VERIFIER_BACKGROUND_TASKS": "false",
        "HC_VERIFIER_TRUST_JWKS": json.dumps({"cn-sc": str(jwks)}),
        "HC_VERIFIER_TRUST_ISSUERS": json.dumps({"cn-sc": {"name": "四川省", "region": "510000"}}),
    }
    out = tmp_path / "checkpoint.log"
    with (
        service_process("verifiers", env, port, out) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        headers = {"Authorization": f"Bearer {device}"}
        for _ in range(3):  # the fast path (a plain POST /v1/scan)
            answer = http.post("/v1/scan", json={"text": code}, headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.json()["display"] == "green"
        refused = http.post("/v1/scan", json={"text": ID_NUMBER}, headers=headers)
        assert refused.status_code in (200, 422)
        http.get(f"/v1/status?id_number={ID_NUMBER}", headers=headers)
        _ops(http)
        scans = http.get("/metrics").text
        assert 'hc_scans_total{result="green",service="checkpoint"} 3.0' in scans
    lines = check_output(out, [device, code], log_format)
    scan_lines = [line for line in lines if "/v1/scan" in line]
    assert len(scan_lines) >= 4, "the fast path's scans are not in the access log"


def test_issuer_logs_cleanly_in_json(tmp_path: Path, redis_url: str) -> None:
    from issuers.auth import Principal, Role, open_session
    from issuers.context import IssuerContext
    from issuers.db import migrate
    from issuers.store import register_citizen
    from tests.issuers.conftest import TEST_SUBJECT_SECRET, TEST_TOKEN_SECRET, make_settings

    settings = make_settings(tmp_path, redis_url)
    migrate(settings.database_url)
    context = IssuerContext.create(settings)
    try:
        with context.session() as session:
            citizen, _ = register_citizen(
                context, session, id_number=ID_NUMBER, name="张三丰", phone=None, actor="test"
            )
            principal = Principal(role=Role.CITIZEN, subject=citizen.subject)
            token = open_session(session, principal, TEST_TOKEN_SECRET.encode(), 600)
            session.commit()
    finally:
        context.close()
    port = free_port()
    shared = tmp_path / "prometheus"  # multi-process mode, as several workers would run
    shared.mkdir()
    env = {
        "PROMETHEUS_MULTIPROC_DIR": str(shared),
        "HC_ISSUER_PORT": str(port),
        "HC_ISSUER_LOG_LEVEL": "info",
        "HC_ISSUER_DATABASE_URL": settings.database_url,
        "HC_ISSUER_REDIS_URL": redis_url,
        "HC_ISSUER_KEY_DIR": str(settings.key_dir),
        "HC_ISSUER_TOKEN_SECRET": TEST_TOKEN_SECRET,
        "HC_ISSUER_SUBJECT_SECRET": TEST_SUBJECT_SECRET,
        "HC_ISSUER_TRUST_CACHE_DIR": str(tmp_path / "trust-cache"),
    }
    out = tmp_path / "issuer.log"
    with (
        service_process("issuers", env, port, out) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        headers = {"Authorization": f"Bearer {token}"}
        code = http.get("/v1/me/code", headers=headers)
        assert code.status_code == 200, code.text
        assert http.get("/v1/me/code", headers=headers).status_code == 200
        http.get(f"/v1/citizens/lookup?id_number={ID_NUMBER}", headers=headers)
        http.get("/v1/me", headers={"Authorization": f"Bearer {token}x"})
        _ops(http)
        metrics = http.get("/metrics").text
        assert 'route="/v1/me/code"' in metrics
        assert any(shared.iterdir()), "no multi-process metric files were written"
    lines = check_output(out, [token, code.json()["token"], code.json()["qr_text"]], "json")
    answered = [json.loads(line) for line in lines if '"/v1/me/code"' in line]
    assert answered, "no access line for the code reads"
    assert all(entry.get("request_id") for entry in answered)
