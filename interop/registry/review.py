"""What a root-key holder checks and sees before cosigning a pending trust-list version.

With the root keys offline (ADR 0007) the registry host prepares each version and an officer
adds a detached signature over its payload (`healthcode registry cosign`). The officer trusts
nothing the host says about that payload: the root chain is walked from the officer's own
pinned root, the exact base64url payload to be signed is decoded here (never the host's
decoded `document`, which only has to agree with it), checked like a verifier would check the
published list, and compared with the list published now. What `PendingReview.lines` shows is
decoded from the same string `payload_b64` that is signed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from healthcode.config import DEFAULT_LIMITS
from healthcode.errors import ErrorCode, PeerError, RequestError, TrustListError, TrustUnavailable
from healthcode.fetch import PEER_BOUNDS, PeerAnswer, PeerClient
from healthcode.trust import IssuerEntry, TrustedKey
from healthcode.trustlist import (
    RootMetadata,
    TrustListDocument,
    decode_unsigned_trust_list,
    format_time,
    peek_payload,
    verify_root_update,
    verify_trust_list,
)

__all__ = ["MAX_LIST_VALIDITY", "PendingReview", "describe_changes", "review_pending"]

#: §7.2: `expires` at most 7 days after `signed_at`; a cosigner signs nothing longer-lived.
MAX_LIST_VALIDITY = timedelta(days=7)
#: Root versions walked past the pinned one at most (a registry cannot stall the review).
MAX_ROOT_STEPS = 32


@dataclass(frozen=True, slots=True)
class PendingReview:
    """A pending version that passed every check, with what it changes."""

    #: exactly the string to sign (the JWS payload), from which `proposed` was decoded
    payload_b64: str
    proposed: TrustListDocument
    root: RootMetadata
    #: the list published now, verified; None when none is, or it is under an older root
    current: TrustListDocument | None
    signed_by: tuple[str, ...]
    threshold: int
    prepared_by: str
    action: str

    def lines(self, now: datetime) -> list[str]:
        """The review shown to the officer before signing."""
        proposed = self.proposed
        left = proposed.expires - now
        shown = [
            f"pending trust list version {proposed.version} under root {proposed.root_version} "
            f"({self.action or 'change'} prepared by {self.prepared_by or 'unknown'})",
            f"  signed_at {format_time(proposed.signed_at)}, expires "
            f"{format_time(proposed.expires)} (in {_duration(left)})",
            f"  {len(proposed.issuers)} issuers; signed by {len(self.signed_by)} of "
            f"{self.threshold} so far, as the registry reports: "
            f"{', '.join(self.signed_by) or 'nobody'}",
        ]
        if self.current is None:
            shown.append("  no published list to compare with: the whole list is new")
            shown += [f"  + {_issuer_summary(entry)}" for entry in proposed.issuers]
            return shown
        changes = describe_changes(self.current, proposed)
        shown.append(f"  changes from published version {self.current.version}:")
        shown += [f"  {line}" for line in changes] or ["  (none: the same state re-signed)"]
        return shown


def review_pending(
    http: PeerClient,
    base: str,
    pinned: RootMetadata,
    *,
    signer_kid: str,
    headers: Mapping[str, str],
    now: datetime,
    expected_version: int | None = None,
    min_validity: timedelta,
) -> PendingReview:
    """Fetch the pending version from the registry at `base` and check it for `signer_kid`.

    Raises:
        TrustListError: the roots, the payload or the published list fail the checks of §7, the
            host's decoded view disagrees with the payload, the payload is not newer than the
            published list, expires within `min_validity` or lives longer than 7 days.
        RequestError: nothing is pending (`not_found`), or another version than
            `expected_version` (`conflict`).
        TrustUnavailable: the registry cannot be reached or answers with an error.
    """
    chain = _walk_roots(http, base, pinned)
    root = chain[-1]
    if root.is_expired(now):
        raise TrustListError(
            ErrorCode.TRUST_LIST_EXPIRED,
            f"the newest root (version {root.version}) expired at {format_time(root.expires)}; "
            "a list signed under it would be refused by every verifier",
        )
    if signer_kid not in root.keys:
        raise TrustListError(
            ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY,
            f"your key {signer_kid!r} is not a key of root version {root.version}",
        )
    view = _get_json(http, f"{base}/v1/admin/pending", headers, what="the pending version")
    payload_b64, announced = view.get("payload"), view.get("trust_list_version")
    if not isinstance(payload_b64, str) or not _is_int(announced):
        raise _malformed("the registry's pending view has no string 'payload' and version")
    # Everything below is read from `payload_b64`, the string that will be signed.
    proposed = decode_unsigned_trust_list(payload_b64, root, limits=DEFAULT_LIMITS)
    if proposed.version != announced:
        raise _malformed(
            f"the registry announces version {announced} but the payload is version "
            f"{proposed.version}; not signing"
        )
    if expected_version is not None and proposed.version != expected_version:
        raise RequestError(
            ErrorCode.CONFLICT,
            f"version {proposed.version} is pending, not {expected_version}; review it first",
        )
    if view.get("document") != proposed.payload:
        raise _malformed(
            "the decoded document the registry shows differs from the payload it asks you to "
            "sign; not signing (report the registry host)"
        )
    skew = timedelta(seconds=DEFAULT_LIMITS.clock_skew_s)
    if proposed.signed_at > now + skew:
        # A list signed "in the future" would push every verifier's trusted time ahead (§7.5).
        raise _malformed(
            f"version {proposed.version} says signed_at {format_time(proposed.signed_at)}, "
            f"after now ({format_time(now)}); not signing"
        )
    if proposed.expires - proposed.signed_at > MAX_LIST_VALIDITY:
        raise _malformed(
            f"version {proposed.version} is valid from {format_time(proposed.signed_at)} to "
            f"{format_time(proposed.expires)}, over the 7 days §7.2 allows"
        )
    if proposed.expires - now < min_validity:
        raise TrustListError(
            ErrorCode.TRUST_LIST_EXPIRED,
            f"version {proposed.version} expires at {format_time(proposed.expires)}, less than "
            f"{_duration(min_validity)} from now; it would reach verifiers (nearly) expired. "
            "Have it re-proposed (`healthcode registry publish` or POST /v1/admin/publish) "
            "and cosign the new version",
        )
    current = _published(http, base, chain)
    if current is not None and proposed.version <= current.version:
        raise TrustListError(
            ErrorCode.TRUST_LIST_ROLLBACK,
            f"pending version {proposed.version} is not newer than the published version "
            f"{current.version}",
        )
    signed_by = view.get("signed_by", [])
    return PendingReview(
        payload_b64=payload_b64,
        proposed=proposed,
        root=root,
        current=current,
        signed_by=tuple(str(kid) for kid in signed_by) if isinstance(signed_by, list) else (),
        threshold=root.threshold,
        prepared_by=str(view.get("prepared_by", "")),
        action=str(view.get("action", "")),
    )


def describe_changes(current: TrustListDocument, proposed: TrustListDocument) -> list[str]:
    """One line per difference between two lists: issuers added (+), removed (-), changed (~)."""
    before = {entry.id: entry for entry in current.issuers}
    after = {entry.id: entry for entry in proposed.issuers}
    lines = [f"+ {_issuer_summary(after[name])}" for name in sorted(after.keys() - before.keys())]
    lines += [f"- issuer {name}" for name in sorted(before.keys() - after.keys())]
    old_raw = {entry.get("id"): entry for entry in current.payload.get("issuers", [])}
    new_raw = {entry.get("id"): entry for entry in proposed.payload.get("issuers", [])}
    for name in sorted(before.keys() & after.keys()):
        changed = _issuer_changes(before[name], after[name])
        if not changed and old_raw.get(name) != new_raw.get(name):
            changed = ["members this tool does not know changed"]
        lines += [f"~ {name}: {change}" for change in changed]
    if current.extra != proposed.extra:
        lines.append(f"~ top-level members besides §7.2's: {sorted(proposed.extra)}")
    return lines


def _issuer_summary(entry: IssuerEntry) -> str:
    return (
        f"issuer {entry.id} ({entry.name}, region {entry.region}, {entry.status.value}, "
        f"{entry.profile.value}): keys {', '.join(_key_summary(k) for k in entry.keys)}; "
        f"partner keys {', '.join(k.kid for k in entry.partner_keys) or 'none'}; "
        f"endpoints {dict(entry.endpoints)}"
    )


def _key_summary(trusted: TrustedKey) -> str:
    def when(epoch: int | None) -> str:
        return "-" if epoch is None else format_time(epoch)

    return (
        f"{trusted.kid} {trusted.status.value} "
        f"[{when(trusted.not_before)} .. {when(trusted.not_after)}]"
    )


def _issuer_changes(old: IssuerEntry, new: IssuerEntry) -> list[str]:
    lines = []
    for name in ("name", "region", "status", "profile"):
        was, now = getattr(old, name), getattr(new, name)
        if was != now:
            lines.append(f"{name} {_plain(was)} -> {_plain(now)}")
    old_keys = {k.kid: k for k in old.keys}
    new_keys = {k.kid: k for k in new.keys}
    lines += [f"+ key {_key_summary(new_keys[kid])}" for kid in sorted(new_keys - old_keys.keys())]
    lines += [f"- key {kid}" for kid in sorted(old_keys.keys() - new_keys.keys())]
    for kid in sorted(old_keys.keys() & new_keys.keys()):
        if old_keys[kid] != new_keys[kid]:
            lines.append(f"key {_key_summary(old_keys[kid])} -> {_key_summary(new_keys[kid])}")
    old_partners = {k.kid for k in old.partner_keys}
    new_partners = {k.kid for k in new.partner_keys}
    lines += [f"+ partner key {kid}" for kid in sorted(new_partners - old_partners)]
    lines += [f"- partner key {kid}" for kid in sorted(old_partners - new_partners)]
    for endpoint in sorted(old.endpoints.keys() | new.endpoints.keys()):
        was, now = old.endpoints.get(endpoint), new.endpoints.get(endpoint)
        if was != now:
            lines.append(f"endpoint {endpoint} {was} -> {now}")
    return lines


def _plain(value: object) -> str:
    return str(getattr(value, "value", value))


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds < 0:
        return f"the past, {_duration(-span)} ago"
    days, rest = divmod(seconds, 86400)
    hours_minutes = f"{rest // 3600} h {rest % 3600 // 60} min"
    return f"{days} d {hours_minutes}" if days else hours_minutes


def _malformed(message: str) -> TrustListError:
    return TrustListError(ErrorCode.TRUST_LIST_MALFORMED, message)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _walk_roots(http: PeerClient, base: str, pinned: RootMetadata) -> list[RootMetadata]:
    """The pinned root and every newer one the registry serves, each verified (§7.1)."""
    chain = [pinned]
    for _ in range(MAX_ROOT_STEPS):
        answer = _get(http, f"{base}/v1/root/{chain[-1].version + 1}", {})
        if answer.status_code == 404:
            return chain
        chain.append(verify_root_update(chain[-1], answer.content))
    raise _malformed(f"the registry serves over {MAX_ROOT_STEPS} roots past {pinned.version}")


def _published(http: PeerClient, base: str, chain: list[RootMetadata]) -> TrustListDocument | None:
    """The published list verified against its root; None when there is none yet or it was
    signed under a root older than the pinned one (nothing to verify it with)."""
    answer = _get(http, f"{base}/v1/trust-list", {})
    if answer.status_code == 404:
        return None
    # Unverified, only to pick the root to verify with; verify_trust_list checks it again.
    named = peek_payload(answer.content).get("root_version")
    root = next((root for root in chain if root.version == named), None)
    if root is None:
        return None
    return verify_trust_list(answer.content, root, limits=DEFAULT_LIMITS)


def _get(http: PeerClient, url: str, headers: Mapping[str, str]) -> PeerAnswer:
    # Bounded as a verifier reads the registry (PeerError, a TrustUnavailable, when not).
    answer = http.get(url, PEER_BOUNDS.trust_list, headers=dict(headers))
    if answer.status_code in (401, 403):
        raise RequestError(
            ErrorCode.UNAUTHENTICATED if answer.status_code == 401 else ErrorCode.FORBIDDEN,
            f"the registry refused your admin token ({answer.status_code} to GET {url}); "
            "check it, and that your account has the registry_admin role",
        )
    if answer.status_code not in (200, 404):
        raise TrustUnavailable(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            f"the registry answered {answer.status_code} to GET {url}: {answer.text[:500]}",
        )
    return answer


def _get_json(
    http: PeerClient, url: str, headers: Mapping[str, str], *, what: str
) -> dict[str, Any]:
    answer = _get(http, url, headers)
    if answer.status_code == 404:
        raise RequestError(ErrorCode.NOT_FOUND, f"the registry has no {what}")
    try:
        data = answer.json()
    except PeerError as exc:
        raise _malformed(f"the registry's answer for {what} is not JSON ({exc.message})") from exc
    if not isinstance(data, dict):
        raise _malformed(f"the registry's answer for {what} is not a JSON object")
    return data
