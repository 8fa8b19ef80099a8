"""Demo data: synthetic citizens of this province, a family, staff and a checkpoint account."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlmodel import select

from healthcode.idnumber import is_known_division, make_id_number, parse_id_number
from healthcode.server.security import hash_password
from issuers.auth import Role, create_staff
from issuers.context import IssuerContext
from issuers.events import EventKind
from issuers.family import bind_minor
from issuers.models import Citizen, EventRecord, FamilyBinding, StaffAccount
from issuers.store import event_row_key, recompute, register_citizen, subject_of

_DEMO_PEOPLE = (
    # name, birth date, sequence, phone, guardian (index), positive PCR
    ("张三丰", date(1968, 4, 9), 123, "13800000001", None, False),
    ("李四光", date(1985, 11, 2), 456, "13800000002", None, False),
    ("李小明", date(2016, 6, 1), 457, None, 1, False),
    ("王五", date(1979, 1, 23), 789, "13800000003", None, True),
)
_DEMO_ACCOUNTS = (
    ("admin", Role.ADMIN),
    ("official", Role.HEALTH_OFFICIAL),
    ("counter", Role.COUNTER_STAFF),
    ("checkpoint-1", Role.CHECKPOINT),
)


def demo_divisions(region: str, count: int = 4) -> list[str]:
    """Known county-level division codes of the province (deterministic)."""
    found = [
        f"{region[:2]}{city:02d}{county:02d}"
        for city in range(1, 35)
        for county in range(1, 30)
        if is_known_division(f"{region[:2]}{city:02d}{county:02d}")
    ]
    if not found:
        raise RuntimeError(f"no GB/T 2260 divisions known for province {region}")
    return found[:count]


def _phone(region: str, phone: str) -> str:
    # Distinct demo phones per province, so a federation demo's citizens never collide.
    return phone[:5] + region[:2] + phone[7:]


def seed_demo(context: IssuerContext, *, password: str | None = None) -> dict[str, Any]:
    """Create (idempotently) demo citizens and accounts; returns their logins."""
    settings = context.settings
    divisions = demo_divisions(settings.region)
    now = int(time.time())
    citizens: list[dict[str, Any]] = []
    accounts: list[dict[str, str]] = []
    with context.session() as session:
        for index, (name, born, sequence, phone, guardian, positive) in enumerate(_DEMO_PEOPLE):
            id_number = make_id_number(divisions[index % len(divisions)], born, sequence)
            subject = subject_of(context, parse_id_number(id_number))
            citizen = session.exec(select(Citizen).where(Citizen.subject == subject)).first()
            phone_number = _phone(settings.region, phone) if phone else None
            if citizen is None:
                citizen, _ = register_citizen(
                    context,
                    session,
                    id_number=id_number,
                    name=name,
                    phone=phone_number,
                    actor="seed-demo",
                )
            if positive:
                data = {"result": "positive", "test": "pcr"}
                sampled = int((datetime.now(UTC) - timedelta(days=1)).timestamp())
                key = event_row_key(subject, EventKind.LAB_RESULT, sampled // 86400, data)
                if (
                    session.exec(select(EventRecord).where(EventRecord.row_key == key)).first()
                    is None
                ):
                    session.add(
                        EventRecord(
                            subject=subject,
                            kind=EventKind.LAB_RESULT.value,
                            occurred_at=sampled,
                            data=json.dumps(data),
                            row_key=key,
                            source="seed-demo",
                            created_at=now,
                        )
                    )
                    session.flush()
                    recompute(context, session, citizen, actor="seed-demo", now=now)
            entry: dict[str, Any] = {
                "name": name,
                "id_number": id_number,
                "phone": phone_number,
                "colour": citizen.colour,
                "guardian": None,
            }
            if guardian is not None:
                guardian_entry = citizens[guardian]
                guardian_subject = subject_of(context, parse_id_number(guardian_entry["id_number"]))
                bound = session.exec(
                    select(FamilyBinding).where(
                        FamilyBinding.guardian_subject == guardian_subject,
                        FamilyBinding.dependent_subject == subject,
                    )
                ).first()
                if bound is None:
                    bind_minor(context, session, guardian_subject, id_number=id_number, name=name)
                entry["guardian"] = guardian_entry["name"]
            citizens.append(entry)
        for username, role in _DEMO_ACCOUNTS:
            account_password = password or secrets.token_urlsafe(12)
            existing = session.exec(
                select(StaffAccount).where(StaffAccount.username == username)
            ).first()
            if existing is None:
                create_staff(session, username, account_password, role)
            elif password is None:
                account_password = "(unchanged; existing account)"
            else:
                existing.password_hash = hash_password(password)
                session.add(existing)
            accounts.append(
                {"role": role.value, "username": username, "password": account_password}
            )
        session.commit()
    return {"issuer": settings.issuer_id, "citizens": citizens, "accounts": accounts}
