"""Registry operations as plain functions: each change and the trust-list version it publishes
are one transaction, so a refused or failed change leaves no trace (standard §7.2-§7.4).
"""

from interop.registry.store.common import (
    DEFAULT_LIST_LIFETIME,
    DEFAULT_TIMESTAMP_LIFETIME,
    MIN_PUBLISH_VALIDITY,
    ROOT,
    TIMESTAMP,
    TRUST_LIST,
    Publication,
    atomic,
    audit_log,
    epoch_of,
    get_document,
    issuer_entries,
    latest_document,
    load_jwk,
)
from interop.registry.store.cosigning import add_signature
from interop.registry.store.issuers import (
    check_new_kids,
    get_issuer,
    onboard_issuer,
    set_issuer_status,
)
from interop.registry.store.publication import pending_version, publish, sync_roots
from interop.registry.store.schedule import publish_timestamp, run_schedule

__all__ = [
    "DEFAULT_LIST_LIFETIME",
    "DEFAULT_TIMESTAMP_LIFETIME",
    "MIN_PUBLISH_VALIDITY",
    "ROOT",
    "TIMESTAMP",
    "TRUST_LIST",
    "Publication",
    "add_signature",
    "atomic",
    "audit_log",
    "check_new_kids",
    "epoch_of",
    "get_document",
    "get_issuer",
    "issuer_entries",
    "latest_document",
    "load_jwk",
    "onboard_issuer",
    "pending_version",
    "publish",
    "publish_timestamp",
    "run_schedule",
    "set_issuer_status",
    "sync_roots",
]
