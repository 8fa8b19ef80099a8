"""Settings of the offline-code print service (environment prefix `HC_OFFLINE_`)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from healthcode.fetch import PEER_BOUNDS, ReadBounds
from offline.sheet import MAX_ISSUER_NAME_CHARS


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
    #: issuer id -> name printed on the code, e.g. {"cn-sc": "四川省卫生健康委员会"}. Optional:
    #: by default the name is the one the issuer gives in its answer (`issuer_name`); a code
    #: whose issuer is named by neither is refused, never printed without a name.
    issuer_names: dict[str, str] = {}
    #: Resolution of PNG output.
    png_dpi: int = 150
    host: str = "127.0.0.1"
    port: int = 8004
    log_level: str = "info"
    #: "json": one JSON object per line with a request id (healthcode.server.logs); "text".
    log_format: Literal["json", "text"] = "json"

    @field_validator("issuer_names")
    @classmethod
    def _names_are_printable(cls, names: dict[str, str]) -> dict[str, str]:
        for issuer, name in names.items():
            if not name.strip() or len(name.strip()) > MAX_ISSUER_NAME_CHARS:
                raise ValueError(
                    f"issuer_names[{issuer!r}] must be 1..{MAX_ISSUER_NAME_CHARS} characters"
                )
        return {issuer: " ".join(name.split()) for issuer, name in names.items()}


def issuer_bounds(settings: OfflineSettings) -> ReadBounds:
    """How much of the issuer's answer is read, and for how long (docs/peer-bounds.md)."""
    return dataclasses.replace(PEER_BOUNDS.service_call, deadline_s=settings.issuer_timeout_s)
