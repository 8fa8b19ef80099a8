"""The issuer's side of the partner API: `PartnerBackend` for the core's partner router
(`healthcode.server.partner`)."""

from __future__ import annotations

import time

from healthcode.credential import Credential, new_jti
from healthcode.errors import ErrorCode, RequestError
from healthcode.idnumber import ResidentId
from healthcode.jws import sign_credential
from healthcode.verify import VerificationResult
from issuers.audit import audit
from issuers.context import IssuerContext
from issuers.lookup import local_status_credential
from issuers.models import IssuedCode
from issuers.revocation import signed_revocation_list


class IssuerPartnerBackend:
    """Answers partner calls from this issuer's data; every call is audited (§10.6)."""

    def __init__(self, context: IssuerContext) -> None:
        self._context = context
        self.issuer_id = context.settings.issuer_id

    def lookup_status(self, resident: ResidentId, *, name: str, partner: str, purpose: str) -> str:
        if resident.province_code != self._context.settings.region:
            raise RequestError(ErrorCode.NOT_FOUND, "no citizen with this ID number and name")
        # The name's keyed hash is matched in find_citizen before anything is issued, stored
        # or audited: a wrong name gets the unknown-citizen answer and leaves no trace.
        token, _ = local_status_credential(
            self._context, resident.number, name, actor=f"partner:{partner}", purpose=purpose
        )
        return token

    def transcode(self, source: VerificationResult, *, partner: str) -> str:
        assert source.credential is not None
        original = source.credential
        now = int(time.time())
        lifetime = self._context.settings.code_lifetime_s
        credential = Credential(
            issuer=self.issuer_id,
            subject=original.subject,
            issued_at=now,
            not_before=now,
            expires_at=min(original.expires_at, now + lifetime),
            jti=new_jti(),
            status=original.status,
            reason=original.reason,
            masked_name=original.masked_name,
            id_tail=original.id_tail,
            kind=original.kind,
            source=f"{original.issuer}/{original.jti}",
        )
        token = sign_credential(credential, self._context.keyring.signing_key())
        with self._context.session() as session:
            session.add(
                IssuedCode(
                    jti=credential.jti,
                    subject=credential.subject,
                    kind=credential.kind.value,
                    issued_at=now,
                    expires_at=credential.expires_at,
                    token=token,
                    source=credential.source,
                )
            )
            session.commit()
        return token

    def revocation_list(self, since: int) -> str:
        with self._context.session() as session:
            return signed_revocation_list(
                session, self.issuer_id, self._context.keyring.signing_key(), since
            )

    def audit(self, *, actor: str, action: str, subject: str | None, purpose: str | None) -> None:
        with self._context.session() as session:
            audit(
                session,
                actor=f"partner:{actor}",
                action=f"partner_{action}",
                subject=subject,
                reason=purpose,
            )
            session.commit()
