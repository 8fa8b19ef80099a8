"""SMART Health Cards compatibility profile (standard §8).

A checkpoint also accepts SMART Health Cards from issuers registered in the trust list: the
`shc:/` numeric QR (single or deprecated multi-part), the compact JWS, and the
`.smart-health-card` JSON file. Signature, header and size rules are the same as ours; only
the claims differ, and are checked here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from healthcode.config import DEFAULT_LIMITS, Limits
from healthcode.credential import mask_name
from healthcode.errors import ErrorCode, VerificationError

__all__ = ["HEALTH_CARD_TYPE", "extract_file_tokens", "summarise_claims", "validate_claims"]

HEALTH_CARD_TYPE = "https://smarthealth.cards#health-card"
FILE_EXTENSION = ".smart-health-card"


def _number(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    # JWT NumericDate may carry a fraction (the published examples do); bool is not a number.
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value < 2**40:
        raise VerificationError(
            ErrorCode.INVALID_CLAIMS, f"claim {name!r} must be a NumericDate (got {value!r})"
        )
    return float(value)


def validate_claims(claims: Mapping[str, Any]) -> tuple[float, float | None]:
    """Check SHC claims; returns (nbf, exp or None). Raises VerificationError."""
    if type(claims.get("iss")) is not str:
        raise VerificationError(ErrorCode.INVALID_CLAIMS, "SHC claim 'iss' must be a string")
    nbf = _number(claims, "nbf", required=True)
    assert nbf is not None
    exp = _number(claims, "exp", required=False)
    vc = claims.get("vc")
    if not isinstance(vc, dict):
        raise VerificationError(ErrorCode.INVALID_CLAIMS, "SHC claim 'vc' must be an object")
    types = vc.get("type")
    if not isinstance(types, list) or HEALTH_CARD_TYPE not in types:
        raise VerificationError(
            ErrorCode.INVALID_CLAIMS, f"SHC 'vc.type' must include {HEALTH_CARD_TYPE!r}"
        )
    subject = vc.get("credentialSubject")
    if not isinstance(subject, dict) or not isinstance(subject.get("fhirBundle"), dict):
        raise VerificationError(
            ErrorCode.INVALID_CLAIMS, "SHC 'vc.credentialSubject.fhirBundle' must be an object"
        )
    return nbf, exp


def summarise_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """What a checkpoint shows of a verified SHC: masked patient name, card types, entries."""
    vc = claims["vc"]
    bundle = vc["credentialSubject"]["fhirBundle"]
    name = None
    resources: list[str] = []
    entries = bundle.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        kind = resource.get("resourceType")
        if kind == "Patient" and name is None:
            name = _patient_name(resource)
        elif isinstance(kind, str):
            resources.append(kind)
    return {
        "types": [t for t in vc.get("type") or [] if isinstance(t, str)],
        "masked_name": mask_name(name) if name else None,
        "resources": resources,
    }


def _patient_name(patient: Mapping[str, Any]) -> str | None:
    names = patient.get("name")
    if not isinstance(names, list) or not names or not isinstance(names[0], dict):
        return None
    first = names[0]
    given_names = first.get("given")
    given = given_names if isinstance(given_names, list) else []
    parts = [str(p) for p in given] + ([str(first["family"])] if first.get("family") else [])
    # A name of blanks is no name: masking it would have nothing to show (and refuses to).
    return " ".join(part.strip() for part in parts if part.strip()) or None


def extract_file_tokens(text: str, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """The compact JWSs in a `.smart-health-card` JSON file (`verifiableCredential`)."""
    if len(text) > limits.max_input_chars:
        raise VerificationError(
            ErrorCode.INPUT_TOO_LARGE,
            f"file is {len(text)} characters, the limit is {limits.max_input_chars}",
        )
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise VerificationError(
            ErrorCode.MALFORMED_INPUT, f"not a JSON health card file ({exc})"
        ) from exc
    tokens = document.get("verifiableCredential") if isinstance(document, dict) else None
    if (
        not isinstance(tokens, list)
        or not tokens
        or not all(isinstance(token, str) for token in tokens)
    ):
        raise VerificationError(
            ErrorCode.MALFORMED_INPUT,
            "a .smart-health-card file needs a non-empty 'verifiableCredential' string array",
        )
    return tokens
