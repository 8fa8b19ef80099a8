"""Settings shared by every service; each service subclasses with its own env prefix."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_SECRET_PREFIX = "demo-"


class ServiceSettings(BaseSettings):
    """Common settings. Subclasses set `model_config = SettingsConfigDict(env_prefix=...)`."""

    model_config = SettingsConfigDict(env_prefix="HC_", extra="ignore")

    #: Demo mode prints one-time codes on the console and allows demo secrets. Off by default.
    demo_mode: bool = False
    database_url: str = "sqlite:///./healthcode.db"
    redis_url: str | None = "redis://127.0.0.1:6379/0"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    #: "json": one JSON object per line with a request id (healthcode.server.logs); "text".
    log_format: Literal["json", "text"] = "json"
    #: Secret for access tokens (HMAC); must be set outside demo mode.
    token_secret: SecretStr = SecretStr(DEMO_SECRET_PREFIX + "token-secret-change-me-0123456789")

    @model_validator(mode="after")
    def _enforce_non_default_secrets(self) -> ServiceSettings:
        if self.demo_mode:
            return self
        for name, value in self:
            if isinstance(value, SecretStr) and value.get_secret_value().startswith(
                DEMO_SECRET_PREFIX
            ):
                raise ValueError(
                    f"setting {name!r} still holds its demo value; set a real secret through "
                    f"the environment, or enable demo mode for a local demo"
                )
        return self
