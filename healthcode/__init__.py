"""healthcode: the shared health-code interface standard as a library.

Issue and verify a signed health code::

    from healthcode import SigningKey, TrustStore, new_credential, sign_credential
    from healthcode import StatusColour, verify_credential, encode_numeric

    key = SigningKey.generate()
    credential = new_credential(issuer="cn-sc", subject=subject, status=StatusColour.GREEN,
                                masked_name="张*三", id_tail="123X")
    qr_text = encode_numeric(sign_credential(credential, key))      # "hc:/5676..."
    trust = TrustStore.from_jwks([("cn-sc", jwks_document([key.verifying_key]))])
    result = verify_credential(qr_text, trust)
    assert result.valid and result.credential.status is StatusColour.GREEN

The normative text is docs/standard.md; `SPEC_VERSION` is the version implemented here.
Raw, unverified decoding lives in `healthcode.hazmat` and is deliberately not exported.
"""

from healthcode.config import DEFAULT_LIMITS, Limits
from healthcode.credential import (
    CodeKind,
    Credential,
    ReasonCode,
    SpecVersion,
    StatusColour,
    mask_name,
    new_credential,
)
from healthcode.errors import (
    ERROR_INFO,
    ErrorCode,
    HealthcodeError,
    RequestError,
    TrustListError,
    TrustUnavailable,
    VerificationError,
)
from healthcode.jws import sign_credential
from healthcode.keys import SigningKey, VerifyingKey, jwk_thumbprint, jwks_document, load_jwks
from healthcode.qr import decode_image, encode_numeric, render_png, render_svg
from healthcode.trust import (
    IssuerEntry,
    IssuerStatus,
    KeyStatus,
    Profile,
    RevocationStatus,
    TrustedKey,
    TrustStore,
)
from healthcode.verify import Check, CheckOutcome, VerificationResult, verify_credential

__version__ = "0.1.0"
SPEC_VERSION = SpecVersion.V1.value

__all__ = [
    "DEFAULT_LIMITS",
    "ERROR_INFO",
    "SPEC_VERSION",
    "Check",
    "CheckOutcome",
    "CodeKind",
    "Credential",
    "ErrorCode",
    "HealthcodeError",
    "IssuerEntry",
    "IssuerStatus",
    "KeyStatus",
    "Limits",
    "Profile",
    "ReasonCode",
    "RequestError",
    "RevocationStatus",
    "SigningKey",
    "SpecVersion",
    "StatusColour",
    "TrustListError",
    "TrustStore",
    "TrustUnavailable",
    "TrustedKey",
    "VerificationError",
    "VerificationResult",
    "VerifyingKey",
    "decode_image",
    "encode_numeric",
    "jwk_thumbprint",
    "jwks_document",
    "load_jwks",
    "mask_name",
    "new_credential",
    "render_png",
    "render_svg",
    "sign_credential",
    "verify_credential",
]
