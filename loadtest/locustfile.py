"""Locust users of a peak test: checkpoints scanning, ID-card reads, citizens, partner regions.

Run by `python -m loadtest run` (headless, with a time limit); it can also be given to Locust
directly: `HC_LOADTEST_PLAN=plan.json locust -f loadtest/locustfile.py`. Settings come from
the environment:

- `HC_LOADTEST_PLAN`: the plan file (`loadtest.plan`), required;
- `HC_LOADTEST_THINK_S`: mean seconds between two actions of one simulated user (default 1;
  each wait is drawn between half and one and a half times it);
- `HC_LOADTEST_PARTNER_RATE`: calls per second of all partner users together (default 2; the
  partner API allows 600 a minute per partner by default, standard §10.5).

Every answer is checked, not only its status: a scan or an ID-card read must show the colour
the plan expects, a citizen's code must be an `hc:/` code, a partner look-up must return a
credential. Request names are fixed strings (the report groups by them) and failure messages
say what was wrong without quoting what was sent, so no ID number reaches Locust's output.
"""

from __future__ import annotations

import itertools
import os
import random
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import jwt
from locust import FastHttpUser, between, constant_throughput, task

from healthcode.keys import SigningKey
from loadtest.plan import ExpectedAnswer, LoadPlan, ProvinceTarget
from loadtest.requests import (
    CITIZEN_CODE,
    CITIZEN_CODE_PNG,
    CITIZEN_PROFILE,
    ID_CARD,
    LOGIN,
    LOGIN_CODE,
    PARTNER_REVOCATIONS,
    PARTNER_STATUS,
    SCAN,
)

_T = TypeVar("_T")


def _plan() -> LoadPlan:
    path = os.environ.get("HC_LOADTEST_PLAN")
    if not path:
        raise SystemExit("set HC_LOADTEST_PLAN to a plan file (python -m loadtest prepare)")
    return LoadPlan.load(Path(path))


PLAN = _plan()
THINK_S = float(os.environ.get("HC_LOADTEST_THINK_S", "1"))
PARTNER_RATE = float(os.environ.get("HC_LOADTEST_PARTNER_RATE", "2"))
LOGIN_RATE = float(os.environ.get("HC_LOADTEST_LOGIN_RATE", "2"))


def _cycle(items: tuple[_T, ...]) -> Iterator[_T]:
    """The items in turn from a random start, so users do not all send the same one."""
    start = random.randrange(len(items))
    return itertools.cycle(items[start:] + items[:start])


#: The gates' sessions, handed to simulated gates in turn.
_GATE_TOKENS = itertools.cycle(PLAN.checkpoint.scan_tokens())


def _answer(response: Any) -> dict[str, Any] | None:
    """The 200 answer's JSON object, or None with the request marked failed. An exception
    here would escape Locust's accounting: the request would count neither way."""
    if response.status_code != 200:
        response.failure(f"HTTP {response.status_code}")
        return None
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        response.failure("the answer is not a JSON object")
        return None
    return data


def _check_display(response: Any, expected: ExpectedAnswer) -> None:
    answer = _answer(response)
    if answer is not None and answer.get("display") != expected.display:
        response.failure(f"shown {answer.get('display')}, expected {expected.display}")


class _CheckpointUser(FastHttpUser):
    """A checkpoint device: each request must show the colour the plan expects."""

    abstract = True
    host = PLAN.checkpoint.url
    wait_time = between(THINK_S / 2, THINK_S * 1.5)

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Bearer {PLAN.checkpoint.token}"}

    def _check(self, path: str, body: dict[str, Any], expected: ExpectedAnswer, name: str) -> None:
        with self.client.post(
            path, json=body, headers=self.headers, name=name, catch_response=True
        ) as response:
            _check_display(response, expected)


class CheckpointScanner(_CheckpointUser):
    """A checkpoint gate: scans phone and printed codes."""

    weight = 4

    def on_start(self) -> None:
        super().on_start()
        # Each gate is a device with a session of its own, as at a real peak.
        self.headers = {"Authorization": f"Bearer {next(_GATE_TOKENS)}"}
        self.scans = _cycle(PLAN.checkpoint.scans)

    @task
    def scan(self) -> None:
        expected = next(self.scans)
        self._check("/v1/scan", {"text": expected.text}, expected, SCAN)


if PLAN.checkpoint.id_cards:

    class IdCardReader(_CheckpointUser):
        """A checkpoint reading ID cards (travellers of every province)."""

        weight = 1

        def on_start(self) -> None:
            super().on_start()
            # A session of their own: a session's code and card reads are paired (scan+tap).
            token = PLAN.checkpoint.id_card_token or PLAN.checkpoint.token
            self.headers = {"Authorization": f"Bearer {token}"}
            self.cards = _cycle(PLAN.checkpoint.id_cards)

        @task
        def read(self) -> None:
            expected = next(self.cards)
            assert expected.person is not None
            body = {"id_number": expected.person.id_number, "name": expected.person.name}
            self._check("/v1/id-card", body, expected, ID_CARD)


class _Citizen(FastHttpUser):
    """A citizen's phone: opens the code (mostly), its image, the profile."""

    abstract = True
    province: ProvinceTarget
    wait_time = between(THINK_S / 2, THINK_S * 1.5)

    def on_start(self) -> None:
        token = random.choice(self.province.citizen_tokens)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.image_etag: str | None = None

    @task(8)
    def code(self) -> None:
        with self.client.get(
            "/v1/me/code", headers=self.headers, name=CITIZEN_CODE, catch_response=True
        ) as response:
            answer = _answer(response)
            if answer is not None and not str(answer.get("qr_text", "")).startswith("hc:/"):
                response.failure("the answer holds no hc:/ code")

    @task(2)
    def code_image(self) -> None:
        headers = dict(self.headers)
        if self.image_etag:
            headers["If-None-Match"] = self.image_etag  # as the citizen page does
        with self.client.get(
            "/v1/me/code.png", headers=headers, name=CITIZEN_CODE_PNG, catch_response=True
        ) as response:
            if response.status_code == 200 and response.content[:8] == b"\x89PNG\r\n\x1a\n":
                self.image_etag = response.headers.get("etag")
            elif response.status_code != 304:
                response.failure(f"HTTP {response.status_code}, not a PNG")

    @task(1)
    def profile(self) -> None:
        with self.client.get(
            "/v1/me", headers=self.headers, name=CITIZEN_PROFILE, catch_response=True
        ) as response:
            answer = _answer(response)
            if answer is not None and "colour" not in answer:
                response.failure("the profile holds no colour")


# One citizen class per province with citizens (Locust gives each class its own host).
for _province in PLAN.provinces:
    if _province.citizen_tokens:
        _name = "Citizen_" + "".join(c if c.isalnum() else "_" for c in _province.id)
        globals()[_name] = type(
            _name,
            (_Citizen,),
            {"abstract": False, "weight": 6, "host": _province.url, "province": _province},
        )


class _Login(FastHttpUser):
    """A login peak at one province: phones asking for a one-time code, then logging in.

    Each phone sends from its own address (`X-Forwarded-For`, which the province takes from a
    proxy on this machine, as it does behind the load balancer): at a real peak the phones
    are many, and the per-address limit must not turn a load test into a rate-limit test.
    The code comes back in the answer because the demo province runs in demo mode; a
    province with an SMS gateway does not do that, and its login peak is tested elsewhere.
    """

    abstract = True
    province: ProvinceTarget
    fixed_count = 1  # paced by HC_LOADTEST_LOGIN_RATE, shared by the provinces

    def on_start(self) -> None:
        self.phones = _cycle(self.province.login_phones)

    @task
    def login(self) -> None:
        phone = next(self.phones)
        # One address per phone, from the benchmarking range (RFC 2544: 198.18.0.0/15).
        digits = int(phone[-5:])
        address = f"198.{18 + digits // 65536}.{digits // 256 % 256}.{digits % 256}"
        headers = {"X-Forwarded-For": address}
        with self.client.post(
            "/v1/auth/otp/request",
            json={"phone": phone},
            headers=headers,
            name=LOGIN_CODE,
            catch_response=True,
        ) as response:
            if response.status_code != 202:
                response.failure(f"HTTP {response.status_code}")
                return
            try:  # an exception here would escape Locust's accounting (see `_answer`)
                answer = response.json()
            except ValueError:
                answer = None
            code = answer.get("demo_code") if isinstance(answer, dict) else None
            if not code:
                response.failure("no one-time code in the answer (is the province in demo mode?)")
                return
        with self.client.post(
            "/v1/auth/otp/verify",
            json={"phone": phone, "code": code},
            headers=headers,
            name=LOGIN,
            catch_response=True,
        ) as response:
            answer = _answer(response)
            if answer is None:
                return
            if not answer.get("access_token"):
                response.failure("the answer holds no access token")


_logins = [p for p in PLAN.provinces if p.login_phones]
for _province in _logins:
    _name = "Login_" + "".join(c if c.isalnum() else "_" for c in _province.id)
    globals()[_name] = type(
        _name,
        (_Login,),
        {
            "abstract": False,
            "host": _province.url,
            "province": _province,
            "wait_time": constant_throughput(LOGIN_RATE / len(_logins)),
        },
    )


if PLAN.partner is not None and PLAN.partner.people:
    _partner = PLAN.partner
    _partner_key = SigningKey.load(Path(_partner.key_file))

    class PartnerRegion(FastHttpUser):
        """Another province's system: status look-ups for ID-card reads, revocation pulls."""

        fixed_count = 1  # one partner system, paced by HC_LOADTEST_PARTNER_RATE
        host = _partner.url
        wait_time = constant_throughput(PARTNER_RATE)

        def on_start(self) -> None:
            self.people = _cycle(_partner.people)
            # A partner system starts from the full list, then pulls it now and then.
            self.revocations()

        def _headers(self) -> dict[str, str]:
            now = int(time.time())
            # A fresh assertion per call (standard §10.1: each jti is accepted once).
            assertion = jwt.encode(
                {
                    "iss": _partner.partner_id,
                    "sub": _partner.partner_id,
                    "aud": _partner.audience,
                    "iat": now,
                    "exp": now + 60,
                    "jti": secrets.token_urlsafe(24),
                },
                _partner_key.private_key,
                algorithm="ES256",
                headers={"kid": _partner_key.kid, "typ": "JWT"},
            )
            return {"Authorization": f"Bearer {assertion}"}

        @task(4)
        def status(self) -> None:
            person = next(self.people)
            with self.client.post(
                "/status",
                json={"id_number": person.id_number, "name": person.name, "purpose": "load test"},
                headers=self._headers(),
                name=PARTNER_STATUS,
                catch_response=True,
            ) as response:
                answer = _answer(response)
                if answer is not None and not answer.get("credential"):
                    response.failure("the answer holds no credential")

        @task(1)
        def revocations(self) -> None:
            with self.client.get(
                "/revocations?since=0",
                headers=self._headers(),
                name=PARTNER_REVOCATIONS,
                catch_response=True,
            ) as response:
                answer = _answer(response)
                if answer is not None and not answer.get("revocation_list"):
                    response.failure("the answer holds no revocation list")
