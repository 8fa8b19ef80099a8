"""Delivering one-time login codes: an SMS gateway's webhook, or the console in demo mode.

`make_delivery(settings)` picks one: a webhook when `HC_ISSUER_OTP_WEBHOOK_URL` is set,
else the console when demo mode is on, else none (the OTP endpoint then answers
`upstream_unavailable`: a citizen cannot log in without a way to receive the code).

The webhook is called from a background thread, so a registered phone's answer takes as long as
an unknown one's (the endpoint does not reveal who is registered) and a slow gateway never
holds a request. The body is JSON: `{"phone", "code", "expires_at", "issuer", "text"}`, with
`Authorization: Bearer <HC_ISSUER_OTP_WEBHOOK_TOKEN>` when a token is set; any 2xx is success.
A failure is logged with the masked phone only, and the citizen asks for a new code.

The worker outlives every failure: an error with one message (the gateway's, or any other)
loses that code only. While the gateway keeps failing the worker waits between messages,
`backoff_s` doubled per failure in a row up to `MAX_BACKOFF_S`, and a code that expired
while queued is not sent at all.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from typing import Protocol

from healthcode.errors import ErrorCode, PeerError
from healthcode.fetch import KIB, PeerClient, ReadBounds
from issuers.settings import IssuerSettings

logger = logging.getLogger("issuers.delivery")

#: Codes waiting for the gateway; more are dropped (and logged) rather than held in memory.
MAX_QUEUED = 1000
#: The wait after a failed delivery, doubled per failure in a row up to `MAX_BACKOFF_S`: a
#: gateway that is down is not hammered, and codes still reach it soon after it recovers.
BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0


def mask_phone(phone: str) -> str:
    """The phone as logs show it: all but the last 4 digits starred."""
    return "*" * max(0, len(phone) - 4) + phone[-4:]


class CodeDelivery(Protocol):
    """Sends a login code to a phone; `send` must not block on the network."""

    def send(self, phone: str, code: str, expires_at: int) -> None: ...

    def close(self) -> None: ...


class ConsoleDelivery:
    """Demo only: there is no SMS gateway, so the code goes to the console and the log."""

    def send(self, phone: str, code: str, expires_at: int) -> None:
        message = f"[demo] one-time login code for phone {mask_phone(phone)}: {code}"
        print(message, flush=True)
        logger.warning(message)

    def close(self) -> None:
        pass


class WebhookDelivery:
    """POSTs each code to an SMS gateway from a worker thread."""

    def __init__(
        self,
        url: str,
        *,
        issuer: str,
        issuer_name: str,
        token: str | None,
        timeout_s: float,
        lifetime_s: int,
        backoff_s: float = BACKOFF_S,
    ) -> None:
        self.url = url
        self._issuer = issuer
        self._issuer_name = issuer_name
        self._lifetime_min = max(1, lifetime_s // 60)
        self._backoff_s = backoff_s
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = PeerClient(headers=headers)
        # The gateway's answer is not used beyond its status: a small bound, our timeout.
        self._bounds = ReadBounds(64 * KIB, timeout_s)
        self._queue: queue.Queue[tuple[str, str, int] | None] = queue.Queue(MAX_QUEUED)
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="otp-webhook", daemon=True)
        self._thread.start()

    def send(self, phone: str, code: str, expires_at: int) -> None:
        try:
            self._queue.put_nowait((phone, code, expires_at))
        except queue.Full:
            logger.warning("one-time code for %s dropped: the SMS queue is full", mask_phone(phone))

    def _run(self) -> None:
        failures = 0  # in a row
        while (item := self._queue.get()) is not None:
            if self._deliver(*item):
                failures = 0
                continue
            failures += 1
            if not self._closing.is_set():
                wait_s = min(MAX_BACKOFF_S, self._backoff_s * 2 ** (failures - 1))
                self._closing.wait(wait_s)  # close() ends the wait

    def _deliver(self, phone: str, code: str, expires_at: int) -> bool:
        """Send one code; False if that failed (logged). Never raises: the worker thread
        serves every later login, so nothing about one message may end it."""
        try:
            if expires_at <= time.time():
                # Waited out a gateway outage in the queue: the citizen has asked again.
                logger.warning(
                    "one-time code for %s not sent: it expired in the queue", mask_phone(phone)
                )
                return True
            text = (
                f"【{self._issuer_name}】您的登录验证码：{code}，{self._lifetime_min}分钟内有效。"
                f" Your login code: {code} (valid {self._lifetime_min} min)."
            )
            body = {
                "phone": phone,
                "code": code,
                "expires_at": expires_at,
                "issuer": self._issuer,
                "text": text,
            }
            response = self._http.post(self.url, self._bounds, json=body)
            if not response.ok:
                raise PeerError(ErrorCode.UPSTREAM_UNAVAILABLE, f"HTTP {response.status_code}")
        except PeerError as exc:
            logger.warning(
                "one-time code for %s not delivered: the SMS gateway failed (%s)",
                mask_phone(phone),
                exc.code.value,
            )
            return False
        except Exception as exc:
            # The type only, no message or traceback: either could hold the phone or code.
            logger.error(
                "one-time code for %s not delivered: unexpected %s",
                mask_phone(str(phone)),
                type(exc).__name__,
            )
            return False
        return True

    def close(self) -> None:
        self._closing.set()
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=5)
        self._thread.join(timeout=10)
        self._http.close()


def make_delivery(settings: IssuerSettings) -> CodeDelivery | None:
    """The configured delivery: webhook, else console in demo mode, else None."""
    if settings.otp_webhook_url:
        token = settings.otp_webhook_token
        return WebhookDelivery(
            settings.otp_webhook_url,
            issuer=settings.issuer_id,
            issuer_name=settings.issuer_name,
            token=None if token is None else token.get_secret_value(),
            timeout_s=settings.otp_webhook_timeout_s,
            lifetime_s=settings.otp_lifetime_s,
        )
    if settings.demo_mode:
        return ConsoleDelivery()
    return None
