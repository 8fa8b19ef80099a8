"""The stable error codes of the healthcode standard (docs/standard.md §9).

Checkpoint screens, partner systems and scripts key off these codes, so a code is never renamed
or reused for another meaning. What people are told about each is in
`healthcode.error_catalogue`; the exceptions that carry them are in `healthcode.errors`.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable machine-readable failure codes (docs/standard.md §9)."""

    # -- input framing and decoding
    INPUT_TOO_LARGE = "input_too_large"
    MALFORMED_INPUT = "malformed_input"
    MALFORMED_QR = "malformed_qr"
    CHUNKED_CODE = "chunked_code"
    CHUNK_MISSING = "chunk_missing"
    CHUNK_DUPLICATE = "chunk_duplicate"
    CHUNK_OUT_OF_RANGE = "chunk_out_of_range"
    MALFORMED_JWS = "malformed_jws"
    MALFORMED_HEADER = "malformed_header"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    UNSUPPORTED_COMPRESSION = "unsupported_compression"
    MALFORMED_SIGNATURE = "malformed_signature"
    HIGH_S_SIGNATURE = "high_s_signature"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    MALFORMED_PAYLOAD = "malformed_payload"
    INVALID_CLAIMS = "invalid_claims"
    UNSUPPORTED_VERSION = "unsupported_version"
    # -- trust
    UNKNOWN_ISSUER = "unknown_issuer"
    ISSUER_SUSPENDED = "issuer_suspended"
    UNKNOWN_KEY = "unknown_key"
    KEY_REVOKED = "key_revoked"
    KEY_NOT_VALID = "key_not_valid"
    BAD_SIGNATURE = "bad_signature"
    # -- time and status
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    STATUS_UNCONFIRMED = "status_unconfirmed"
    CLOCK_BEHIND = "clock_behind"
    # -- trust list (registry metadata)
    TRUST_LIST_MALFORMED = "trust_list_malformed"
    TRUST_LIST_BAD_SIGNATURE = "trust_list_bad_signature"
    TRUST_LIST_UNKNOWN_ROOT_KEY = "trust_list_unknown_root_key"
    TRUST_LIST_THRESHOLD = "trust_list_threshold"
    TRUST_LIST_ROLLBACK = "trust_list_rollback"
    TRUST_LIST_EXPIRED = "trust_list_expired"
    TRUST_LIST_UNAVAILABLE = "trust_list_unavailable"
    # -- services
    UNAVAILABLE_OFFLINE = "unavailable_offline"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    UPSTREAM_TIMEOUT = "upstream_timeout"
    UPSTREAM_TOO_LARGE = "upstream_too_large"
    UPSTREAM_MALFORMED = "upstream_malformed"
    INVALID_ID_NUMBER = "invalid_id_number"
    UNKNOWN_REGION = "unknown_region"
    UNAUTHENTICATED = "unauthenticated"
    TOKEN_EXPIRED = "token_expired"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    INVALID_REQUEST = "invalid_request"
    ASSERTION_INVALID = "assertion_invalid"
    ASSERTION_REPLAYED = "assertion_replayed"
    RATE_LIMITED = "rate_limited"
    REQUEST_TIMEOUT = "request_timeout"
    LOGIN_FAILED = "login_failed"
    ACCOUNT_LOCKED = "account_locked"
    DEVICE_NOT_REGISTERED = "device_not_registered"
    # -- checkpoint procedures
    HOLDER_MISMATCH = "holder_mismatch"
    # -- citizen app (login codes, family binding)
    OTP_WRONG = "otp_wrong"
    OTP_EXPIRED = "otp_expired"
    FAMILY_LIMIT = "family_limit"
    COUNTER_REQUIRED = "counter_required"
