"""Settings of a province issuer service, read from `HC_ISSUER_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from healthcode.config import MAX_OFFLINE_CODE_LIFETIME_S, MAX_PHONE_CODE_LIFETIME_S
from healthcode.credential import ISSUER_ID_PATTERN
from healthcode.server.settings import DEMO_SECRET_PREFIX, ServiceSettings

_DATA_DIR = Path(__file__).parent / "data"


class IssuerSettings(ServiceSettings):
    """One province issuer: who it is, where it stores data, how long its codes live."""

    model_config = SettingsConfigDict(env_prefix="HC_ISSUER_", extra="ignore")

    issuer_id: str = "cn-sc"
    issuer_name: str = "四川省 Sichuan"
    #: GB/T 2260 code of the province served, e.g. 510000.
    region: str = "510000"
    database_url: str = "sqlite:///./issuer.db"
    key_dir: Path = Path("./issuer-keys")
    #: Rules file (TOML or JSON); default: the packaged `issuers/data/rules-<province>.toml`.
    rules_file: Path | None = None
    #: HMAC secret for `pseudonymous_subject` and the name check; shared by nothing else.
    subject_secret: SecretStr = SecretStr(DEMO_SECRET_PREFIX + "subject-secret-change-me-012345")
    code_lifetime_s: int = 3600
    offline_lifetime_s: int = MAX_OFFLINE_CODE_LIFETIME_S
    #: Lifetime of the status credential answered to checkpoints and partners (standard §10.2).
    lookup_lifetime_s: int = 300
    access_token_lifetime_s: int = 3600
    #: Family: dependants one guardian may hold (Sichuan: 5), guardians one person may have,
    #: and how long an adult has to answer a binding request.
    family_max_dependants: int = Field(default=5, ge=1, le=20)
    family_max_guardians: int = Field(default=3, ge=1, le=10)
    family_request_lifetime_s: int = Field(default=7 * 86400, ge=60)
    #: The print service (offline/) the citizen app's PDFs are made by (ADR 0012); None: the
    #: print endpoints answer upstream_unavailable.
    print_url: str | None = None
    #: How long a replica trusts its last look-up of a session (logout, disabled account).
    session_cache_s: float = 1.0
    otp_lifetime_s: int = 300
    #: A phone gets at most one new login code per this many seconds.
    otp_resend_interval_s: int = 30
    #: Wrong guesses allowed against one one-time code.
    otp_max_attempts: int = 5
    #: Wrong one-time codes per phone within the window before the phone is locked out.
    otp_failure_limit: int = 10
    otp_failure_window_s: int = 3600
    #: One-time codes requested per phone, and per client address, within the window.
    otp_request_limit: int = 5
    otp_request_limit_per_address: int = 30
    otp_request_window_s: int = 3600
    #: Failed staff logins per account, and per client address, within the window.
    login_failure_limit: int = 5
    login_failure_limit_per_address: int = 20
    login_failure_window_s: int = 900
    #: Delivery of one-time codes outside demo mode: an SMS gateway's webhook (POST JSON
    #: {"phone","code","expires_at","issuer","text"}, bearer `otp_webhook_token`).
    otp_webhook_url: str | None = None
    otp_webhook_token: SecretStr | None = None
    otp_webhook_timeout_s: float = 5.0
    #: Redis: per-command timeout in the request path, and the circuit breaker's retry interval.
    redis_timeout_s: float = 0.5
    redis_retry_interval_s: float = 5.0
    #: Largest request body accepted, except feed uploads (`max_feed_bytes`).
    max_request_bytes: int = 64 * 1024
    #: This service's base URL as listed in the trust list (partner `aud` is base + /partner/v1).
    public_url: str = "http://127.0.0.1:8000"
    #: Trust registry for cross-province look-ups (optional; without it they answer 503).
    registry_url: str | None = None
    pinned_root: Path | None = None
    trust_cache_dir: Path = Path("./issuer-trust-cache")
    #: Key that signs this issuer's partner client assertions (standard §10.1).
    partner_key_file: Path | None = None
    import_batch_size: int = 1000
    #: Largest feed upload accepted by the API (the CLI has no limit).
    max_feed_bytes: int = 2 << 30
    partner_rate_limit_per_minute: int = 600
    #: How often partners' revocation feeds are fetched and applied (the first round at start).
    partner_sync_interval_s: float = 60.0
    #: How often logins expired more than a day ago are deleted.
    session_purge_interval_s: float = 3600.0

    @field_validator("issuer_id")
    @classmethod
    def _issuer_id(cls, value: str) -> str:
        if not ISSUER_ID_PATTERN.fullmatch(value):
            raise ValueError("issuer_id must be a registry id like 'cn-sc'")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if len(value) != 6 or not value.isdigit() or not value.endswith("0000"):
            raise ValueError("region must be a 6-digit province-level GB/T 2260 code like 510000")
        return value

    @field_validator("code_lifetime_s")
    @classmethod
    def _code_lifetime(cls, value: int) -> int:
        if not 0 < value <= MAX_PHONE_CODE_LIFETIME_S:
            raise ValueError(f"code_lifetime_s must be 1..{MAX_PHONE_CODE_LIFETIME_S}")
        return value

    @field_validator("offline_lifetime_s")
    @classmethod
    def _offline_lifetime(cls, value: int) -> int:
        if not 0 < value <= MAX_OFFLINE_CODE_LIFETIME_S:
            raise ValueError(f"offline_lifetime_s must be 1..{MAX_OFFLINE_CODE_LIFETIME_S}")
        return value

    @field_validator("partner_sync_interval_s", "session_purge_interval_s")
    @classmethod
    def _interval(cls, value: float, info: ValidationInfo) -> float:
        if not value > 0:
            raise ValueError(f"{info.field_name} must be more than 0 seconds")
        return value

    @field_validator("otp_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not value.startswith(("https://", "http://")):
            raise ValueError("otp_webhook_url must be an http(s) URL")
        return value

    @property
    def subject_key(self) -> bytes:
        return self.subject_secret.get_secret_value().encode("utf-8")

    @property
    def partner_audience(self) -> str:
        return self.public_url.rstrip("/") + "/partner/v1"

    def resolved_rules_file(self) -> Path:
        """The rules file to load: the setting, else the packaged file of this province."""
        if self.rules_file is not None:
            return self.rules_file
        province = self.issuer_id.removeprefix("cn-")
        for candidate in (
            _DATA_DIR / f"rules-{self.issuer_id}.toml",
            _DATA_DIR / f"rules-{province}.toml",
        ):
            if candidate.exists():
                return candidate
        packaged = sorted(_DATA_DIR.glob("rules-*.toml"))
        if not packaged:
            raise RuntimeError("no rules file: set HC_ISSUER_RULES_FILE")
        return packaged[0]
