"""Issuing signed codes (phone, offline, status look-up) and recording them for revocation."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from healthcode.credential import CodeKind, ReasonCode, StatusColour, new_credential
from healthcode.jws import sign_credential
from healthcode.keys import SigningKey
from healthcode.qr import encode_numeric
from issuers.audit import audit
from issuers.context import IssuerContext
from issuers.models import Citizen, IssuedCode
from issuers.store import refresh_if_lapsed


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class CodeView:
    """What the API answers for an issued code."""

    token: str
    status: str
    reason: str
    reason_text: dict[str, str]
    masked_name: str
    id_tail: str
    kind: str
    issued_at: int
    expires_at: int
    jti: str

    @property
    def qr_text(self) -> str:
        return encode_numeric(self.token)

    def to_json(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "qr_text": self.qr_text,
            "status": self.status,
            "reason": self.reason,
            "reason_text": self.reason_text,
            "masked_name": self.masked_name,
            "id_tail": self.id_tail,
            "kind": self.kind,
            "issued_at": _iso(self.issued_at),
            "expires_at": _iso(self.expires_at),
            "jti": self.jti,
        }


def _view(citizen: Citizen, code: IssuedCode) -> CodeView:
    return CodeView(
        token=code.token,
        status=citizen.colour,
        reason=citizen.reason,
        reason_text={"zh": citizen.reason_zh, "en": citizen.reason_en},
        masked_name=citizen.masked_name,
        id_tail=citizen.id_tail,
        kind=code.kind,
        issued_at=code.issued_at,
        expires_at=code.expires_at,
        jti=code.jti,
    )


def issue_code(
    session: Session,
    citizen: Citizen,
    *,
    issuer_id: str,
    key: SigningKey,
    kind: CodeKind,
    lifetime_s: int,
    now: float | None = None,
) -> CodeView:
    """Sign a code with the citizen's current colour and record it (caller commits)."""
    credential = new_credential(
        issuer=issuer_id,
        subject=citizen.subject,
        status=StatusColour(citizen.colour),
        reason=ReasonCode(citizen.reason),
        masked_name=citizen.masked_name,
        id_tail=citizen.id_tail,
        kind=kind,
        lifetime_s=lifetime_s,
        now=time.time() if now is None else now,
    )
    token = sign_credential(credential, key)
    code = IssuedCode(
        jti=credential.jti,
        subject=citizen.subject,
        kind=kind.value,
        issued_at=credential.issued_at,
        expires_at=credential.expires_at,
        token=token,
    )
    session.add(code)
    return _view(citizen, code)


def current_phone_code(
    session: Session,
    citizen: Citizen,
    *,
    issuer_id: str,
    key: SigningKey,
    lifetime_s: int,
    now: float | None = None,
) -> CodeView:
    """The citizen's phone code: reused while unrevoked with over half its life left."""
    at = int(time.time() if now is None else now)
    existing = session.exec(
        select(IssuedCode)
        .where(
            IssuedCode.subject == citizen.subject,
            IssuedCode.kind == CodeKind.PHONE.value,
            col(IssuedCode.revoked_at).is_(None),
            IssuedCode.expires_at - at >= lifetime_s // 2,
            IssuedCode.issued_at <= at,
            IssuedCode.expires_at - IssuedCode.issued_at == lifetime_s,
        )
        .order_by(col(IssuedCode.issued_at).desc())
    ).first()
    if existing is not None:
        return _view(citizen, existing)
    return issue_code(
        session,
        citizen,
        issuer_id=issuer_id,
        key=key,
        kind=CodeKind.PHONE,
        lifetime_s=lifetime_s,
        now=at,
    )


def code_for_citizen(
    ctx: IssuerContext,
    session: Session,
    citizen: Citizen,
    *,
    kind: CodeKind,
    actor: str,
    now: float | None = None,
) -> tuple[CodeView, list[str]]:
    """The citizen's current phone code or a new offline code, audited (caller commits).

    A lapsed status is recomputed first, so a code never shows a colour that has ended.
    Returns the code and any jtis revoked by that recomputation.
    """
    at = int(time.time() if now is None else now)
    # Lock the citizen row (PostgreSQL): a colour change that revokes codes and this issuance
    # are serialised, so no code of the old colour can slip past the revocation.
    session.refresh(citizen, with_for_update=True)
    revoked = refresh_if_lapsed(ctx, session, citizen, at)
    key = ctx.keyring.signing_key()
    if kind is CodeKind.PHONE:
        view = current_phone_code(
            session,
            citizen,
            issuer_id=ctx.settings.issuer_id,
            key=key,
            lifetime_s=ctx.settings.code_lifetime_s,
            now=at,
        )
    else:
        view = issue_code(
            session,
            citizen,
            issuer_id=ctx.settings.issuer_id,
            key=key,
            kind=CodeKind.OFFLINE,
            lifetime_s=ctx.settings.offline_lifetime_s,
            now=at,
        )
    audit(session, actor=actor, action=f"read_code:{kind.value}", subject=citizen.subject, now=at)
    return view, revoked
