"""Settings of the checkpoint verifier service (environment prefix `HC_VERIFIER_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from healthcode.server import ServiceSettings
from healthcode.server.settings import DEMO_SECRET_PREFIX

#: The most scans one batch request may hold (the request model's bound; `max_batch` <= this).
MAX_BATCH_SCANS = 100
#: Audit records are kept at least this long: the Cybersecurity Law (网络安全法, art. 21)
#: requires network logs to be kept for no less than six months (verifiers/README.md).
MIN_AUDIT_RETENTION_DAYS = 180


class LocalIssuer(BaseModel):
    """Metadata of a locally configured issuer (used until the signed trust list is wired)."""

    name: str | None = None
    region: str | None = None  # GB/T 2260 code of the province it serves, e.g. "510000"
    endpoints: dict[str, str] = Field(default_factory=dict)


class VerifierSettings(ServiceSettings):
    """Everything a checkpoint needs; every field can be set as `HC_VERIFIER_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="HC_VERIFIER_", extra="ignore")

    database_url: str = "sqlite:///./checkpoint.db"
    #: Redis of this checkpoint site (ID-card answer cache); optional, failures are tolerated.
    redis_url: str | None = None
    #: This checkpoint's id as recorded in the scan log and sent to the issuer.
    checkpoint_id: str = "checkpoint-1"
    #: Base URL of this province's issuer service (ID-card look-ups go there).
    issuer_url: str | None = None
    #: Device account of this checkpoint at its issuer (role `checkpoint`): the service logs in
    #: and renews its token itself. `issuer_token` is a fixed token instead (tests, short runs).
    issuer_username: str | None = None
    issuer_password: SecretStr | None = None
    issuer_token: SecretStr | None = None
    #: Key of the HMAC that turns ID numbers into cache keys; never the raw number.
    lookup_secret: SecretStr = SecretStr(DEMO_SECRET_PREFIX + "checkpoint-lookup-secret-01234567")
    #: Key of the pseudonym written to the scan log for ID-card reads.
    subject_secret: SecretStr = SecretStr(DEMO_SECRET_PREFIX + "checkpoint-subject-secret-0123456")

    # -- trust: either the registry (signed trust list) or local JWKS files
    registry_url: str | None = None
    pinned_root: Path | None = None
    #: issuer id -> JWKS file; a local, unsigned trust store (tests, demos, single province)
    trust_jwks: dict[str, Path] = Field(default_factory=dict)
    #: issuer id -> name/region/endpoints for the `trust_jwks` issuers
    trust_issuers: dict[str, LocalIssuer] = Field(default_factory=dict)

    #: Redis where issuers publish `hc:revoked:{iss}` (optional): revocations take effect there
    #: before the next sync. Freshness still comes from the signed lists.
    revocation_redis_url: str | None = None
    #: Directory for the trust-list cache and revocation state (survives restarts, offline use).
    state_dir: Path = Path("./checkpoint-state")
    #: Revocation data older than this gives `status_unconfirmed`, never green (standard §5.3).
    max_revocation_age_s: int = 900
    #: Each source (the registry, every issuer or partner) syncs this often, in its own worker.
    revocation_sync_interval_s: float = 30.0
    #: A registry refresh (roots, list, timestamp) ends within this, whatever the registry does.
    registry_sync_deadline_s: float = Field(default=30.0, gt=0)
    #: One issuer's revocation pull ends within this; it never holds up another source's.
    revocation_sync_deadline_s: float = Field(default=20.0, gt=0)
    #: How often the in-memory copy of the `revocation_redis_url` sets is refreshed.
    revocation_mirror_interval_s: float = Field(default=2.0, gt=0)
    #: Run background loops (revocation sync, trust refresh, scan-log purge).
    background_tasks: bool = True

    lookup_cache_ttl_s: int = Field(default=60, ge=0, le=60)  # standard §10.7: at most 60 s
    lookup_timeout_s: float = 5.0
    max_image_bytes: int = 5 * 1024 * 1024
    #: Any other request body over this is refused unread (413 input_too_large).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_batch: int = Field(default=MAX_BATCH_SCANS, ge=1, le=MAX_BATCH_SCANS)
    scan_retention_days: int = Field(default=28, ge=1)
    #: Audit records (look-ups, exports, logins, accounts) are purged after this many days.
    audit_retention_days: int = MIN_AUDIT_RETENTION_DAYS
    #: Scan records are written to the database in batches this often.
    scan_log_flush_s: float = 0.2
    #: Journal each scan record under `state_dir` and sync it before the answer leaves, so a
    #: crash loses no answered scan (ADR 0020); off, a crash loses up to `scan_log_flush_s`.
    scan_journal: bool = True
    purge_interval_s: float = Field(default=3600.0, gt=0)
    session_lifetime_s: int = 12 * 3600
    #: Failed logins allowed per username within the window (4x that per client address),
    #: after which login answers 429 account_locked until the window has passed.
    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window_s: int = Field(default=300, ge=1)

    #: TLS certificate and key (PEM) to serve HTTPS: a browser opens the camera only on a
    #: secure page, so a tablet on the LAN needs them (`healthcode checkpoint make-cert`).
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None

    # -- scan + tap (standard §6.4, ADR 0014)
    #: A code scan and an ID-card read this close together, either order, on one device or
    #: staff session, are compared: does the code belong to the card's holder?
    scan_tap_window_s: float = Field(default=20.0, gt=0, le=300)
    #: Every code must be paired with the holder's ID card before the screen shows its colour.
    scan_tap_required: bool = False

    # -- staff page
    #: A result goes back to the idle screen after this many seconds (with a countdown), so the
    #: next person cannot walk through on the last person's green.
    result_display_s: float = Field(default=5.0, ge=0.5, le=60)
    #: Shown with "status could not be confirmed": whom staff call (e.g. "12320").
    hotline: str | None = Field(default=None, max_length=40)

    @model_validator(mode="after")
    def _tls_files_come_in_pairs(self) -> VerifierSettings:
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("set both tls_certfile and tls_keyfile, or neither")
        return self

    @model_validator(mode="after")
    def _audit_retention_is_lawful(self) -> VerifierSettings:
        if self.audit_retention_days < MIN_AUDIT_RETENTION_DAYS:
            raise ValueError(
                f"audit_retention_days must be at least {MIN_AUDIT_RETENTION_DAYS} "
                f"(network logs are kept six months or more), got {self.audit_retention_days}"
            )
        return self
