"""A `LoadPlan` from a running demo federation (`healthcode federation up --dir DIR`).

Everything is fetched over HTTP from the running services, as a client would, with the demo's
own logins (DIR/<province>/demo-logins.json, DIR/secrets.json) and ports (DIR/ports.json):

- the checkpoint's staff session token (the demo's staff login);
- per province, a printed code of every seeded citizen from the counter
  (`POST /v1/counter/offline-code`) with the colour it must scan as, and each citizen's
  access token: a one-time code is requested (`/v1/auth/otp/request`) and read where the demo
  delivers it, the province's console log (DIR/logs/<province>.log), then exchanged
  (`/v1/auth/otp/verify`); each citizen's phone code is added to the scans too;
- ID-card reads of every seeded citizen of every province, with their colour as the province
  answers it now (the printed code's status, not the seed file's), since a status may have
  changed since seeding (the checkpoint answers those of other provinces through the home
  province's partner API);
- the partner region: the second province, with its partner key, looking up the first
  province's citizens through the first province's partner API;
- the login peak: `login_citizens` load-test citizens per province, registered at the counter
  (`POST /v1/citizens`, idempotent: the same numbers each time) with phones of their own, so
  the peak's logins do not run into the per-phone limits of a handful of seeded citizens.

Nothing here imports a service: the demo's files and HTTP are the interface.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from healthcode.idnumber import make_id_number
from loadtest.errors import LoadTestError, LoadTestErrorCode
from loadtest.plan import (
    CheckpointTarget,
    ExpectedAnswer,
    LoadPlan,
    PartnerTarget,
    Person,
    ProvinceTarget,
    check_target,
)

__all__ = ["DEMO_STAFF_USER", "prepare_plan"]

#: The checkpoint staff login `healthcode federation up` creates (its password: secrets.json).
DEMO_STAFF_USER = "staff"
#: How long to wait for a one-time code to appear in the province's log.
OTP_WAIT_S = 15.0
_OTP_LINE = re.compile(r"one-time login code for phone (\*+\d{4}): (\d+)")


#: Load-test citizens per province for the login peak (each logs in at most every 30 s).
LOGIN_CITIZENS = 60
#: Checkpoint gate devices, each a staff session of its own (a peak has many; one session
#: would put every scan on one checkpoint replica).
GATES = 8
_CJK_DIGITS = "零一二三四五六七八九"


def prepare_plan(
    directory: Path,
    *,
    staff_user: str = DEMO_STAFF_USER,
    login_citizens: int = LOGIN_CITIZENS,
    gates: int = GATES,
) -> LoadPlan:
    """Build the plan for the demo federation running from `directory`."""
    directory = directory.resolve()
    ports = _read_json(directory / "ports.json")
    secrets = _read_json(directory / "secrets.json")
    province_ids = sorted(
        path.parent.name for path in directory.glob("*/demo-logins.json") if path.is_file()
    )
    if not province_ids or "checkpoint" not in ports:
        raise LoadTestError(
            LoadTestErrorCode.FEDERATION_UNREADABLE,
            f"{directory} holds no demo federation with a checkpoint (ports.json, "
            "<province>/demo-logins.json): start one with `healthcode federation up --dir "
            f"{directory}` and wait for it to print its URLs",
        )
    urls = {name: f"http://127.0.0.1:{int(port)}" for name, port in ports.items()}
    for url in urls.values():
        check_target(url)
    logins = {pid: _read_json(directory / pid / "demo-logins.json") for pid in province_ids}
    with httpx.Client(timeout=20.0) as http:
        password = str(secrets.get("checkpoint_staff_password"))
        gate_tokens = [_login(http, urls["checkpoint"], staff_user, password) for _ in range(gates)]
        # Readers log in apart from the gates: one session's code and card are paired.
        id_card_token = _login(http, urls["checkpoint"], staff_user, password)
        scans: list[ExpectedAnswer] = []
        id_cards: list[ExpectedAnswer] = []
        provinces: list[ProvinceTarget] = []
        for pid in province_ids:
            url = urls[pid]
            citizens = logins[pid]["citizens"]
            counter = _account(logins[pid], "counter_staff")
            counter_token = _login(http, url, counter["username"], counter["password"])
            tokens: list[str] = []
            for citizen in citizens:
                person = Person(id_number=citizen["id_number"], name=citizen["name"])
                printed = _call(
                    http,
                    f"{url}/v1/counter/offline-code",
                    body={"id_number": person.id_number, "name": person.name},
                    token=counter_token,
                    what=f"a printed code at {pid}",
                )
                # The colour now, as the province answers it, not the seed file's: an import or
                # an override since seeding changes what a read must show.
                scans.append(ExpectedAnswer(display=printed["status"], text=printed["qr_text"]))
                id_cards.append(ExpectedAnswer(display=printed["status"], person=person))
                if citizen.get("phone"):
                    token = _citizen_token(http, url, directory / "logs" / f"{pid}.log", citizen)
                    tokens.append(token)
                    code = _call(
                        http, f"{url}/v1/me/code", token=token, what=f"a phone code at {pid}"
                    )
                    scans.append(ExpectedAnswer(display=code["status"], text=code["qr_text"]))
            phones = _register_login_citizens(
                http, url, counter_token, citizens[0]["id_number"][:6], login_citizens
            )
            provinces.append(
                ProvinceTarget(
                    id=pid, url=url, citizen_tokens=tuple(tokens), login_phones=tuple(phones)
                )
            )
    partner: PartnerTarget | None = None
    if len(province_ids) >= 2:
        home, caller = province_ids[0], province_ids[1]
        key_file = directory / caller / "partner-key.pem"
        if key_file.is_file():
            partner = PartnerTarget(
                partner_id=caller,
                key_file=str(key_file),
                url=f"{urls[home]}/partner/v1",
                audience=f"{urls[home]}/partner/v1",
                people=tuple(
                    Person(id_number=citizen["id_number"], name=citizen["name"])
                    for citizen in logins[home]["citizens"]
                ),
            )
    return LoadPlan(
        checkpoint=CheckpointTarget(
            url=urls["checkpoint"],
            token=gate_tokens[0],
            scans=tuple(scans),
            id_cards=tuple(id_cards),
            id_card_token=id_card_token,
            gate_tokens=tuple(gate_tokens[1:]),
        ),
        provinces=tuple(provinces),
        partner=partner,
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LoadTestError(
            LoadTestErrorCode.FEDERATION_UNREADABLE,
            f"cannot read {path} ({exc}); is a demo federation running from {path.parent}?",
        ) from exc
    if not isinstance(data, dict):
        raise LoadTestError(LoadTestErrorCode.FEDERATION_UNREADABLE, f"{path} is not an object")
    return data


def _account(logins: Mapping[str, Any], role: str) -> Mapping[str, str]:
    for account in logins.get("accounts", []):
        if account.get("role") == role:
            found: Mapping[str, str] = account
            return found
    raise LoadTestError(
        LoadTestErrorCode.FEDERATION_UNREADABLE, f"the demo logins name no {role} account"
    )


def _failed(what: str, answer: httpx.Response) -> LoadTestError:
    # The answer's error code only: a body may echo what was sent.
    try:
        code = answer.json().get("error", "-")
    except ValueError:
        code = "-"
    return LoadTestError(
        LoadTestErrorCode.PREPARE_FAILED,
        f"{what}: HTTP {answer.status_code} ({code}); see the service's log in DIR/logs/",
    )


def _call(
    http: httpx.Client,
    url: str,
    *,
    what: str,
    body: Mapping[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """POST `body` (GET without one) as the bearer of `token`; the JSON answer."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is None:
        answer = http.get(url, headers=headers)
    else:
        answer = http.post(url, json=body, headers=headers)
    if answer.status_code not in (200, 201, 202):
        raise _failed(what, answer)
    data: dict[str, Any] = answer.json()
    return data


def _register_login_citizens(
    http: httpx.Client, url: str, token: str, division: str, count: int
) -> list[str]:
    """Register `count` load-test citizens of `division` (idempotent); their phones."""
    phones = []
    for index in range(count):
        id_number = make_id_number(division, date(1990, 1, 1) + timedelta(days=index), 501)
        phone = f"1990{division[:2]}{index:05d}"
        name = "压测" + "".join(_CJK_DIGITS[int(d)] for d in f"{index:03d}")
        answer = http.post(
            f"{url}/v1/citizens",
            json={"id_number": id_number, "name": name, "phone": phone},
            headers={"Authorization": f"Bearer {token}"},
        )
        # 409: registered by an earlier prepare (the same numbers every time).
        if answer.status_code not in (201, 409):
            raise _failed("registering a load-test citizen", answer)
        phones.append(phone)
    return phones


def _login(http: httpx.Client, url: str, username: str, password: str) -> str:
    answer = _call(
        http,
        f"{url}/v1/auth/login",
        body={"username": username, "password": password},
        what=f"logging in as {username} at {url}",
    )
    return str(answer["access_token"])


def _citizen_token(http: httpx.Client, url: str, log: Path, citizen: Mapping[str, Any]) -> str:
    """Log a seeded citizen in with a one-time code read from the demo's console log."""
    phone = str(citizen["phone"])
    masked = "*" * (len(phone) - 4) + phone[-4:]
    start = log.stat().st_size if log.exists() else 0
    asked = _call(http, f"{url}/v1/auth/otp/request", body={"phone": phone}, what="an OTP request")
    # A demo province answers the code itself (it also logs it, in whichever replica's log).
    demo_code = asked.get("demo_code")
    deadline = time.monotonic() + OTP_WAIT_S
    code: str | None = str(demo_code) if demo_code else None
    while code is None:
        if log.exists():
            with log.open("rb") as handle:
                handle.seek(start)
                for line in handle.read().decode("utf-8", "replace").splitlines():
                    match = _OTP_LINE.search(line)
                    if match and match.group(1) == masked:
                        code = match.group(2)
        if code is None:
            if time.monotonic() > deadline:
                raise LoadTestError(
                    LoadTestErrorCode.PREPARE_FAILED,
                    f"no one-time code for {masked} appeared in {log} within {OTP_WAIT_S:.0f} s "
                    "(the demo delivers them to the console; a province with an SMS gateway "
                    "configured sends them there, and its plan must be written by hand)",
                )
            time.sleep(0.1)
    answer = _call(
        http,
        f"{url}/v1/auth/otp/verify",
        body={"phone": phone, "code": code},
        what=f"logging in citizen {masked}",
    )
    return str(answer["access_token"])
