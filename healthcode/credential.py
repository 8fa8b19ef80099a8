"""The health-code credential: claims, colours, kinds and their validation (standard §2, §5)."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from healthcode.config import (
    MAX_OFFLINE_CODE_LIFETIME_S,
    MAX_PHONE_CODE_LIFETIME_S,
    OFFLINE_CODE_LIFETIME_S,
    PHONE_CODE_LIFETIME_S,
)
from healthcode.errors import ErrorCode, VerificationError

__all__ = [
    "ISSUER_ID_PATTERN",
    "REASON_LABELS",
    "CodeKind",
    "Credential",
    "ReasonCode",
    "SpecVersion",
    "StatusColour",
    "mask_name",
    "new_credential",
    "new_jti",
]

#: Issuer ids are short registry names, never URLs a verifier would fetch (standard §2.2).
ISSUER_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")
_ID_TAIL_PATTERN = re.compile(r"[0-9]{3}[0-9X]")
_JTI_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
_SUBJECT_PATTERN = re.compile(r"[A-Za-z0-9_-]{22,64}")
_IDENTIFIERS_PATTERN = re.compile(
    "\n".join(
        p.pattern for p in (ISSUER_ID_PATTERN, _SUBJECT_PATTERN, _JTI_PATTERN, _ID_TAIL_PATTERN)
    )
)
_MAX_NAME_CHARS = 32
_MAX_SOURCE_CHARS = 160
_MAX_TIME = 2**40  # NumericDate bound: far beyond any real expiry, below float precision loss


class SpecVersion(StrEnum):
    """Versions of the interface standard a credential may declare in `hc.v`."""

    V1 = "1"


class StatusColour(StrEnum):
    """What a checkpoint does (standard §5): pass, pass with checks, refuse."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class CodeKind(StrEnum):
    """Where a code lives: on a phone (short-lived) or printed (7 days, standard §4)."""

    PHONE = "phone"
    OFFLINE = "offline"


class ReasonCode(StrEnum):
    """Coarse reason for a colour; the detail stays with the issuer (data minimisation)."""

    NONE = "none"
    POSITIVE_TEST = "positive_test"
    CLOSE_CONTACT = "close_contact"
    RISK_AREA = "risk_area"
    SYMPTOMS = "symptoms"
    OFFICIAL_DECISION = "official_decision"
    PENDING_TEST = "pending_test"
    OTHER = "other"


#: Short labels a checkpoint shows for each reason, in Chinese and English.
REASON_LABELS: dict[ReasonCode, tuple[str, str]] = {
    ReasonCode.NONE: ("无异常", "No findings"),
    ReasonCode.POSITIVE_TEST: ("核酸/抗原阳性", "Positive test"),
    ReasonCode.CLOSE_CONTACT: ("密切接触者", "Close contact"),
    ReasonCode.RISK_AREA: ("到访风险地区", "Visited a risk area"),
    ReasonCode.SYMPTOMS: ("申报有症状", "Symptoms declared"),
    ReasonCode.OFFICIAL_DECISION: ("卫生部门认定", "Health authority decision"),
    ReasonCode.PENDING_TEST: ("待检测", "Test pending"),
    ReasonCode.OTHER: ("其他", "Other"),
}


def mask_name(name: str) -> str:
    """Mask a display name: keep the first and last character (张三丰 → 张*丰, 张三 → 张*)."""
    name = name.strip()
    if not name:
        raise ValueError("a display name must not be empty")
    if len(name) == 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


_E = TypeVar("_E", bound=StrEnum)


def _invalid(message: str) -> VerificationError:
    return VerificationError(ErrorCode.INVALID_CLAIMS, message)


def _int_claim(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    # bool is an int subclass; a JSON true is never a time.
    if type(value) is not int or not 0 < value < _MAX_TIME:
        raise _invalid(f"claim {name!r} must be a positive integer NumericDate (got {value!r})")
    return value


def _str_claim(claims: Mapping[str, Any], name: str, max_len: int = 64) -> str:
    # Only the type and length here: formats are checked once, in Credential.__post_init__.
    value = claims.get(name)
    if type(value) is not str or not value or len(value) > max_len:
        raise _invalid(f"claim {name!r} must be a non-empty string of at most {max_len} characters")
    return value


def _enum_claim(claims: Mapping[str, Any], name: str, members: Mapping[Any, _E]) -> _E:
    member = members.get(claims.get(name)) if isinstance(claims.get(name), str) else None
    if member is None:
        allowed = ", ".join(members)
        raise _invalid(f"claim {name!r} must be one of {allowed} (got {claims.get(name)!r})")
    return member


@dataclass(slots=True)
class Credential:
    """A health-code credential. Holds no ID number: `subject` is a keyed pseudonym.

    Treat it as a value. It is validated on construction and again by `sign_credential`; it is
    not a frozen dataclass because verification builds one per scan and frozen construction
    costs a tenth of the whole verification overhead (docs/adr/0003-verification-hot-path.md).
    """

    issuer: str
    subject: str
    issued_at: int
    not_before: int
    expires_at: int
    jti: str
    status: StatusColour
    reason: ReasonCode
    masked_name: str
    id_tail: str
    kind: CodeKind
    version: SpecVersion = SpecVersion.V1
    source: str | None = None  # "iss/jti" of the credential this one was transcoded from

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check the invariants; raises VerificationError(invalid_claims)."""
        if not (self.issued_at <= self.expires_at and self.not_before <= self.expires_at):
            raise _invalid("a credential must expire after it is issued and becomes valid")
        # One combined match on the hot path; the per-field checks below only explain a failure.
        joined = f"{self.issuer}\n{self.subject}\n{self.jti}\n{self.id_tail}"
        if not _IDENTIFIERS_PATTERN.fullmatch(joined):
            if not _ID_TAIL_PATTERN.fullmatch(self.id_tail):
                raise _invalid(f"id_tail must be the last 4 ID characters (got {self.id_tail!r})")
            if not ISSUER_ID_PATTERN.fullmatch(self.issuer):
                raise _invalid(f"issuer id {self.issuer!r} is not a registry id like 'cn-sc'")
            if not _SUBJECT_PATTERN.fullmatch(self.subject):
                raise _invalid("subject must be a base64url pseudonym, never an ID number")
            raise _invalid("jti must be 16-64 base64url characters")
        if not 0 < len(self.masked_name) <= _MAX_NAME_CHARS:
            raise _invalid(f"masked name must be 1-{_MAX_NAME_CHARS} characters")

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Credential:
        """Build from a JWT claims object; raises VerificationError (invalid_claims / version)."""
        # Fast path for well-formed claims (one per scan on a busy checkpoint); anything odd
        # falls through to _from_claims_checked, which finds and explains the first problem.
        hc = claims.get("hc")
        if type(hc) is dict:
            try:
                version = _VERSIONS[hc["v"]]
                status = _COLOURS[hc["st"]]
                reason = _REASONS[hc["rs"]]
                kind = _KINDS[hc["k"]]
                iss, sub, jti = claims["iss"], claims["sub"], claims["jti"]
                iat, nbf, exp = claims["iat"], claims["nbf"], claims["exp"]
                name, tail = hc["nm"], hc["tl"]
            except (KeyError, TypeError):  # missing member, or an unhashable value
                pass
            else:
                source = hc.get("src")
                if (
                    type(iss) is str
                    and type(sub) is str
                    and type(jti) is str
                    and type(name) is str
                    and type(tail) is str
                    and type(iat) is int
                    and type(nbf) is int
                    and type(exp) is int
                    and 0 < iat < _MAX_TIME
                    and 0 < nbf < _MAX_TIME
                    and 0 < exp < _MAX_TIME
                    and (
                        source is None
                        or (type(source) is str and 0 < len(source) <= _MAX_SOURCE_CHARS)
                    )
                ):
                    return cls(
                        iss,
                        sub,
                        iat,
                        nbf,
                        exp,
                        jti,
                        status,
                        reason,
                        name,
                        tail,
                        kind,
                        version,
                        source,
                    )
        return cls._from_claims_checked(claims)

    @classmethod
    def _from_claims_checked(cls, claims: Mapping[str, Any]) -> Credential:
        hc = claims.get("hc")
        if not isinstance(hc, dict):
            raise _invalid("claim 'hc' must be an object holding the health-code claims")
        version = hc.get("v")
        if not isinstance(version, str) or version not in _VERSIONS:
            raise VerificationError(
                ErrorCode.UNSUPPORTED_VERSION,
                f"spec version {version!r} is not supported (expected one of "
                f"{sorted(_VERSIONS)}); update this verifier",
            )
        source = hc.get("src")
        if source is not None and (
            type(source) is not str or not 0 < len(source) <= _MAX_SOURCE_CHARS
        ):
            raise _invalid("claim 'hc.src' must be a string of at most 160 characters")
        return cls(
            issuer=_str_claim(claims, "iss"),
            subject=_str_claim(claims, "sub"),
            issued_at=_int_claim(claims, "iat"),
            not_before=_int_claim(claims, "nbf"),
            expires_at=_int_claim(claims, "exp"),
            jti=_str_claim(claims, "jti"),
            status=_enum_claim(hc, "st", _COLOURS),
            reason=_enum_claim(hc, "rs", _REASONS),
            masked_name=_str_claim(hc, "nm", max_len=_MAX_NAME_CHARS),
            id_tail=_str_claim(hc, "tl", max_len=4),
            kind=_enum_claim(hc, "k", _KINDS),
            version=_VERSIONS[version],
            source=source,
        )

    def to_claims(self) -> dict[str, Any]:
        """The JWT claims object, in the standard's layout (§2.3)."""
        hc: dict[str, Any] = {
            "v": self.version.value,
            "st": self.status.value,
            "rs": self.reason.value,
            "nm": self.masked_name,
            "tl": self.id_tail,
            "k": self.kind.value,
        }
        if self.source is not None:
            hc["src"] = self.source
        return {
            "iss": self.issuer,
            "sub": self.subject,
            "iat": self.issued_at,
            "nbf": self.not_before,
            "exp": self.expires_at,
            "jti": self.jti,
            "hc": hc,
        }


_VERSIONS = {member.value: member for member in SpecVersion}
_COLOURS = {member.value: member for member in StatusColour}
_REASONS = {member.value: member for member in ReasonCode}
_KINDS = {member.value: member for member in CodeKind}


def new_jti() -> str:
    """A fresh random credential id (16 bytes, base64url): the handle revocation uses."""
    return secrets.token_urlsafe(16)


def new_credential(
    *,
    issuer: str,
    subject: str,
    status: StatusColour,
    masked_name: str,
    id_tail: str,
    kind: CodeKind = CodeKind.PHONE,
    reason: ReasonCode = ReasonCode.NONE,
    lifetime_s: int | None = None,
    now: float | None = None,
    source: str | None = None,
) -> Credential:
    """A credential issued now, with the standard's default lifetime for its kind (§4)."""
    if lifetime_s is None:
        lifetime_s = PHONE_CODE_LIFETIME_S if kind is CodeKind.PHONE else OFFLINE_CODE_LIFETIME_S
    limit = MAX_PHONE_CODE_LIFETIME_S if kind is CodeKind.PHONE else MAX_OFFLINE_CODE_LIFETIME_S
    if not 0 < lifetime_s <= limit:
        raise ValueError(f"{kind.value} code lifetime must be 1..{limit} s (got {lifetime_s})")
    issued_at = int(time.time() if now is None else now)
    return Credential(
        issuer=issuer,
        subject=subject,
        issued_at=issued_at,
        not_before=issued_at,
        expires_at=issued_at + lifetime_s,
        jti=new_jti(),
        status=status,
        reason=reason,
        masked_name=masked_name,
        id_tail=id_tail,
        kind=kind,
        source=source,
    )
