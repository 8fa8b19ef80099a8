"""Every service's API documentation page (`/docs`, healthcode/server/docs.py) in headless
Chromium: Swagger UI, vendored in the package, draws the operations list from the service's
own `/openapi.json` and nothing is fetched from anywhere else: no CDN, no online validator, no
font service. No `/redoc` page is served.

The page is opened twice: at 127.0.0.1, and under a host name (`api-docs.test`, resolved to
loopback by Chromium's host rules) as a province's machines serve it, because Swagger UI
behaves differently for localhost (its online-validator badge, for one, hides there).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Playwright, Request, expect, sync_playwright

from offline.app import create_app as create_print_app
from offline.settings import OfflineSettings
from tests.browser import launch_chromium
from tests.interop.conftest import Registry, registry, registry_settings, root_dir
from tests.issuers.conftest import IssuerService, issuer
from tests.servers import AppServer, serve
from tests.verifiers.conftest import (
    RunningCheckpoint,
    bj,
    bj_key,
    checkpoint,
    make_settings,
    sc,
    sc_key,
    trust_store,
)

pytestmark = pytest.mark.browser
__all__ = [  # fixtures, from the services' own test folders
    "bj",
    "bj_key",
    "checkpoint",
    "issuer",
    "make_settings",
    "registry",
    "registry_settings",
    "root_dir",
    "sc",
    "sc_key",
    "trust_store",
]

#: A name that is not loopback to the page, though Chromium sends it to 127.0.0.1.
HOST_NAME = "api-docs.test"


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = launch_chromium(playwright, f"--host-resolver-rules=MAP {HOST_NAME} 127.0.0.1")
    yield browser
    browser.close()


@pytest.fixture
def print_service(tmp_path: Path) -> Iterator[AppServer]:
    """The offline-code print service (it calls its issuer only when asked to print)."""
    settings = OfflineSettings(audit_database_url=f"sqlite:///{tmp_path / 'print-audit.db'}")
    with serve(create_print_app(settings)) as server:
        yield server


def _port_of(running: IssuerService | RunningCheckpoint | Registry | AppServer) -> int:
    server = running.server if isinstance(running, Registry) else running
    return int(urlsplit(server.url).port or 0)


#: Each service that serves `/docs`, by the fixture that starts it, and a path its docs list.
SERVICES = {
    "issuer": ("issuer", "/v1/me/code"),
    "checkpoint": ("checkpoint", "/v1/scan"),
    "registry": ("registry", "/v1/trust-list"),
    "print": ("print_service", "/v1/print"),
}


@dataclass
class PageLog:
    """What a page did: every request it made, and every console error or uncaught exception."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def foreign(self, origin: str) -> list[str]:
        return [url for url in self.requests if not url.startswith(origin + "/")]


@contextlib.contextmanager
def recorded_page(browser: Browser) -> Iterator[tuple[Page, PageLog]]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    log = PageLog()

    def record_request(request: Request) -> None:
        log.requests.append(request.url)

    context.on("request", record_request)
    page = context.new_page()
    page.on(
        "console",
        lambda message: log.errors.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: log.errors.append(f"uncaught: {error}"))
    try:
        yield page, log
    finally:
        context.close()


@pytest.mark.parametrize("service", sorted(SERVICES))
@pytest.mark.parametrize("host", ["127.0.0.1", HOST_NAME])
def test_docs_page_draws_the_operations_from_the_service_alone(
    browser: Browser, request: pytest.FixtureRequest, service: str, host: str
) -> None:
    fixture, listed_path = SERVICES[service]
    origin = f"http://{host}:{_port_of(request.getfixturevalue(fixture))}"
    with recorded_page(browser) as (page, log):
        answer = page.goto(origin + "/docs")
        assert answer is not None
        assert answer.status == 200
        expect(page.locator(".opblock").first).to_be_visible()
        expect(page.locator(".opblock-summary-path", has_text=listed_path).first).to_be_visible()
        assert page.locator(".opblock").count() > 3
        # Everything Swagger UI draws is in: the title, the tags, the schemas.
        expect(page.locator(".info .title")).to_be_visible()
        expect(page.locator(".models, .json-schema-2020-12").first).to_be_attached()
        page.wait_for_load_state("networkidle")
        assert log.requests, "the recorder saw no request"
        assert log.foreign(origin) == []
        assert log.errors == []


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_no_redoc_page_is_served(
    browser: Browser, request: pytest.FixtureRequest, service: str
) -> None:
    fixture, _ = SERVICES[service]
    origin = f"http://127.0.0.1:{_port_of(request.getfixturevalue(fixture))}"
    with recorded_page(browser) as (page, log):
        answer = page.goto(origin + "/redoc")
        assert answer is not None
        assert answer.status == 404
        assert log.foreign(origin) == []
