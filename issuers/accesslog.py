""" "Who looked at my status": every access to a citizen's data by someone else, from the audit
log (DESIGN "Accountability"; the Data Security Law's demand for accountability).

Every read or change of personal data is audited under the citizen's pseudonym (audit.py), so
this is a query, not a second log: the entries of the subject whose actor is not the citizen
themself. Left out, because nobody looked: the rules' own recomputations (`system:` actors),
rows a feed added (`feed_event:*`) and the colour changes they cause (the status history lists
those); an official's override is listed. Each entry says what kind of access it was, the
role, the place (a checkpoint or partner region), the stated purpose and the time; never a
staff member's name or another citizen's identity beyond a masked name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from issuers.models import AuditEntry, Citizen
from issuers.store import OVERRIDE_RULE_ID

__all__ = ["ACCESS_TEXT", "AccessEntry", "access_entries"]

#: kind -> what the app shows
ACCESS_TEXT: dict[str, dict[str, str]] = {
    "checkpoint_id_read": {"zh": "检查点读取身份证查询", "en": "ID card read at a checkpoint"},
    "assisted_lookup": {"zh": "检查点协助查询", "en": "Assisted look-up at a checkpoint"},
    "partner_lookup": {"zh": "外省查询", "en": "Look-up by another province"},
    "official_read": {"zh": "卫生工作人员查看", "en": "Viewed by a health official"},
    "official_override": {"zh": "工作人员更改状态", "en": "Status changed by an official"},
    "counter": {"zh": "服务窗口办理", "en": "Service counter"},
    "guardian": {"zh": "家人查看或打印", "en": "Viewed or printed by a family member"},
    "family": {"zh": "家庭绑定变更", "en": "Family binding changed"},
    "staff_read": {"zh": "管理员查看记录", "en": "Records read by an administrator"},
    "other": {"zh": "其他访问", "en": "Other access"},
}
_CHECKPOINT_PURPOSE = re.compile(r"^checkpoint (?P<place>\S+)")
_NOT_ACCESSES = ("feed_event:",)


@dataclass(frozen=True, slots=True)
class AccessEntry:
    id: int
    at: int
    kind: str
    role: str
    place: str | None
    purpose: str | None
    who: str | None  # a guardian's masked name

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": datetime.fromtimestamp(self.at, UTC).isoformat().replace("+00:00", "Z"),
            "kind": self.kind,
            "role": self.role,
            "place": self.place,
            "purpose": self.purpose,
            "who": self.who,
            "text": ACCESS_TEXT[self.kind],
        }


def _classify(entry: AuditEntry) -> tuple[str, str | None] | None:
    """(kind, place) of an access by someone else; None for a colour change that an import
    or a registration caused (the status history shows it; nobody looked)."""
    role, _, name = entry.actor.partition(":")
    action, reason = entry.action, entry.reason or ""
    if action == "status_change":
        return ("official_override", None) if OVERRIDE_RULE_ID in reason else None
    if action == "status_lookup":
        match = _CHECKPOINT_PURPOSE.match(reason)
        kind = "assisted_lookup" if "(assisted)" in reason else "checkpoint_id_read"
        return kind, match.group("place") if match else None
    if role == "partner":
        return "partner_lookup", name or None
    if role == "citizen":
        return ("family" if action.startswith("family") else "guardian"), None
    if role == "counter_staff":
        return "counter", None
    if action in ("correction_accepted", "correction_rejected"):
        return "official_override", None
    if action == "read_audit":
        return "staff_read", None
    if role in ("health_official", "admin"):
        return "official_read", None
    return "other", None


def access_entries(
    session: Session, subject: str, *, limit: int = 100, before: int | None = None
) -> list[AccessEntry]:
    """The newest accesses to `subject`'s data by others (at most `limit`, ids below
    `before`)."""
    query = (
        select(AuditEntry)
        .where(
            AuditEntry.subject == subject,
            AuditEntry.actor != f"citizen:{subject}",
            ~col(AuditEntry.actor).startswith("system:"),
            *(~col(AuditEntry.action).startswith(prefix) for prefix in _NOT_ACCESSES),
        )
        .order_by(col(AuditEntry.id).desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(col(AuditEntry.id) < before)
    rows = session.exec(query).all()
    guardians = {row.actor.partition(":")[2] for row in rows if row.actor.startswith("citizen:")}
    masked = (
        dict(
            session.exec(
                select(Citizen.subject, Citizen.masked_name).where(
                    col(Citizen.subject).in_(guardians)
                )
            ).all()
        )
        if guardians
        else {}
    )
    entries = []
    for row in rows:
        assert row.id is not None
        classified = _classify(row)
        if classified is None:
            continue
        kind, place = classified
        role, _, name = row.actor.partition(":")
        entries.append(
            AccessEntry(
                id=row.id,
                at=row.at,
                kind=kind,
                role="guardian" if role == "citizen" else role,
                place=place,
                # The stated purpose, or an official's note and legal basis for a change.
                purpose=row.reason,
                who=masked.get(name) if role == "citizen" else None,
            )
        )
    return entries
