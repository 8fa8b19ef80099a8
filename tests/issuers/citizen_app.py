"""Shared plumbing of the citizen app's browser tests (tests/issuers/test_citizen_app_*.py).

A real province (issuer on SQLite with a real redis-server) whose one-time codes go to a
loopback SMS gateway (`RecordingWebhook`), headless Chromium at the phone, tablet or desktop
viewport, and the checks a checkpoint makes: the QR read back from a screenshot with zxing-cpp
and verified against the province's JWKS and its revocations in Redis. The `province`,
`playwright` and `browser` fixtures are in conftest.py.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

from healthcode import verify_credential
from healthcode.credential import Credential
from healthcode.qr import decode_image
from healthcode.verify import VerificationResult
from issuers.revocation import RedisRevocationChecker
from offline.app import create_app as create_print_app
from offline.settings import OfflineSettings
from tests.browser import AXE_JS, VIEWPORTS, axe_violations
from tests.issuers.conftest import IssuerService, citizen_number, make_settings, running_issuer
from tests.issuers.helpers import RecordingWebhook
from tests.servers import free_port, serve

PHONE = "13800138000"
NAME = "李健康"
#: Generous: the page polls every 10 s; a loaded machine may take longer (no wall-clock bound
#: is asserted, this only stops a test that would otherwise hang).
CHANGE_TIMEOUT_MS = 60_000


@dataclass
class Province:
    """A running issuer, its SMS gateway and a resident with a phone."""

    issuer: IssuerService
    gateway: RecordingWebhook
    id_number: str = field(default_factory=lambda: citizen_number(701))
    phone: str = PHONE
    name: str = NAME

    @property
    def url(self) -> str:
        return self.issuer.url

    def last_otp(self, phone: str | None = None) -> str:
        wanted = phone or self.phone
        codes = [body["code"] for _, body in self.gateway.received if body["phone"] == wanted]
        assert codes, f"no one-time code was sent to {wanted}"
        return str(codes[-1])

    def checkpoint_verdict(self, qr_text: str) -> VerificationResult:
        """What a checkpoint decides now: signature by the province's published keys, and
        not revoked (the revocation set in Redis that checkpoints read)."""
        return self.checkpoint_verdict_at(qr_text, None)

    def checkpoint_accepts(self, qr_text: str) -> Credential:
        """Assert a checkpoint accepts `qr_text` now; returns the verified credential."""
        verdict = self.checkpoint_verdict(qr_text)
        assert verdict.valid, verdict
        assert verdict.credential is not None
        return verdict.credential

    def checkpoint_verdict_at(self, qr_text: str, now: float | None) -> VerificationResult:
        """What a checkpoint decides at `now` (epoch seconds; None: the clock)."""
        settings = self.issuer.settings
        assert settings.redis_url is not None
        client = redis.Redis.from_url(settings.redis_url)
        try:
            return verify_credential(
                qr_text, self.issuer.trust(), now, revocations=RedisRevocationChecker(client)
            )
        finally:
            client.close()


@contextlib.contextmanager
def running_province(
    tmp_path: Path, redis_url: str, *, port: int | None = None, **overrides: Any
) -> Iterator[Province]:
    gateway = RecordingWebhook()
    settings = make_settings(
        tmp_path,
        redis_url,
        otp_webhook_url=gateway.url,
        otp_resend_interval_s=0,
        **overrides,
    )
    with running_issuer(settings, port=port) as issuer:
        province = Province(issuer, gateway)
        issuer.register(province.id_number, province.name, province.phone)
        yield province


@contextlib.contextmanager
def province_with_printer(tmp_path: Path, redis_url: str) -> Iterator[Province]:
    """A province whose issuer forwards print requests to a real print service (offline/)."""
    port = free_port()
    print_settings = OfflineSettings(
        issuer_url=f"http://127.0.0.1:{port}",
        audit_database_url=f"sqlite:///{tmp_path / 'print-audit.db'}",
    )
    with (
        serve(create_print_app(print_settings)) as printer,
        running_province(tmp_path, redis_url, port=port, print_url=printer.url) as running,
    ):
        yield running


@contextlib.contextmanager
def phone_context(browser: Browser, locale: str = "zh-CN") -> Iterator[BrowserContext]:
    """A 390×844 touch phone (see `device_context`)."""
    with device_context(browser, "phone", locale) as context:
        yield context


@contextlib.contextmanager
def device_context(
    browser: Browser, viewport: str, locale: str = "zh-CN"
) -> Iterator[BrowserContext]:
    """A browser of one of the sizes in tests.browser.VIEWPORTS: phone and tablet are touch
    screens at twice the pixel density, the desktop a mouse at one. axe-core is added as an
    init script (the page's Content Security Policy allows no inline script but the page's own,
    by hash, and the test does not weaken it); any CSP violation the app itself causes fails the
    test when the context closes."""
    desktop = viewport == "desktop"
    context = browser.new_context(
        viewport=VIEWPORTS[viewport],
        locale=locale,
        device_scale_factor=1 if desktop else 2,
        has_touch=not desktop,
    )
    context.add_init_script(path=AXE_JS)
    violations: list[str] = []

    def watch(page: Page) -> None:
        page.on(
            "console",
            lambda message: (
                violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )

    context.on("page", watch)
    try:
        yield context
    finally:
        context.close()
    assert violations == [], violations


def log_in(page: Page, province: Province, phone: str | None = None) -> None:
    """Log in as a citizen would: phone, the code the SMS gateway received, submit."""
    phone = phone or province.phone
    page.goto(province.url + "/")
    page.fill("#phone", phone)
    page.click("#phone-form button[type=submit]")
    expect(page.locator("#otp-form")).to_be_visible()
    page.fill("#otp", wait_for_otp(page, province, phone))
    page.click("#otp-form button[type=submit]")
    expect(page.locator("#screen-code")).to_be_visible()


def wait_for_otp(page: Page, province: Province, phone: str) -> str:
    """The gateway receives the code from a background thread: wait for it."""
    for _ in range(200):
        if any(body["phone"] == phone for _, body in province.gateway.received):
            return province.last_otp(phone)
        page.wait_for_timeout(50)
    raise AssertionError(f"the SMS gateway received no code for {phone}")


def wait_for_colour(page: Page, colour: str, timeout_ms: int = CHANGE_TIMEOUT_MS) -> None:
    expect(page.locator("#code-frame")).to_have_attribute("data-colour", colour, timeout=timeout_ms)


def screenshot_qr_text(page: Page) -> str:
    """Screenshot the QR as drawn on the phone and decode it as a checkpoint camera would."""
    png = page.locator("#qr").screenshot()
    texts = decode_image(Image.open(io.BytesIO(png)).convert("RGB"))
    assert len(texts) == 1, texts
    return texts[0]


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    # The failing elements' markup, so a failure says what to fix.
    markup = [
        page.evaluate(
            "(t) => (document.querySelector(t) || {outerHTML: t}).outerHTML.slice(0, 300)", target
        )
        for violation in violations
        for target in violation["targets"]
    ]
    assert violations == [], (violations, markup)
