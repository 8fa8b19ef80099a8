"""`LoadPlan`: what a peak test sends where, as one JSON file.

A plan names the targets (a checkpoint, the provinces, a partner region's key) and the test
data the simulated users need: citizens' access tokens, codes with the colour a checkpoint must
show for each, ID-card reads with their expected colour, and the people a partner region looks
up. `loadtest.prepare` writes one from a running demo federation; against a staging federation
ops write it themselves (the format is in loadtest/README.md).

A plan holds credentials and the ID numbers of test citizens, so it is written readable by its
owner only, and nothing of it reaches Locust's output: request names are fixed strings and
failure messages never quote what was sent. Every URL must be loopback unless the operator
names the host (`allowed_hosts`): a load test that points at the wrong machine is an attack.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from loadtest.errors import LoadTestError, LoadTestErrorCode

__all__ = [
    "DISPLAYS",
    "CheckpointTarget",
    "ExpectedAnswer",
    "LoadPlan",
    "PartnerTarget",
    "Person",
    "ProvinceTarget",
    "check_target",
]

PLAN_VERSION = 1
#: What a checkpoint shows (verifiers' `display`); an expected answer names one of them.
DISPLAYS = frozenset({"green", "yellow", "red", "error", "unconfirmed"})


@dataclass(frozen=True)
class Person:
    """A test citizen as an ID-card reader or a partner region names them."""

    id_number: str
    name: str


@dataclass(frozen=True)
class ExpectedAnswer:
    """Something sent to the checkpoint and the colour its answer must show."""

    display: str
    #: The QR text of a code (scans), or None for an ID-card read.
    text: str | None = None
    person: Person | None = None


@dataclass(frozen=True)
class CheckpointTarget:
    url: str
    #: A staff session token of the checkpoint (`POST /v1/auth/login`).
    token: str
    scans: tuple[ExpectedAnswer, ...]
    id_cards: tuple[ExpectedAnswer, ...]
    #: The ID-card readers' own session: a checkpoint pairs a code and a card read in one
    #: session as "scan + tap" (standard §6.4), which gates and readers of different people
    #: must not be. None: the scanners' token.
    id_card_token: str | None = None
    #: More gates' staff sessions: the simulated gates take `token` and these in turn. A real
    #: peak has many devices, and the checkpoint's balancer keeps each device's session on
    #: one replica, so one session for every gate would load one replica only.
    gate_tokens: tuple[str, ...] = ()

    def scan_tokens(self) -> tuple[str, ...]:
        """Every gate session, `token` first."""
        return (self.token, *self.gate_tokens)


@dataclass(frozen=True)
class ProvinceTarget:
    id: str
    url: str
    #: Citizens' access tokens (`/v1/auth/otp/verify`), one simulated phone each.
    citizen_tokens: tuple[str, ...]
    #: Phones of load-test citizens registered for the login peak (OTP request + verify);
    #: each logs in at most a few times an hour (the province's per-phone limits).
    login_phones: tuple[str, ...] = ()


@dataclass(frozen=True)
class PartnerTarget:
    """A partner region (`partner_id`, holding `key_file`) calling another's partner API."""

    partner_id: str
    key_file: str
    url: str
    audience: str
    people: tuple[Person, ...]


@dataclass(frozen=True)
class LoadPlan:
    checkpoint: CheckpointTarget
    provinces: tuple[ProvinceTarget, ...]
    partner: PartnerTarget | None

    def urls(self) -> list[str]:
        """Every URL the test would send to."""
        found = [self.checkpoint.url, *(province.url for province in self.provinces)]
        if self.partner is not None:
            found.append(self.partner.url)
        return found

    def check_targets(self, allowed_hosts: Collection[str] = ()) -> None:
        """Refuse the plan if any URL leaves this machine, except to `allowed_hosts`."""
        for url in self.urls():
            check_target(url, allowed_hosts)

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON values (what `save` writes and `from_json` reads)."""
        return {"version": PLAN_VERSION, **_json_values(asdict(self))}

    def save(self, path: Path) -> Path:
        """Write the plan readable by its owner only (it holds tokens and test ID numbers)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(self.to_json(), handle, ensure_ascii=False, indent=2)
        os.replace(temporary, path)
        return path

    @classmethod
    def load(cls, path: Path) -> LoadPlan:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise _invalid(f"cannot read the plan {path}: {exc}") from exc
        return cls.from_json(data)

    @classmethod
    def from_json(cls, data: object) -> LoadPlan:
        """Check every field before anything uses the plan; `plan_invalid` names the first
        one that is wrong."""
        plan = _mapping(data, "the plan")
        if plan.get("version") != PLAN_VERSION:
            raise _invalid(f"'version' must be {PLAN_VERSION}, got {plan.get('version')!r}")
        checkpoint = _mapping(plan.get("checkpoint"), "'checkpoint'")
        if not checkpoint.get("scans"):
            raise _invalid("checkpoint.scans must list at least one code to scan")
        target = CheckpointTarget(
            url=_text(checkpoint, "url", "checkpoint"),
            token=_text(checkpoint, "token", "checkpoint"),
            scans=tuple(
                _expected(item, f"checkpoint.scans[{index}]", scan=True)
                for index, item in enumerate(_list(checkpoint, "scans", "checkpoint"))
            ),
            id_cards=tuple(
                _expected(item, f"checkpoint.id_cards[{index}]", scan=False)
                for index, item in enumerate(_list(checkpoint, "id_cards", "checkpoint"))
            ),
            id_card_token=(
                _text(checkpoint, "id_card_token", "checkpoint")
                if checkpoint.get("id_card_token") is not None
                else None
            ),
            gate_tokens=_texts(checkpoint, "gate_tokens", "checkpoint"),
        )
        provinces = []
        for index, item in enumerate(_list(plan, "provinces", "the plan")):
            where = f"provinces[{index}]"
            province = _mapping(item, where)
            tokens = _list(province, "citizen_tokens", where)
            if not all(isinstance(token, str) and token for token in tokens):
                raise _invalid(f"{where}.citizen_tokens must hold non-empty strings")
            phones = province.get("login_phones", [])
            if not isinstance(phones, list) or not all(
                isinstance(phone, str) and phone.isdigit() for phone in phones
            ):
                raise _invalid(f"{where}.login_phones must be a list of phone numbers (digits)")
            provinces.append(
                ProvinceTarget(
                    id=_text(province, "id", where),
                    url=_text(province, "url", where),
                    citizen_tokens=tuple(tokens),
                    login_phones=tuple(phones),
                )
            )
        partner: PartnerTarget | None = None
        if plan.get("partner") is not None:
            raw = _mapping(plan["partner"], "'partner'")
            partner = PartnerTarget(
                partner_id=_text(raw, "partner_id", "partner"),
                key_file=_text(raw, "key_file", "partner"),
                url=_text(raw, "url", "partner"),
                audience=_text(raw, "audience", "partner"),
                people=tuple(
                    _person(item, f"partner.people[{index}]")
                    for index, item in enumerate(_list(raw, "people", "partner"))
                ),
            )
        return cls(checkpoint=target, provinces=tuple(provinces), partner=partner)


def check_target(url: str, allowed_hosts: Collection[str] = ()) -> None:
    """Refuse `url` unless it is http(s) to a loopback address or to a host named in
    `allowed_hosts` (`target_not_loopback`)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _invalid(f"{url!r} is not an http(s) URL")
    host = parts.hostname
    if host in allowed_hosts:
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise LoadTestError(
            LoadTestErrorCode.TARGET_NOT_LOOPBACK,
            f"the plan sends load to {host}, which is not this machine. If that is the "
            f"staging federation you mean to load, name it: --allow-host {host}",
        )


def _json_values(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_values(item) for item in value]
    return value


def _invalid(message: str) -> LoadTestError:
    return LoadTestError(LoadTestErrorCode.PLAN_INVALID, message)


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(f"{what} must be a JSON object")
    return value


def _list(container: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = container.get(key)
    if not isinstance(value, list):
        raise _invalid(f"{where}.{key} must be a list")
    return value


def _text(container: Mapping[str, Any], key: str, where: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise _invalid(f"{where}.{key} must be a non-empty string")
    return value


def _texts(container: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    """An optional list of non-empty strings (absent: none)."""
    if container.get(key) is None:
        return ()
    values = _list(container, key, where)
    if not all(isinstance(value, str) and value for value in values):
        raise _invalid(f"{where}.{key} must hold non-empty strings")
    return tuple(values)


def _person(value: object, where: str) -> Person:
    person = _mapping(value, where)
    return Person(id_number=_text(person, "id_number", where), name=_text(person, "name", where))


def _expected(value: object, where: str, *, scan: bool) -> ExpectedAnswer:
    item = _mapping(value, where)
    display = item.get("display")
    if display not in DISPLAYS:
        raise _invalid(f"{where}.display must be one of {sorted(DISPLAYS)}, got {display!r}")
    if scan:
        return ExpectedAnswer(display=str(display), text=_text(item, "text", where))
    return ExpectedAnswer(display=str(display), person=_person(item.get("person"), where))
