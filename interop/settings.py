"""Settings of the trust registry (environment prefix `HC_INTEROP_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from healthcode.server import ServiceSettings
from healthcode.server.settings import DEMO_SECRET_PREFIX

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
    #: lifetime of each published trust list (§7.2: at most 7 days)
    trust_list_lifetime_s: int = 7 * 24 * 3600
