"""What the citizen app's code screen shows besides the QR, and its cheap change marker.

The app polls `status_version` (an ETag) every few seconds: a 304 costs one primary-key read,
and a new value tells it to fetch a new code, so a colour change reaches an open screen within
the poll interval (standard: 30 s). The version is a short hash of everything that changes
with the status, never of the subject, so it reveals nothing about who holds it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from healthcode.idnumber import PROVINCES
from issuers.models import Citizen
from issuers.settings import IssuerSettings

__all__ = ["COLOUR_TEXT", "province_names", "screen_fields", "status_json", "status_version"]

COLOUR_TEXT: dict[str, dict[str, str]] = {
    "green": {"zh": "绿码", "en": "Green"},
    "yellow": {"zh": "黄码", "en": "Yellow"},
    "red": {"zh": "红码", "en": "Red"},
}
#: What to do, by colour; the reason's own text (from the rules) says why and what ends it.
_ADVICE: dict[str, dict[str, str]] = {
    "green": {
        "zh": "出示此码即可通行。如有发热等症状，请及时申报。",
        "en": "Show this code at checkpoints. Declare any fever or symptoms.",
    },
    "yellow": {
        "zh": "请尽快到就近核酸检测点检测（可拨打12320查询），结果阴性后自动转绿。",
        "en": "Get a PCR test at the nearest testing site (ask 12320); a negative result "
        "turns your code green by itself.",
    },
    "red": {
        "zh": "请留在原地，联系社区或拨打12320，按卫生部门要求处置。如有异议可申请纠错。",
        "en": "Stay where you are and call your community or 12320; follow the health "
        "authority's instructions. If this is wrong, ask for a correction.",
    },
}


def _iso(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def province_names(settings: IssuerSettings) -> dict[str, str]:
    zh, en = PROVINCES.get(settings.region[:2], (settings.issuer_name, settings.issuer_name))
    return {"zh": zh, "en": en}


def status_version(citizen: Citizen) -> str:
    """Changes whenever the colour, its reason, rule or override change (each revokes codes)."""
    parts = (
        citizen.colour,
        citizen.reason,
        citizen.rule_id,
        citizen.rules_version,
        citizen.updated_at,
        citizen.override_colour,
        citizen.override_until,
        citizen.status_until,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def status_json(citizen: Citizen) -> dict[str, Any]:
    """The poll answer: enough to redraw the frame before the new code arrives."""
    return {
        "status_version": status_version(citizen),
        "colour": citizen.colour,
        "colour_text": COLOUR_TEXT.get(citizen.colour, {"zh": "", "en": citizen.colour}),
        "reason": citizen.reason,
        "changed_at": _iso(citizen.updated_at),
    }


def screen_fields(citizen: Citizen, settings: IssuerSettings) -> dict[str, Any]:
    """Everything the code screen shows next to the QR (the code's own fields aside)."""
    return {
        "colour": citizen.colour,
        "colour_text": COLOUR_TEXT.get(citizen.colour, {"zh": "", "en": citizen.colour}),
        "province": province_names(settings),
        "advice": _ADVICE.get(citizen.colour, _ADVICE["red"]),
        "status_version": status_version(citizen),
    }
