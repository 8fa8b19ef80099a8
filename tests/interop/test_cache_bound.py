"""Standard §10.7: no service may cache a cross-region status answer for more than 60 s."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from verifiers.settings import VerifierSettings


def test_checkpoint_refuses_a_lookup_cache_over_60_s() -> None:
    assert VerifierSettings(demo_mode=True, lookup_cache_ttl_s=60).lookup_cache_ttl_s == 60
    with pytest.raises(ValidationError, match="lookup_cache_ttl_s"):
        VerifierSettings(demo_mode=True, lookup_cache_ttl_s=61)
