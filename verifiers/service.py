"""`CheckpointService`: everything one checkpoint process holds, with plain operations.

Routes (`verifiers.routes`), the scan handler (`verifiers.hotpath`) and the jobs call these
methods; tests call them directly. A refused request raises `HealthcodeError`.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from healthcode.errors import ErrorCode, HealthcodeError, RequestError, TrustUnavailable
from healthcode.fetch import PEER_BOUNDS, PeerClient
from healthcode.idnumber import ResidentId, parse_id_number, pseudonymous_subject
from healthcode.peersync import PeerSyncs
from healthcode.server.redis_client import connect_redis
from verifiers.auth import Authenticator, LoginThrottle, Principal, Role, require_role
from verifiers.binding import HolderBinding
from verifiers.lookup import IssuerCredential, StatusLookup
from verifiers.observability import count_scan
from verifiers.published import PublishedRevocations
from verifiers.revocations import RevocationCache
from verifiers.scan import Checkpoint, ScanAnswer
from verifiers.scanlog import ScanLog, make_engine
from verifiers.settings import VerifierSettings
from verifiers.trustsource import TrustSource, trust_source_from_settings


class CheckpointService:
    """Everything one checkpoint process holds, with the operations routes and jobs call."""

    def __init__(self, settings: VerifierSettings, trust_source: TrustSource | None = None) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        self.scan_log = ScanLog(
            self.engine,
            settings.checkpoint_id,
            flush_interval_s=settings.scan_log_flush_s,
            # Replayed here if the last process died before its batch reached the database.
            journal_path=settings.state_dir / "scan-journal.jsonl"
            if settings.scan_journal
            else None,
        )
        self.auth = Authenticator(
            self.engine,
            settings.token_secret.get_secret_value().encode("utf-8"),
            settings.session_lifetime_s,
        )
        self.trust_source = trust_source or trust_source_from_settings(settings)
        self.revocations = RevocationCache(
            settings.state_dir,
            max_age_s=settings.max_revocation_age_s,
            timeout_s=settings.lookup_timeout_s,
        )
        # Read in the background only (the scan path asks the in-memory copy); a failed
        # refresh is retried on the next round, not inside it.
        self.published_revocations = (
            PublishedRevocations(
                connect_redis(settings.revocation_redis_url, timeout_s=1.0),
                carry_s=settings.max_revocation_age_s,
            )
            if settings.revocation_redis_url
            else None
        )
        self.checkpoint = Checkpoint(
            self.trust_source,
            self.revocations,
            max_image_bytes=settings.max_image_bytes,
            published_revocations=self.published_revocations,
        )
        self.http = PeerClient()
        self.syncs = PeerSyncs()
        if self.trust_source.status().get("source") == "registry":
            self.syncs.put(
                "registry",
                "registry",
                self._sync_registry,
                interval_s=settings.revocation_sync_interval_s,
                deadline_s=settings.registry_sync_deadline_s,
            )
        self._put_issuer_sources()
        self.redis = (
            connect_redis(settings.redis_url, timeout_s=0.5) if settings.redis_url else None
        )
        self.lookup = StatusLookup(
            self.checkpoint,
            issuer_url=settings.issuer_url,
            issuer_credential=IssuerCredential(
                token=settings.issuer_token.get_secret_value() if settings.issuer_token else None,
                username=settings.issuer_username,
                password=(
                    settings.issuer_password.get_secret_value()
                    if settings.issuer_password
                    else None
                ),
            ),
            checkpoint_id=settings.checkpoint_id,
            cache_secret=settings.lookup_secret.get_secret_value().encode("utf-8"),
            redis_client=self.redis,
            http=self.http,
            cache_ttl_s=settings.lookup_cache_ttl_s,
            bounds=dataclasses.replace(
                PEER_BOUNDS.status_lookup, deadline_s=settings.lookup_timeout_s
            ),
        )
        self._subject_secret = settings.subject_secret.get_secret_value().encode("utf-8")
        self.login_throttle = LoginThrottle(
            self.engine,
            settings.token_secret.get_secret_value().encode("utf-8"),
            max_failures=settings.login_max_failures,
            window_s=settings.login_failure_window_s,
        )
        # Scan + tap (standard §6.4, ADR 0014): pairs a code and an ID card read together.
        self.binding = HolderBinding(
            settings.scan_tap_window_s, required=settings.scan_tap_required
        )

    def close(self) -> None:
        """Flush the scan log and release connections."""
        self.syncs.stop()
        self.scan_log.close()
        self.trust_source.close()
        self.http.close()
        if self.redis is not None:
            self.redis.close()
        if self.published_revocations is not None:
            self.published_revocations.close()
        self.engine.dispose()

    # -- jobs
    def sync_revocations(self) -> dict[str, str]:
        """Refresh the trust list, then pull every issuer's revocation list, each issuer in
        its own thread within its own deadline; issuer id -> outcome (never raises)."""
        if "registry" in self.syncs.names("registry"):
            self.syncs.run("registry")
        else:
            self._put_issuer_sources()
        return self.syncs.run_all_once("issuer")

    def _sync_registry(self) -> str:
        """The registry source's job: refresh, then follow the issuers the list names."""
        taken = self.trust_source.refresh()
        error = self.trust_source.status().get("last_error")
        self._put_issuer_sources()
        if isinstance(error, dict):
            raise TrustUnavailable(ErrorCode(error["code"]), str(error.get("message")))
        return "new list" if taken else "ok"

    def _put_issuer_sources(self) -> None:
        """One source per issuer with a revocations endpoint in the held trust list."""
        try:
            issuers = self.checkpoint.trust().issuers
        except HealthcodeError:
            return  # no list yet: the registry source adds them once it has one
        wanted = [i for i, entry in issuers.items() if entry.endpoints.get("revocations")]
        for issuer_id in wanted:
            self.syncs.put(
                issuer_id,
                "issuer",
                functools.partial(self._sync_issuer, issuer_id),
                interval_s=self.settings.revocation_sync_interval_s,
                deadline_s=self.settings.revocation_sync_deadline_s,
            )
        self.syncs.keep_only("issuer", wanted)

    def _sync_issuer(self, issuer_id: str) -> str:
        issuer = self.checkpoint.trust().issuers.get(issuer_id)
        if issuer is None or not issuer.endpoints.get("revocations"):
            return "no longer listed"
        return f"ok (+{self.revocations.sync_issuer(issuer, self.http)})"

    def refresh_published_revocations(self) -> bool:
        """Copy the issuers' published revocation sets from Redis into memory (never raises)."""
        if self.published_revocations is None:
            return False
        try:
            issuers = list(self.checkpoint.trust().issuers)
        except HealthcodeError:
            return False
        return self.published_revocations.refresh(issuers)

    def purge(self, now: datetime | None = None) -> dict[str, int]:
        """Delete scan records (28 days), audit records (180 days) and ended sessions."""
        return purge_records(self.scan_log, self.auth, self.settings, now=now)

    def status(self, now: float | None = None) -> dict[str, Any]:
        """What the staff screen shows in its status bar: data ages and offline state."""
        at = time.time() if now is None else now
        revocations = self.revocations.status(at)
        # Offline: some issuer's data is stale or its last sync failed, the registry does not
        # answer, or the published revocations cannot be read; since the oldest good data.
        lagging = [r for r in revocations.values() if not r["fresh"] or r["last_error"]]
        since = [item["as_of"] for item in lagging]
        trust_list = self.checkpoint.trust_status(at)
        outage = self.trust_source.outage()
        trust_list["offline_since"] = outage.since if outage else None
        if outage is not None:
            since.append(outage.since)
        published = self.published_revocations.to_json() if self.published_revocations else None
        if published is not None and not published["current"]:
            since.append(published["synced_at"])
        offline = (
            bool(lagging) or outage is not None or bool(published and not published["current"])
        )
        known = [moment for moment in since if moment is not None]
        sources = self.syncs.status()
        return {
            "checkpoint_id": self.settings.checkpoint_id,
            "checked_at": int(at),
            "trust_list": trust_list,
            "revocations": revocations,
            # Every source synced from, its state, age and last error; the staff page names
            # the failing ones in its header.
            "sources": sources,
            "failing_sources": [s["name"] for s in sources if s["state"] == "failing"],
            "published_revocations": published,
            "max_revocation_age_s": self.settings.max_revocation_age_s,
            "offline": offline,
            "offline_since": min(known) if known else None,
            "id_card_reads": self.settings.issuer_url is not None,
            "result_display_s": self.settings.result_display_s,
            "hotline": self.settings.hotline,
            "scan_tap_window_s": self.settings.scan_tap_window_s,
            "scan_tap_required": self.settings.scan_tap_required,
        }

    # -- staff sessions
    def login(self, username: str, password: str, address: str | None) -> tuple[str, Role]:
        """Log a staff member in: throttled, and audited whether it succeeds or not."""
        at = time.time()
        # Only existing account names go on record: people type passwords into the wrong field.
        actor = username if self.auth.user_exists(username) else "unknown-user"
        try:
            self.login_throttle.check(username, address, at)
            token, role = self.auth.login(username, password, now=at)
        except HealthcodeError as error:
            if error.code is not ErrorCode.ACCOUNT_LOCKED:
                self.login_throttle.failed(username, address, at)
            self.scan_log.audit(
                actor=actor,
                action="login_failed",
                detail=f"error={error.code.value} address={address or '-'}",
            )
            raise
        self.login_throttle.succeeded(username)
        self.scan_log.audit(actor=username, action="login", detail=f"address={address or '-'}")
        return token, role

    def logout(self, principal: Principal) -> bool:
        """End the caller's staff session server-side (a device token is left alone)."""
        ended = self.auth.logout(principal)
        if ended:
            self.scan_log.audit(actor=principal.actor, action="logout")
        return ended

    # -- scans
    def scan_text(self, text: str, principal: Principal, *, now: float | None = None) -> ScanAnswer:
        reader = principal.session_id or principal.actor
        holder = self.binding.expected(reader, "code", now)
        answer = self.checkpoint.verify_text(text, now=now, holder=holder)
        self.binding.settle(reader, "code", answer, holder, now)
        self.log_answers([answer], principal)
        return answer

    def scan_batch(
        self, texts: Sequence[str], principal: Principal, *, now: float | None = None
    ) -> list[ScanAnswer]:
        """Verify several scans; refuses more than `max_batch` before verifying any."""
        if len(texts) > self.settings.max_batch:
            raise RequestError(
                ErrorCode.INVALID_REQUEST,
                f"a batch holds at most {self.settings.max_batch} scans; split it",
            )
        answers = [self.checkpoint.verify_text(text, now=now, mode="batch") for text in texts]
        self.log_answers(answers, principal)
        return answers

    def scan_image(self, data: bytes | None, principal: Principal) -> list[ScanAnswer]:
        """Verify a photo's codes; `data` None: it was over the size limit (a verdict too)."""
        answers = self.checkpoint.verify_image(data, max_bytes=self.settings.max_image_bytes)
        self.log_answers(answers, principal)
        return answers

    def read_id_card(
        self,
        id_number: str,
        name: str | None,
        principal: Principal,
        *,
        assisted: bool,
        now: float | None = None,
    ) -> ScanAnswer:
        """ID-card read or assisted look-up; logged and audited, refusals included.

        Every record of a read names the person by the checkpoint's own pseudonym (an HMAC of
        the ID number under `subject_secret`), whatever the outcome, so all reads of one person
        link up; the issuer's `sub` is not available when a read is refused.
        """
        mode = "assisted" if assisted else "id_card"
        if assisted:
            try:
                require_role(principal, Role.STAFF, Role.OFFICIAL)
            except HealthcodeError as error:
                self.scan_log.audit(
                    actor=principal.actor, action=mode, detail=f"error={error.code.value}"
                )
                raise
        resident: ResidentId | None = None
        # An assisted look-up is for someone without a code: there is nothing to pair.
        reader = None if assisted else principal.session_id or principal.actor
        holder = self.binding.expected(reader, "card", now) if reader else None
        try:
            resident = parse_id_number(id_number)
            resident, answer = self.lookup.read(
                id_number, name, assisted=assisted, now=now, holder=holder
            )
        except HealthcodeError as error:
            subject = pseudonymous_subject(resident, self._subject_secret) if resident else None
            self._log_refusal(mode, principal, error, subject, resident)
            # The home issuer unreachable: a code scanned just before cannot be confirmed.
            binding = self.binding.card_unreachable(reader, error, now) if reader else None
            if binding is not None:
                error.details = {**(error.details or {}), **binding}
            raise
        except Exception:
            # A bug, answered 500: still on record who looked up whom, then fixed.
            subject = pseudonymous_subject(resident, self._subject_secret) if resident else None
            self.scan_log.audit(
                actor=principal.actor, action=mode, subject=subject, detail="error=internal"
            )
            raise
        if reader:
            self.binding.settle(reader, "card", answer, holder, now)
        subject = pseudonymous_subject(resident, self._subject_secret)
        self.log_answers([answer], principal, id_tail=resident.tail, subject=subject)
        self.scan_log.audit(
            actor=principal.actor,
            action=mode,
            subject=subject,
            detail=f"result={answer.display} error={answer.result.error or '-'}",
        )
        return answer

    def log_answers(
        self,
        answers: Sequence[ScanAnswer],
        principal: Principal,
        *,
        id_tail: str | None = None,
        subject: str | None = None,
    ) -> None:
        """Record answers in the scan log (`subject` overrides the credential's pseudonym)."""
        now = datetime.now(UTC)
        for answer in answers:
            count_scan(answer.display)
            result = answer.result
            credential = result.credential
            self.scan_log.record_scan(
                now,
                answer.mode,
                principal.actor,
                subject if subject is not None else answer.subject,
                credential.id_tail if credential else id_tail,
                result.issuer if result.valid else None,
                answer.display,
                result.error._value_ if result.error else None,
            )

    def _log_refusal(
        self,
        mode: str,
        principal: Principal,
        error: HealthcodeError,
        subject: str | None,
        resident: ResidentId | None,
    ) -> None:
        self.scan_log.record_scans(
            [
                {
                    "scanned_at": datetime.now(UTC),
                    "mode": mode,
                    "actor": principal.actor,
                    "subject": subject,
                    "id_tail": resident.tail if resident else None,
                    "issuer": None,
                    "result": "error",
                    "error": error.code.value,
                }
            ]
        )
        self.scan_log.audit(
            actor=principal.actor, action=mode, subject=subject, detail=f"error={error.code.value}"
        )


def purge_records(
    scan_log: ScanLog, auth: Authenticator, settings: VerifierSettings, *, now: datetime | None
) -> dict[str, int]:
    """The purge job: records past their retention go; a purge that deleted any is audited."""
    deleted = {
        "scans": scan_log.purge(retention_days=settings.scan_retention_days, now=now),
        "audit": scan_log.purge_audit(retention_days=settings.audit_retention_days, now=now),
        "sessions": auth.purge_sessions(now=now),
    }
    if deleted["scans"] or deleted["audit"]:
        scan_log.audit(
            actor="purge-job",
            action="purge",
            detail=f"scans={deleted['scans']} audit={deleted['audit']} retention_days="
            f"{settings.scan_retention_days}/{settings.audit_retention_days}",
        )
    return deleted
