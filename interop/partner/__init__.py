"""The partner-region API (standard §10): the router an issuer mounts at `/partner/v1`."""

from interop.partner.assertions import make_client_assertion, verify_client_assertion
from interop.partner.guard import RateLimitedError
from interop.partner.router import PartnerBackend, create_partner_router

__all__ = [
    "PartnerBackend",
    "RateLimitedError",
    "create_partner_router",
    "make_client_assertion",
    "verify_client_assertion",
]
