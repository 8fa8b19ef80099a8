"""Checkpoint status look-up by ID number: answered here for local citizens, relayed to the
home province's partner API (standard §10.2) for everyone else."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from healthcode.credential import CodeKind
from healthcode.errors import ErrorCode, HealthcodeError, PeerError, RequestError
from healthcode.fetch import PeerClient
from healthcode.idnumber import ResidentId
from healthcode.keys import SigningKey
from healthcode.partner import PartnerClient
from healthcode.qr import encode_numeric
from healthcode.trust import TrustStore
from healthcode.verify import verify_credential
from issuers.audit import audit
from issuers.context import IssuerContext
from issuers.issuance import issue_code
from issuers.store import find_citizen, refresh_if_lapsed

logger = logging.getLogger("issuers.lookup")


def local_status_credential(
    ctx: IssuerContext,
    resident_number: str,
    name: str | None,
    *,
    actor: str,
    purpose: str,
    now: float | None = None,
) -> tuple[str, str]:
    """A short-lived (≤ 300 s) phone credential of a local citizen; returns (token, subject)."""
    at = int(time.time() if now is None else now)
    with ctx.session() as session:
        citizen = find_citizen(ctx, session, resident_number, name)
        session.refresh(citizen, with_for_update=True)  # serialised with revocations
        refresh_if_lapsed(ctx, session, citizen, at)
        view = issue_code(
            session,
            citizen,
            issuer_id=ctx.settings.issuer_id,
            key=ctx.keyring.signing_key(),
            kind=CodeKind.PHONE,
            lifetime_s=min(ctx.settings.lookup_lifetime_s, 300),
            now=at,
        )
        audit(
            session,
            actor=actor,
            action="status_lookup",
            subject=citizen.subject,
            reason=purpose,
            now=at,
        )
        session.commit()
    return view.token, citizen.subject


def _upstream(message: str) -> RequestError:
    return RequestError(ErrorCode.UPSTREAM_UNAVAILABLE, message)


def remote_status_credential(
    ctx: IssuerContext,
    resident: ResidentId,
    name: str | None,
    *,
    trust: Callable[[], TrustStore],
    partner_key: SigningKey | None,
    purpose: str,
    http: PeerClient | None = None,
) -> tuple[str, str]:
    """Ask the home issuer's partner API for a status credential; returns (token, issuer id)."""
    store = trust()
    home = store.issuer_for_region(resident.division_code)
    if home is None:
        raise RequestError(
            ErrorCode.UNKNOWN_REGION, "no trusted issuer serves the province of this ID number"
        )
    partner_api = home.endpoints.get("partner_api")
    if partner_key is None or not partner_api:
        raise _upstream(
            f"cross-province look-ups to {home.id} are not configured here "
            "(partner key or the home issuer's partner_api missing)"
        )
    if name is None:
        # §10.2: the home issuer matches number and name before it issues anything.
        raise RequestError(
            ErrorCode.INVALID_REQUEST,
            "a look-up in another province needs the name as on the ID card (standard §10.2)",
        )
    client = PartnerClient(partner_key, partner=ctx.settings.issuer_id, http=http or ctx.peers)
    try:
        response = client.status(partner_api, id_number=resident.number, name=name, purpose=purpose)
        if response.status_code == 404:
            raise RequestError(ErrorCode.NOT_FOUND, "no citizen with this ID number and name")
        if response.status_code != 200:
            raise _upstream(f"the home issuer {home.id} answered {response.status_code}; try again")
        answer = response.json()
    except PeerError as exc:
        logger.warning("home issuer %s not read: %s", home.id, exc.message)
        # Its own code (unreachable, too slow, too large, malformed), never a 500.
        raise RequestError(
            exc.code, f"the home issuer {home.id} could not be read ({exc.code.value}); try again"
        ) from None
    finally:
        client.close()
    token = answer.get("credential") if isinstance(answer, dict) else None
    if not isinstance(token, str):
        raise _upstream(f"the home issuer {home.id} answered an unreadable body")
    result = verify_credential(token, store)
    if not result.valid or result.issuer != home.id:
        raise _upstream(f"the home issuer {home.id} answered a credential that does not verify")
    return token, home.id


def status_lookup(
    ctx: IssuerContext,
    resident: ResidentId,
    name: str | None,
    *,
    actor: str,
    purpose: str,
    trust: Callable[[], TrustStore],
    partner_key: SigningKey | None,
) -> dict[str, str]:
    """The checkpoint answer `{"token","qr_text","home_issuer"}` for any citizen."""
    if resident.province_code == ctx.settings.region:
        token, _ = local_status_credential(ctx, resident.number, name, actor=actor, purpose=purpose)
        home = ctx.settings.issuer_id
    else:
        outcome = "error"
        try:
            token, home = remote_status_credential(
                ctx, resident, name, trust=trust, partner_key=partner_key, purpose=purpose
            )
            outcome = "ok"
        except HealthcodeError as error:
            outcome = error.code.value
            raise
        finally:
            with ctx.session() as session:
                audit(
                    session,
                    actor=actor,
                    action=f"status_lookup_relay:{outcome}",
                    subject=None,
                    reason=purpose,
                )
                session.commit()
    return {"token": token, "qr_text": encode_numeric(token), "home_issuer": home}
