"""Verifying what a checkpoint reads, and the answer its screen shows.

`Checkpoint.verify_text` takes what a scanner typed or a camera decoded, verifies it against
the current trust list and the synced revocation data, and returns a `ScanAnswer`: the colour
(or the error), the reason in Chinese and English, the masked name, ID tail, issuer, code kind,
validity left, the checks that ran and what could not be checked and since when.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from healthcode.config import DEFAULT_LIMITS, Limits
from healthcode.credential import REASON_LABELS, CodeKind
from healthcode.errors import ERROR_INFO, ErrorCode, HealthcodeError, VerificationError
from healthcode.qr import decode_image
from healthcode.trust import Profile, RevocationChecker, TrustStore
from healthcode.verify import (
    Check,
    CheckOutcome,
    ExpectedHolder,
    ExpectedSubject,
    VerificationResult,
    verify_credential,
)
from verifiers.published import PublishedRevocations
from verifiers.revocations import RevocationCache
from verifiers.trustsource import TrustSource

#: What the screen shows: a colour; "card" (a verified SMART Health Card, no colour);
#: "unconfirmed" (status_unconfirmed: a genuine code whose revocation status is unknown, so
#: staff check the ID or call the hotline); or "error" when nothing may be shown as a colour.
Display = str


def normalise_scan(text: str) -> str:
    """Strip the one line ending (CR, LF, CRLF) or whitespace a hardware scanner appends."""
    if text.endswith("\r\n"):
        return text[:-2]
    if text[-1:].isspace():
        return text[:-1]
    return text


@dataclass(slots=True)
class ScanAnswer:
    """The verdict of one scan, as JSON for the staff screen (`to_json`)."""

    result: VerificationResult
    mode: str
    trust_status: Mapping[str, Any]
    unchecked: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def display(self) -> Display:
        credential = self.result.credential
        if self.result.valid and credential is not None:
            return credential.status._value_
        if self.result.valid and self.result.profile is Profile.SHC:
            return "card"  # a verified SMART Health Card: facts, but no colour (standard §8)
        if self.result.error is ErrorCode.STATUS_UNCONFIRMED:
            return "unconfirmed"  # not a forgery: its own screen, never green (§5.3)
        return "error"

    @property
    def subject(self) -> str | None:
        """The credential's pseudonymous subject (never an ID number), for the scan log."""
        return self.result.credential.subject if self.result.credential else None

    def to_json(self) -> dict[str, Any]:
        """The answer: the result's JSON without private members, plus what the screen shows.

        An answer with a credential (every verified health code, the common case by far) is
        built here directly: the generic `VerificationResult.to_json`, trimmed afterwards,
        costs more than the rest of the answer together. Same members, same order
        (tests/verifiers/test_scan_answer.py compares the two). Enum values are read as
        `_value_` (the member's plain attribute; `.value` is a Python-level property).
        """
        out = self._result_json()
        self.add_screen_members(out)
        return out

    def _result_json(self) -> dict[str, Any]:
        """The result's members: built directly for a credential, else trimmed from the
        generic JSON."""
        result = self.result
        credential = result.credential
        if credential is None:
            out = result.to_json()
            for private in ("subject", "kid", "jti", "source"):
                out.pop(private, None)
        else:
            error, profile = result.error, result.profile
            out = {
                "valid": result.valid,
                "error": error._value_ if error is not None else None,
                "message": result.message,
                "issuer": result.issuer,
                "issuer_name": result.issuer_name,
                "profile": profile._value_ if profile is not None else None,
                "checked_at": result.checked_at,
                "checks": _checks_json(result.checks),
                "notes": list(result.notes),
            }
            if error is not None:
                info = ERROR_INFO[error]
                out["error_text"] = {"en": info.en, "zh": info.zh}
            out["status"] = credential.status._value_
            out["reason"] = credential.reason._value_
            out["masked_name"] = credential.masked_name
            out["id_tail"] = credential.id_tail
            out["kind"] = credential.kind._value_
            out["issued_at"] = credential.issued_at
            out["expires_at"] = credential.expires_at
        return out

    def add_screen_members(self, out: dict[str, Any]) -> None:
        """Add what the screen shows to the result's members (after them, in this order)."""
        result = self.result
        credential = result.credential
        out["display"] = self.display
        out["mode"] = self.mode
        if credential is not None:
            zh, en = REASON_LABELS[credential.reason]
            out["reason_text"] = {"zh": zh, "en": en}
            out["validity_left_s"] = max(0, credential.expires_at - result.checked_at)
            out["offline_code"] = credential.kind is CodeKind.OFFLINE
        if result.error is not None:
            info = ERROR_INFO[result.error]
            out["hint"] = info.hint
            # What the screen says to staff: what happened and what to do (standard §9).
            out["staff_text"] = {"zh": info.staff_zh, "en": info.staff_en}
        out["trust_list"] = dict(self.trust_status)
        out["unchecked"] = self.unchecked
        out.update(self.extra)


_CHECKS_JSON: dict[tuple[tuple[Check, CheckOutcome], ...], dict[str, str]] = {}


def _checks_json(checks: Mapping[Check, CheckOutcome]) -> dict[str, str]:
    """`{check: outcome}` as JSON strings; the few combinations that occur are remembered."""
    key = tuple(checks.items())
    cached = _CHECKS_JSON.get(key)
    if cached is None:
        cached = {check.value: outcome.value for check, outcome in key}
        if len(_CHECKS_JSON) < 1024:  # bounded, whatever results come in
            _CHECKS_JSON[key] = cached
    return dict(cached)  # a copy: the caller owns its answer


class Checkpoint:
    """The verification core of one checkpoint: trust source, revocation data, limits."""

    def __init__(
        self,
        trust_source: TrustSource,
        revocations: RevocationCache,
        *,
        limits: Limits = DEFAULT_LIMITS,
        max_image_bytes: int = 5 * 1024 * 1024,
        published_revocations: PublishedRevocations | None = None,
    ) -> None:
        self.trust_source = trust_source
        self.revocations = revocations
        self.published_revocations = published_revocations
        self.limits = limits
        self.max_image_bytes = max_image_bytes

    def trust(self) -> TrustStore:
        """The trust store in force (raises TrustUnavailable when none is held)."""
        return self.trust_source.current()

    def trust_status(self, now: float) -> dict[str, Any]:
        status = dict(self.trust_source.status())
        store = None
        try:
            store = self.trust()
        except HealthcodeError:
            status["available"] = False
        if store is not None:
            status["available"] = True
            if store.signed_at is not None:
                status["age_s"] = int(now - store.signed_at)
            status.setdefault("version", store.version)
        return status

    def verify_text(
        self,
        text: str,
        *,
        now: float | None = None,
        mode: str = "qr",
        revocations: RevocationChecker | None = None,
        expect: ExpectedSubject | None = None,
        holder: ExpectedHolder | None = None,
    ) -> ScanAnswer:
        """Verify scanned text (hc:/, shc:/, compact JWS); bad input gives an error answer.
        `expect`: whom an ID-card read asked about, `holder`: whose code it must be (scan +
        tap); both are steps of the verification."""
        at = time.time() if now is None else now
        checker = (
            revocations
            if revocations is not None
            else self.revocations.checker(at, self.published_revocations)
        )
        result = verify_credential(
            normalise_scan(text),
            self.trust(),
            at,
            limits=self.limits,
            revocations=checker,
            expect=expect,
            holder=holder,
        )
        return ScanAnswer(
            result=result,
            mode=mode,
            trust_status=self.trust_status(at),
            # A caller's own checker (an ID-card read's live answer) is not the synced data.
            unchecked=self._unchecked(result, at, synced=revocations is None),
        )

    def verify_image(
        self, data: bytes | None, *, now: float | None = None, max_bytes: int | None = None
    ) -> list[ScanAnswer]:
        """Decode every QR code in a photo/screenshot and verify each (reading order).

        An image that cannot be used is a verdict too, as for scanned text (§9: a verification
        call answers its failures as results): one `input_too_large` answer for `data` None
        (the photo was over `max_bytes`) or too many pixels, one `malformed_input` answer for
        bytes that are no image or hold no QR code.
        """
        at = time.time() if now is None else now
        try:
            if data is None:
                raise VerificationError(
                    ErrorCode.INPUT_TOO_LARGE,
                    f"the photo is over {max_bytes} bytes; send a smaller or cropped one",
                )
            texts = decode_image(data)
        except VerificationError as error:
            result = VerificationResult(
                valid=False,
                error=error.code,
                message=error.message,
                checked_at=int(at),
                checks=MappingProxyType({Check.FORMAT: CheckOutcome.FAILED}),
            )
            return [ScanAnswer(result=result, mode="image", trust_status=self.trust_status(at))]
        return [self.verify_text(text, now=at, mode="image") for text in texts]

    def _unchecked(
        self, result: VerificationResult, at: float, *, synced: bool = True
    ) -> list[dict[str, Any]]:
        """What could not be checked, and since when (the staff screen lists these).

        `within_policy` tells the screen whether the verdict still stands as shown (offline,
        but the data held is within the configured limits) or is the reason for it.
        """
        items: list[dict[str, Any]] = []
        issuer = result.issuer
        revocation = result.checks.get(Check.REVOCATION)
        revocable = result.profile is not Profile.SHC  # shc cards carry no jti (§5.3)
        state = self.revocations.state(issuer) if issuer else None
        if result.error is ErrorCode.STATUS_UNCONFIRMED or (
            revocation is CheckOutcome.NOT_CHECKED and revocable
        ):
            as_of = state.as_of if state else None
            suffix_en, suffix_zh = (
                ("", "") if as_of is None else (" (data too old)", "（数据过旧）")
            )
            items.append(
                _unchecked_item(
                    "revocation",
                    as_of,
                    at,
                    within_policy=False,
                    en="revocation status could not be confirmed" + suffix_en,
                    zh="无法确认是否已作废" + suffix_zh,
                )
            )
        elif revocation is CheckOutcome.PASSED and revocable and synced:
            if state is not None and state.last_error is not None:
                items.append(
                    _unchecked_item(
                        "revocation_sync",
                        state.as_of,
                        at,
                        within_policy=True,
                        en="offline: revocation data from the last sync",
                        zh="离线：使用上次同步的作废数据",
                    )
                )
            published = self.published_revocations
            if published is not None and not published.status.current:
                items.append(
                    _unchecked_item(
                        "published_revocations",
                        published.status.synced_at,
                        at,
                        within_policy=True,
                        en="instant revocations unreachable: revocation data from the last sync",
                        zh="即时作废数据不可达：使用上次同步的作废数据",
                    )
                )
        trust_check = result.checks.get(Check.TRUST_LIST)
        stale = trust_check is CheckOutcome.STALE
        if stale:
            expired_at = getattr(self.trust_source.current(), "expires_at", None)
            items.append(
                _unchecked_item(
                    "trust_list",
                    expired_at,
                    at,
                    within_policy=False,
                    en="trust list expired (grace period)",
                    zh="信任列表已过期（宽限期）",
                )
            )
        outage = self.trust_source.outage() if trust_check is not None else None
        if outage is not None:
            items.append(
                _unchecked_item(
                    "trust_list_sync",
                    outage.since,
                    at,
                    within_policy=not stale,
                    en="offline: trust list from the last update",
                    zh="离线：使用上次更新的信任列表",
                )
            )
        return items


def _unchecked_item(
    check: str, since: float | None, at: float, *, within_policy: bool, en: str, zh: str
) -> dict[str, Any]:
    """One entry of an answer's `unchecked` list (standard §6.2 notes, for the screen)."""
    return {
        "check": check,
        "since": since,
        "age_s": None if since is None else max(0, int(at - since)),
        "within_policy": within_policy,
        "text": {"en": en, "zh": zh},
    }
