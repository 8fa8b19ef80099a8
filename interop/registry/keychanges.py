"""Key changes of a registered issuer: rotation with proofs, emergency revocation (§7.4).

Each change publishes a new trust-list version in the same transaction (`store.publish`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from healthcode.config import DEFAULT_LIMITS, MAX_OFFLINE_CODE_LIFETIME_S
from healthcode.errors import ErrorCode, RequestError
from healthcode.keychange import REVOCATION_TYP, proof_kid, verify_rotation_proof
from healthcode.trust import IssuerStatus, KeyStatus, TrustedKey
from interop.registry.models import IssuerKeyRecord, UsedNonce
from interop.registry.signing import RootKeyring
from interop.registry.store import (
    DEFAULT_LIST_LIFETIME,
    Publication,
    atomic,
    check_new_kids,
    epoch_of,
    get_issuer,
    load_jwk,
    publish,
)

__all__ = ["DEFAULT_ACTIVATION_DELAY", "revoke_key", "revoke_key_by_issuer", "rotate_key"]

#: §7.4: how long after publication a rotated-in key starts signing (HC_INTEROP_ setting).
DEFAULT_ACTIVATION_DELAY = timedelta(seconds=300)
DEFAULT_COSIGN_WINDOW = timedelta(days=1)


@atomic
def revoke_key(
    session: Session,
    keyring: RootKeyring,
    issuer_id: str,
    kid: str,
    *,
    actor: str,
    reason: str = "",
    now: datetime | None = None,
    lifetime: timedelta = DEFAULT_LIST_LIFETIME,
) -> Publication:
    """Emergency revocation (§7.4): every code signed by `kid` fails from the new version on."""
    get_issuer(session, issuer_id)
    key = session.get(IssuerKeyRecord, kid)
    if key is None or key.issuer_id != issuer_id:
        raise RequestError(ErrorCode.NOT_FOUND, f"issuer {issuer_id!r} has no key {kid!r}")
    if key.status == KeyStatus.REVOKED:
        raise RequestError(ErrorCode.CONFLICT, f"key {kid!r} is already revoked")
    key.status = KeyStatus.REVOKED.value
    session.add(key)
    return publish(
        session,
        keyring,
        actor=actor,
        action="revoke_key",
        target=f"{issuer_id}/{kid}",
        detail=reason,
        now=now,
        lifetime=lifetime,
    )


def _make_room_for_a_key(session: Session, issuer_id: str, epoch: int) -> None:
    """Drop retired keys no code can need any more; refuse when the issuer is still full.

    §7.4: a retired key MAY go once `not_after` + the longest code lifetime + skew has passed.
    """
    horizon = epoch - MAX_OFFLINE_CODE_LIFETIME_S - DEFAULT_LIMITS.clock_skew_s
    kept = 0
    for key in session.exec(select(IssuerKeyRecord).where(IssuerKeyRecord.issuer_id == issuer_id)):
        if (
            key.status == KeyStatus.RETIRED
            and key.not_after is not None
            and key.not_after < horizon
        ):
            session.delete(key)
        else:
            kept += 1
    if kept >= DEFAULT_LIMITS.max_keys_per_issuer:
        raise RequestError(
            ErrorCode.CONFLICT,
            f"issuer {issuer_id!r} already lists {kept} keys, the limit; retired keys can "
            "be dropped once every code they signed has expired",
        )


@atomic
def rotate_key(
    session: Session,
    keyring: RootKeyring,
    issuer_id: str,
    *,
    jwk: Mapping[str, Any],
    authorization: str,
    possession: str,
    now: datetime | None = None,
    lifetime: timedelta = DEFAULT_LIST_LIFETIME,
    activation_delay: timedelta = DEFAULT_ACTIVATION_DELAY,
    cosign_window: timedelta = DEFAULT_COSIGN_WINDOW,
) -> Publication:
    """List a new key for an issuer after checking both proofs (§7.4); old keys retire.

    The issuer switches to the new key `activation_delay` after the list naming it is
    published, so verifiers know it first; its old keys therefore stay valid for codes issued
    until then (plus the skew). With the root keys offline the version waits for cosigning,
    so the old keys' window is `cosign_window` instead.
    """
    at = (now or datetime.now(UTC)).replace(microsecond=0)
    epoch = epoch_of(at)
    issuer = get_issuer(session, issuer_id)
    if issuer.status != IssuerStatus.ACTIVE:
        raise RequestError(ErrorCode.FORBIDDEN, f"issuer {issuer_id!r} is suspended")
    new_key = load_jwk(jwk, "jwk")
    # (1) authorisation: signed by a key of this issuer that is active right now.
    auth_kid = proof_kid(authorization)
    current = session.get(IssuerKeyRecord, auth_kid)
    if (
        current is None
        or current.issuer_id != issuer_id
        or current.status != KeyStatus.ACTIVE
        or not TrustedKey(
            load_jwk(json.loads(current.jwk_json), "key"),
            not_before=current.not_before,
            not_after=current.not_after,
        ).covers(epoch)
    ):
        raise RequestError(
            ErrorCode.ASSERTION_INVALID,
            f"the authorisation proof must be signed by an active key of {issuer_id!r}",
        )
    granted = verify_rotation_proof(
        authorization,
        load_jwk(json.loads(current.jwk_json), "key"),
        what="authorisation",
        now=epoch,
    )
    # (2) proof of possession: signed by the new key itself.
    if proof_kid(possession) != new_key.kid:
        raise RequestError(
            ErrorCode.ASSERTION_INVALID, "the possession proof must be signed by the new key"
        )
    possessed = verify_rotation_proof(possession, new_key, what="possession", now=epoch)
    # (3) both proofs are about this request: same issuer, same new key, same nonce.
    if (
        granted.nonce != possessed.nonce
        or {granted.issuer, possessed.issuer} != {issuer_id}
        or {
            granted.new_kid,
            possessed.new_kid,
        }
        != {new_key.kid}
    ):
        raise RequestError(
            ErrorCode.ASSERTION_INVALID,
            "both proofs must name this issuer, the submitted key and the same nonce",
        )
    check_new_kids(session, [new_key.kid])
    if session.get(UsedNonce, granted.nonce) is not None:
        raise RequestError(ErrorCode.ASSERTION_REPLAYED, "this rotation request was already used")
    session.add(UsedNonce(nonce=granted.nonce, issuer_id=issuer_id, used_at=at))
    _make_room_for_a_key(session, issuer_id, epoch)
    retired = []
    overlap = activation_delay if keyring.can_sign else cosign_window
    retire_at = epoch + int(overlap.total_seconds()) + DEFAULT_LIMITS.clock_skew_s
    for old in session.exec(
        select(IssuerKeyRecord).where(
            IssuerKeyRecord.issuer_id == issuer_id, IssuerKeyRecord.status == KeyStatus.ACTIVE
        )
    ):
        old.status, old.not_after = KeyStatus.RETIRED.value, retire_at
        session.add(old)
        retired.append(old.kid)
    session.add(
        IssuerKeyRecord(
            kid=new_key.kid,
            issuer_id=issuer_id,
            jwk_json=json.dumps(new_key.to_jwk()),
            not_before=epoch,
        )
    )
    return publish(
        session,
        keyring,
        actor=f"issuer:{issuer_id}",
        action="rotate_key",
        target=f"{issuer_id}/{new_key.kid}",
        detail=f"retired={retired} until={retire_at}",
        now=at,
        lifetime=lifetime,
    )


@atomic
def revoke_key_by_issuer(
    session: Session,
    keyring: RootKeyring,
    issuer_id: str,
    kid: str,
    *,
    proof: str,
    now: datetime | None = None,
    lifetime: timedelta = DEFAULT_LIST_LIFETIME,
) -> Publication:
    """Emergency revocation requested by the issuer itself (§7.4), signed by any of its
    listed, not revoked keys; published at once like an admin revocation."""
    at = (now or datetime.now(UTC)).replace(microsecond=0)
    get_issuer(session, issuer_id)
    signer = session.get(IssuerKeyRecord, proof_kid(proof, REVOCATION_TYP))
    if signer is None or signer.issuer_id != issuer_id or signer.status == KeyStatus.REVOKED:
        raise RequestError(
            ErrorCode.ASSERTION_INVALID,
            f"the revocation proof must be signed by a listed, not revoked key of {issuer_id!r}",
        )
    claims = verify_rotation_proof(
        proof,
        load_jwk(json.loads(signer.jwk_json), "key"),
        what="revocation",
        now=epoch_of(at),
        key_claim="revoke_kid",
        typ=REVOCATION_TYP,
    )
    if claims.issuer != issuer_id or claims.new_kid != kid:
        raise RequestError(
            ErrorCode.ASSERTION_INVALID, "the proof must name this issuer and this key"
        )
    if session.get(UsedNonce, claims.nonce) is not None:
        raise RequestError(ErrorCode.ASSERTION_REPLAYED, "this revocation request was already used")
    session.add(UsedNonce(nonce=claims.nonce, issuer_id=issuer_id, used_at=at))
    return revoke_key(
        session,
        keyring,
        issuer_id,
        kid,
        actor=f"issuer:{issuer_id}",
        reason=f"requested by the issuer (proof signed by {signer.kid})",
        now=at,
        lifetime=lifetime,
    )
