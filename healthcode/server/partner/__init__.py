"""The partner-region API's server side (standard §10): the router every issuer mounts at
`/partner/v1`, and the shared replay and rate-limit guard behind it (ADR 0016).

The router is plumbing like the rest of `healthcode.server`: it checks client assertions,
replays, rate limits and bodies, and asks the issuer's `PartnerBackend` for the answers.
"""

from healthcode.server.partner.guard import (
    MemoryPartnerGuard,
    PartnerGuard,
    RedisPartnerGuard,
)
from healthcode.server.partner.router import PartnerBackend, create_partner_router

__all__ = [
    "MemoryPartnerGuard",
    "PartnerBackend",
    "PartnerGuard",
    "RedisPartnerGuard",
    "create_partner_router",
]
