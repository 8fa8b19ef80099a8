"""The SMS worker delivers one-time codes from a queue: one bad message or a failing gateway
costs that code only, never the worker (issuers/delivery.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from issuers.delivery import WebhookDelivery
from tests.issuers.helpers import RecordingWebhook

PHONE = "13700000333"


def webhook_delivery(gateway: RecordingWebhook, backoff_s: float) -> WebhookDelivery:
    return WebhookDelivery(
        gateway.url,
        issuer="cn-sc",
        issuer_name="四川省",
        token=None,
        timeout_s=5.0,
        lifetime_s=300,
        backoff_s=backoff_s,
    )


@pytest.fixture
def gateway() -> Iterator[RecordingWebhook]:
    server = RecordingWebhook()
    try:
        yield server
    finally:
        server.close()


def test_a_message_that_cannot_be_sent_does_not_stop_the_worker(
    gateway: RecordingWebhook, caplog: pytest.LogCaptureFixture
) -> None:
    delivery = webhook_delivery(gateway, backoff_s=0.01)
    expires_at = int(time.time()) + 300
    try:
        # A lone surrogate cannot be encoded as UTF-8 JSON: not an HTTP error of the gateway.
        delivery.send(PHONE, "11111\ud800", expires_at)
        delivery.send(PHONE, "222222", expires_at)
        (body,) = gateway.wait_for(1)
    finally:
        delivery.close()
    assert (body["phone"], body["code"]) == (PHONE, "222222")
    assert "UnicodeEncodeError" in caplog.text
    assert "11111" not in caplog.text  # the code itself is never logged


def test_the_worker_backs_off_while_the_gateway_fails_and_then_delivers() -> None:
    gateway = RecordingWebhook(fail_first=3)
    delivery = webhook_delivery(gateway, backoff_s=0.2)
    expires_at = int(time.time()) + 300
    try:
        for number in range(4):
            delivery.send(PHONE, f"{number:06d}", expires_at)
        (body,) = gateway.wait_for(1)
    finally:
        delivery.close()
        gateway.close()
    assert body["code"] == "000003"  # the first three were lost in the outage
    first, second, third, fourth = gateway.attempts
    # Each failure in a row doubles the wait before the next message.
    assert second - first >= 0.2
    assert third - second >= 0.4
    assert fourth - third >= 0.8


def test_a_code_that_expired_in_the_queue_is_not_sent(gateway: RecordingWebhook) -> None:
    delivery = webhook_delivery(gateway, backoff_s=0.01)
    try:
        delivery.send(PHONE, "333333", int(time.time()) - 1)
        delivery.send(PHONE, "444444", int(time.time()) + 300)
        (body,) = gateway.wait_for(1)
        time.sleep(0.2)
    finally:
        delivery.close()
    assert body["code"] == "444444"
    assert len(gateway.attempts) == 1


def test_closing_does_not_wait_out_a_back_off() -> None:
    # Measured against the back-off, not the machine: close() must return while the worker
    # still has most of a ten-minute back-off to wait (a loaded machine takes seconds, not
    # minutes; a close that waited it out would still be running).
    backoff_s = 600.0
    gateway = RecordingWebhook(fail_first=1)
    delivery = webhook_delivery(gateway, backoff_s=backoff_s)
    try:
        delivery.send(PHONE, "555555", int(time.time()) + 300)
        deadline = time.monotonic() + 120
        while not gateway.attempts and time.monotonic() < deadline:
            time.sleep(0.02)
        assert gateway.attempts  # the first attempt failed: the worker is in its back-off
        closer = threading.Thread(target=delivery.close)
        closer.start()
        closer.join(backoff_s / 2)
        assert not closer.is_alive()
    finally:
        gateway.close()
