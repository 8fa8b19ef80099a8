"""Public endpoints (no personal data): keys and the revocation list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from issuers.api.deps import Context
from issuers.revocation import signed_revocation_list

router = APIRouter(tags=["public"])


@router.get("/.well-known/jwks.json")
def jwks(context: Context) -> dict[str, Any]:
    """Current and retired credential keys (retired ones until their codes expired)."""
    return context.keyring.jwks()


@router.get("/v1/revocations")
def revocations(
    context: Context, since: Annotated[int, Query(ge=0, le=2**53)] = 0
) -> dict[str, str]:
    """The signed revocation list after `since` (jtis and expiry only)."""
    with context.session() as session:
        document = signed_revocation_list(
            session, context.settings.issuer_id, context.keyring.signing_key(), since
        )
    return {"revocation_list": document}
