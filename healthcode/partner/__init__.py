"""The partner-region API's wire formats and caller side (standard §10; ADR 0016).

Client assertions (§10.1) are made by callers and checked by callees, so both live in the core;
`PartnerClient` makes the calls. The router callees mount is `healthcode.server.partner`.
"""

from healthcode.partner.assertions import (
    MAX_ASSERTION_LIFETIME_S,
    PartnerRefused,
    VerifiedAssertion,
    make_client_assertion,
    verify_client_assertion,
)
from healthcode.partner.client import PartnerClient

__all__ = [
    "MAX_ASSERTION_LIFETIME_S",
    "PartnerClient",
    "PartnerRefused",
    "VerifiedAssertion",
    "make_client_assertion",
    "verify_client_assertion",
]
