"""`healthcode checkpoint serve` over HTTPS with a certificate from `make-cert` (loopback)."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from healthcode.cli import main
from tests.servers import free_port, wait_for_port


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    assert main(["checkpoint", "make-cert", "127.0.0.1", "localhost", "--out", str(tmp_path)]) == 0
    return tmp_path / "checkpoint.crt", tmp_path / "checkpoint.key"


@pytest.fixture
def https_checkpoint(tmp_path: Path, certificate: tuple[Path, Path]) -> Iterator[str]:
    cert, key = certificate
    port = free_port()
    env = {
        **os.environ,
        "HC_VERIFIER_DEMO_MODE": "true",
        "HC_VERIFIER_HOST": "127.0.0.1",
        "HC_VERIFIER_PORT": str(port),
        "HC_VERIFIER_DATABASE_URL": f"sqlite:///{tmp_path / 'checkpoint.db'}",
        "HC_VERIFIER_STATE_DIR": str(tmp_path / "state"),
        "HC_VERIFIER_BACKGROUND_TASKS": "false",
        "HC_VERIFIER_LOG_LEVEL": "warning",
    }
    command = [sys.executable, "-m", "healthcode.cli", "checkpoint", "serve"]
    process = subprocess.Popen([*command, "--certfile", str(cert), "--keyfile", str(key)], env=env)
    try:
        wait_for_port(port, timeout=60)
        yield f"https://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_make_cert_names_the_hosts_and_keeps_the_key_private(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    parsed = x509.load_pem_x509_certificate(cert.read_bytes())
    names = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert key.stat().st_mode & 0o077 == 0
    assert main(["checkpoint", "make-cert", "--out", str(cert.parent), "x", "--days", "900"]) == 2


def test_serve_answers_https_on_loopback(
    https_checkpoint: str, certificate: tuple[Path, Path]
) -> None:
    cert, _ = certificate
    with httpx.Client(verify=ssl.create_default_context(cafile=str(cert)), timeout=30) as client:
        page = client.get(https_checkpoint + "/")
        assert page.status_code == 200
        assert "健康码核验" in page.text
        # A scan goes through the fast path inside uvicorn's protocol, under TLS too.
        refused = client.post(https_checkpoint + "/v1/scan", json={"text": "hc:/56"})
        assert (refused.status_code, refused.json()["error"]) == (401, "unauthenticated")
    # Plain HTTP to the TLS port gets no page.
    with pytest.raises(httpx.HTTPError):
        httpx.get(https_checkpoint.replace("https", "http") + "/", timeout=30).raise_for_status()
