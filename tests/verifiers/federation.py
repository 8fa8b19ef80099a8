"""Two real issuer services for the checkpoint's end-to-end tests (shared with tests/issuers).

Only the tests start them in-process; the checkpoint itself talks to its issuer over HTTP.
"""

from __future__ import annotations

import tests.issuers.conftest as issuers_conftest
from tests.issuers.federation import two_provinces as federation

__all__ = ["federation", "issuers_conftest"]
