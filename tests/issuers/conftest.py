"""Issuer service fixtures: a migrated database, a real redis-server, uvicorn on a free port."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from healthcode.idnumber import make_id_number, parse_id_number, pseudonymous_subject
from healthcode.trust import TrustStore
from issuers.app import create_app
from issuers.auth import Principal, Role, create_staff, open_session
from issuers.context import IssuerContext
from issuers.db import migrate
from issuers.rules import RuleSet, bundled_rules_path
from issuers.settings import IssuerSettings
from tests.servers import AppServer, free_port, postgres_schema, wait_for_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

    from tests.issuers.citizen_app import Province

TEST_TOKEN_SECRET = "test-token-secret-0123456789abcdef"
TEST_SUBJECT_SECRET = "test-issuer-subject-secret-0123456789"
STAFF_PASSWORD = "staff-password-123"


def citizen_number(sequence: int, division: str = "510104", born: date = date(1980, 5, 17)) -> str:
    return make_id_number(division, born, sequence)


def metric_sample(metrics: str, name: str, **labels: str) -> float:
    """The value of the first sample of `name` with these labels in a `/metrics` text (0 if
    there is none yet: a labelled counter appears once first incremented)."""
    for line in metrics.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@dataclass
class IssuerService:
    """A running issuer: its settings, context (for direct DB checks) and an HTTP client."""

    settings: IssuerSettings
    context: IssuerContext
    server: AppServer
    http: httpx.Client
    app_trust: Callable[[], TrustStore]

    @property
    def url(self) -> str:
        return self.server.url

    def subject(self, id_number: str) -> str:
        return pseudonymous_subject(parse_id_number(id_number), self.settings.subject_key)

    def citizen_headers(self, id_number: str) -> dict[str, str]:
        """A citizen's bearer token, as a phone login would open it (a session in the DB)."""
        with self.context.session() as session:
            token = open_session(
                session,
                Principal(role=Role.CITIZEN, subject=self.subject(id_number)),
                TEST_TOKEN_SECRET.encode(),
                600,
            )
            session.commit()
        return {"Authorization": f"Bearer {token}"}

    def staff_headers(self, role: Role, username: str | None = None) -> dict[str, str]:
        username = username or f"{role.value}-{uuid.uuid4().hex[:6]}"
        with self.context.session() as session:
            create_staff(session, username, STAFF_PASSWORD, role)
            session.commit()
        answer = self.http.post(
            "/v1/auth/login", json={"username": username, "password": STAFF_PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def register(self, id_number: str, name: str, phone: str | None = None) -> dict[str, Any]:
        headers = self.staff_headers(Role.COUNTER_STAFF)
        answer = self.http.post(
            "/v1/citizens",
            json={"id_number": id_number, "name": name, "phone": phone},
            headers=headers,
        )
        assert answer.status_code == 201, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def bind_at_counter(
        self, guardian: tuple[str, str], dependant: tuple[str, str], note: str = "ID cards checked"
    ) -> dict[str, Any]:
        """Counter staff bind an adult `dependant` to `guardian` (each: ID number, name), as an
        adult without an account of their own can only be bound."""
        answer = self.http.post(
            "/v1/counter/family",
            json={
                "guardian": {"id_number": guardian[0], "name": guardian[1]},
                "dependant": {"id_number": dependant[0], "name": dependant[1]},
                "note": note,
            },
            headers=self.staff_headers(Role.COUNTER_STAFF),
        )
        assert answer.status_code == 201, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def context_trust(self) -> TrustStore:
        """The trust store the app itself uses (the federation's, in multi-issuer tests)."""
        trust: TrustStore = self.app_trust()
        return trust

    def trust(self) -> TrustStore:
        jwks = self.http.get("/.well-known/jwks.json").json()
        return TrustStore.from_jwks([(self.settings.issuer_id, jwks)])


IssuerCli = Callable[..., "subprocess.CompletedProcess[str]"]


def issuer_cli(database_url: str, key_dir: Path) -> IssuerCli:
    """`python -m issuers ARGS` on a test's database and keys (no Redis), as an operator runs
    it; the returned function answers the finished process (exit code, stdout, stderr)."""
    env = {
        **os.environ,
        "HC_ISSUER_DATABASE_URL": database_url,
        "HC_ISSUER_REDIS_URL": "",
        "HC_ISSUER_KEY_DIR": str(key_dir),
        "HC_ISSUER_TOKEN_SECRET": TEST_TOKEN_SECRET,
        "HC_ISSUER_SUBJECT_SECRET": TEST_SUBJECT_SECRET,
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "issuers", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


def make_settings(tmp: Path, redis_url: str | None, **overrides: Any) -> IssuerSettings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp / 'issuer.db'}",
        "redis_url": redis_url,
        "key_dir": tmp / "keys",
        "token_secret": SecretStr(TEST_TOKEN_SECRET),
        "subject_secret": SecretStr(TEST_SUBJECT_SECRET),
        "trust_cache_dir": tmp / "trust-cache",
    }
    values.update(overrides)
    return IssuerSettings(**values)


class AccessLoggedServer(AppServer):
    """An `AppServer` whose uvicorn access log is on (the privacy test searches it)."""

    def __init__(self, app: FastAPI, port: int | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="info",
            access_log=True,
            # No logging config of uvicorn's own: its records reach the handlers a test adds.
            log_config=None,
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_for_port(self.port)


@contextlib.contextmanager
def running_issuer(
    settings: IssuerSettings,
    *,
    trust: Callable[[], TrustStore] | None = None,
    port: int | None = None,
    access_log: bool = False,
) -> Iterator[IssuerService]:
    migrate(settings.database_url)
    app = create_app(settings, trust=trust)
    server = (AccessLoggedServer if access_log else AppServer)(app, port=port)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            yield IssuerService(settings, app.state.context, server, http, app.state.trust)
    finally:
        server.stop()


@pytest.fixture
def issuer(tmp_path: Path, redis_url: str) -> Iterator[IssuerService]:
    """A cn-sc issuer on SQLite with a real Redis."""
    with running_issuer(make_settings(tmp_path, redis_url)) as service:
        yield service


#: Parametrize a test over both databases; `postgres` needs HC_TEST_POSTGRES_URL (always set by
#: scripts/test) and fails in CI without it, never skips there.
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'issuer.db'}"
        return
    base = request.getfixturevalue("postgres_database_url")
    with postgres_schema(base) as url:
        yield url


@pytest.fixture
def any_issuer(tmp_path: Path, redis_url: str, database_url: str) -> Iterator[IssuerService]:
    """A cn-sc issuer with a real Redis, once on SQLite and once on PostgreSQL."""
    with running_issuer(make_settings(tmp_path, redis_url, database_url=database_url)) as svc:
        yield svc


@pytest.fixture(scope="module")
def sichuan() -> RuleSet:
    """cn-sc's bundled status rules (the demo rule file)."""
    return RuleSet.load(bundled_rules_path("cn-sc"))


@pytest.fixture(scope="module")
def guangdong() -> RuleSet:
    """cn-gd's bundled status rules (the demo rule file)."""
    return RuleSet.load(bundled_rules_path("cn-gd"))


# The citizen app's browser tests (test_citizen_app_*.py; plumbing in citizen_app.py, which
# imports this module, hence the imports inside the fixtures).


@pytest.fixture
def province(tmp_path: Path, redis_url: str) -> Iterator[Province]:
    """A running province with a resident, whose one-time codes go to a loopback gateway."""
    from tests.issuers.citizen_app import running_province

    with running_province(tmp_path, redis_url) as running:
        yield running


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Chromium (tests/browser.py), one per test module."""
    from tests.browser import launch_chromium

    browser = launch_chromium(playwright)
    yield browser
    browser.close()
