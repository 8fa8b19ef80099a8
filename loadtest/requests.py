"""The request names of the peak test: how the report, the goals and Locust's files name them.

Kept apart from `loadtest.locustfile`, which reads its plan when imported.
"""

from __future__ import annotations

SCAN = "checkpoint: scan"
ID_CARD = "checkpoint: ID-card read"
CITIZEN_CODE = "citizen: code"
CITIZEN_CODE_PNG = "citizen: code image"
CITIZEN_PROFILE = "citizen: profile"
LOGIN_CODE = "citizen: login code request"
LOGIN = "citizen: login"
PARTNER_STATUS = "partner: status look-up"
PARTNER_REVOCATIONS = "partner: revocation list"

#: Every request name, in the order the report lists them.
ALL = (
    SCAN,
    ID_CARD,
    CITIZEN_CODE,
    CITIZEN_CODE_PNG,
    CITIZEN_PROFILE,
    LOGIN_CODE,
    LOGIN,
    PARTNER_STATUS,
    PARTNER_REVOCATIONS,
)
