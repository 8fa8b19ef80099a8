"""Settings of the offline-code print service (environment prefix `HC_OFFLINE_`)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class OfflineSettings(BaseSettings):
    """Every field can be set as `HC_OFFLINE_<NAME>` (dicts as JSON).

    This service holds no secret of its own: it forwards the caller's bearer token to the
    issuer, which authenticates and role-checks the request. So it does not derive from
    `ServiceSettings`, whose token secret it would never use.
    """

    model_config = SettingsConfigDict(env_prefix="HC_OFFLINE_", extra="ignore")

    #: Base URL of this province's issuer service (it issues the 7-day offline credentials).
    issuer_url: str = "http://127.0.0.1:8001"
    issuer_timeout_s: float = 10.0
    #: The print audit log (its own database; SQLite by default, PostgreSQL by URL).
    audit_database_url: str = "sqlite:///./offline-audit.db"
    #: issuer id -> name printed on the code, e.g. {"cn-sc": "四川省卫生健康委员会"}.
    issuer_names: dict[str, str] = {}
    #: Resolution of PNG output.
    png_dpi: int = 150
    host: str = "127.0.0.1"
    port: int = 8004
    log_level: str = "info"
