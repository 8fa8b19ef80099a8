"""A registry simulator (3 root keys, threshold 2) and a verifier's trust-list state."""

from __future__ import annotations

import pytest

from healthcode import SigningKey
from healthcode.trustlist import TrustListState, load_root
from tests.simulators import TrustRegistrySimulator, issuer_entry


@pytest.fixture
def registry(issuer_key: SigningKey) -> TrustRegistrySimulator:
    """A registry (3 root keys, threshold 2) listing cn-sc with the session issuer key."""
    sim = TrustRegistrySimulator()
    sim.issuers = [issuer_entry("cn-sc", "510000", issuer_key)]
    return sim


@pytest.fixture
def state(registry: TrustRegistrySimulator) -> TrustListState:
    return TrustListState(load_root(registry.pinned_root))
