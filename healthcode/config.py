"""Bounds of the standard, written as data with units (docs/standard.md §3, §6)."""

from __future__ import annotations

from dataclasses import dataclass

#: Version 40-L QR in numeric mode holds 7089 digits; with the 4-5 character prefix and two digits
#: per JWS character that bounds a single-QR token at ~3540 characters.
QR_NUMERIC_CAPACITY_DIGITS = 7089

#: Seconds tolerated between two parties' clocks (standard §4.3): on a code's nbf/iat/exp, on
#: how long a revoked or retired entry stays listed past its expiry, on assertion times. The
#: one definition; `Limits.clock_skew_s` lets a verifier configure 0-600 s around it.
CLOCK_SKEW_S = 120


@dataclass(frozen=True, slots=True)
class Limits:
    """Size and time bounds applied by every verifier before and during decoding."""

    max_input_chars: int = 16384  # characters of raw input (QR text, JWS, .smart-health-card)
    max_jws_chars: int = 8192  # characters of the compact JWS after QR decoding
    max_inflated_bytes: int = 65536  # bytes of claims JSON after DEFLATE (bomb guard; the
    # largest published SMART Health Card example inflates to 30 KB)
    max_chunks: int = 16  # parts of a deprecated multi-part shc:/ code
    clock_skew_s: int = CLOCK_SKEW_S  # seconds tolerated on nbf/iat/exp between issuer and verifier
    max_keys_per_issuer: int = 16  # keys accepted per issuer from a JWKS or trust list

    def __post_init__(self) -> None:
        for name in ("max_input_chars", "max_jws_chars", "max_inflated_bytes", "max_chunks"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 <= self.clock_skew_s <= 600:
            raise ValueError(f"clock_skew_s must be within 0..600 s, got {self.clock_skew_s}")


DEFAULT_LIMITS = Limits()

#: Default lifetimes (seconds) from docs/standard.md §4.
PHONE_CODE_LIFETIME_S = 3600
OFFLINE_CODE_LIFETIME_S = 7 * 24 * 3600
MAX_PHONE_CODE_LIFETIME_S = 24 * 3600
MAX_OFFLINE_CODE_LIFETIME_S = 7 * 24 * 3600
