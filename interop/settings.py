"""Settings of the trust registry (environment prefix `HC_INTEROP_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from healthcode.server import ServiceSettings
from healthcode.server.settings import DEMO_SECRET_PREFIX
from healthcode.trustlist import MAX_TIMESTAMP_VALIDITY_S

__all__ = ["InteropSettings"]


class InteropSettings(ServiceSettings):
    """Where the registry keeps its data and root keys, and who may administer it."""

    model_config = SettingsConfigDict(env_prefix="HC_INTEROP_", extra="ignore")

    database_url: str = "sqlite:///./registry.db"
    redis_url: str | None = None  # the registry itself needs no Redis
    port: int = 8100
    #: directory of root-N.json documents and keys/<kid>.pem (see interop.registry.signing)
    root_keys_dir: Path = Path("./registry-root")
    #: bearer token of the registry_admin role; must be set outside demo mode
    admin_token: SecretStr = SecretStr(DEMO_SECRET_PREFIX + "registry-admin-token-change-me")
    #: named registry_admin accounts, name -> bearer token, so the audit log names the officer
    #: (JSON in HC_INTEROP_ADMIN_TOKENS). `admin_token` stays the account "registry_admin".
    admin_tokens: dict[str, SecretStr] = Field(default_factory=dict)
    #: lifetime of each published trust list (§7.2: at most 7 days)
    trust_list_lifetime_s: int = Field(default=7 * 24 * 3600, ge=3600, le=7 * 24 * 3600)
    #: re-sign the unchanged state as a new version this often (§7.2: at least daily); with
    #: the root keys offline a pending version is prepared for the officers to cosign instead
    trust_list_republish_s: int = Field(default=24 * 3600, ge=60, le=24 * 3600)
    #: a fresh timestamp (§7.7) is signed this often by the online key: at least hourly
    timestamp_interval_s: int = Field(default=900, ge=1, le=3600)
    #: lifetime of each timestamp; past it a client refuses the timestamp (freeze)
    timestamp_lifetime_s: int = Field(default=24 * 3600, ge=60, le=MAX_TIMESTAMP_VALIDITY_S)
    #: §7.4: a rotated-in key signs only this long after the list listing it is published, so
    #: verifiers refreshing at this interval or faster know it first; the old key stays valid
    #: for codes issued until then (plus the clock skew)
    key_activation_delay_s: int = Field(default=300, ge=0, le=24 * 3600)
    #: with the root keys offline, officers must cosign a rotation within this window, or the
    #: old key's window closes before the new key is listed
    cosign_window_s: int = Field(default=24 * 3600, ge=600, le=7 * 24 * 3600)

    @field_validator("admin_tokens")
    @classmethod
    def _admin_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, token in value.items():
            if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 48:
                raise ValueError(f"admin account name {name!r} must be 1-48 of a-z, 0-9, - and _")
            if len(token.get_secret_value()) < 16:
                raise ValueError(f"the token of admin account {name!r} must be >= 16 characters")
        return value
