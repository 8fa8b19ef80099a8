"""The machine yardstick a load test records: real ES256 verifications, counted."""

from __future__ import annotations

import math

from healthcode.benchmark import es256_verify_rate


def test_the_machine_yardstick_is_a_rate_of_real_verifications() -> None:
    # Even asked for no time at all it verifies one batch, so the rate is never 0 or infinite.
    for seconds in (0.0, 0.05):
        rate = es256_verify_rate(seconds)
        assert math.isfinite(rate)
        assert rate > 0
