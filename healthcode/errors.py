"""Errors of the healthcode standard, each with a stable code.

Every way a credential, a trust list or a request can fail has one `ErrorCode`. The codes are
part of the interface standard (docs/standard.md §9): checkpoint screens, partner systems and
scripts key off them, so a code is never renamed or reused for another meaning.

Hierarchy::

    HealthcodeError            base of everything raised on purpose; carries `code`
    ├── VerificationError      the input is bad (a red/error screen plus its code)
    ├── TrustListError         a trust list or root was refused (rollback, freeze, signatures)
    ├── TrustUnavailable       a dependency (registry, Redis, a partner) could not be reached
    │   └── PeerError          a peer's answer never came, or came too slow, large or malformed
    └── RequestError           a service request was refused (auth, roles, validation)

Bugs are not `HealthcodeError`s: misuse raises `ValueError`/`TypeError`/`RuntimeError`, which the
HTTP layer answers with a 500 and which we then fix.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    # -- citizen app (login codes, family binding)
    OTP_WRONG = "otp_wrong"
    OTP_EXPIRED = "otp_expired"
    FAMILY_LIMIT = "family_limit"
    COUNTER_REQUIRED = "counter_required"


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """What a person is told about a code: short staff messages and what to do."""

    en: str
    zh: str
    hint: str


ERROR_INFO: dict[ErrorCode, ErrorInfo] = {
    ErrorCode.INPUT_TOO_LARGE: ErrorInfo(
        "Code too large", "码内容过长", "The input exceeds the size limit; it is not a health code."
    ),
    ErrorCode.MALFORMED_INPUT: ErrorInfo(
        "Not a health code",
        "无法识别的码",
        "The text is not an hc:/ or shc:/ code, a JWS or a health card file; scan again.",
    ),
    ErrorCode.MALFORMED_QR: ErrorInfo(
        "Damaged QR content",
        "二维码内容损坏",
        "The numeric QR content is invalid (odd length or out-of-range digits); scan again.",
    ),
    ErrorCode.CHUNKED_CODE: ErrorInfo(
        "Part of a multi-part code",
        "多段码的一部分",
        "This QR is one chunk of a multi-part shc:/ code; scan every part together.",
    ),
    ErrorCode.CHUNK_MISSING: ErrorInfo(
        "Missing part",
        "缺少分段",
        "Not every part of the multi-part code was given; scan all parts.",
    ),
    ErrorCode.CHUNK_DUPLICATE: ErrorInfo(
        "Duplicate part", "分段重复", "The same part of a multi-part code was given twice."
    ),
    ErrorCode.CHUNK_OUT_OF_RANGE: ErrorInfo(
        "Inconsistent parts",
        "分段不一致",
        "A part number is outside its declared total, or the parts disagree on the total.",
    ),
    ErrorCode.MALFORMED_JWS: ErrorInfo(
        "Damaged code",
        "码结构损坏",
        "The signed token is not three strict base64url parts; the code was altered or cut.",
    ),
    ErrorCode.MALFORMED_HEADER: ErrorInfo(
        "Damaged code header",
        "码头部损坏",
        "The token header is not a JSON object with alg, kid and zip; not a standard code.",
    ),
    ErrorCode.UNSUPPORTED_ALGORITHM: ErrorInfo(
        "Forbidden signature type",
        "签名算法不允许",
        "Only ES256 is accepted; this token uses another algorithm (possible forgery).",
    ),
    ErrorCode.UNSUPPORTED_COMPRESSION: ErrorInfo(
        "Unsupported compression", "不支持的压缩方式", "The payload must be zip DEF (raw DEFLATE)."
    ),
    ErrorCode.MALFORMED_SIGNATURE: ErrorInfo(
        "Damaged signature",
        "签名格式错误",
        "The signature must be the 64-byte r||s form (a DER signature is not valid JWS).",
    ),
    ErrorCode.HIGH_S_SIGNATURE: ErrorInfo(
        "Altered signature",
        "签名被改动",
        "The signature is in high-S form, which issuers never emit; the code was altered.",
    ),
    ErrorCode.PAYLOAD_TOO_LARGE: ErrorInfo(
        "Code content too large",
        "码内容超限",
        "The payload inflates past the size limit (possible compression bomb).",
    ),
    ErrorCode.MALFORMED_PAYLOAD: ErrorInfo(
        "Damaged code content",
        "码内容损坏",
        "The payload is not valid raw DEFLATE of a JSON object.",
    ),
    ErrorCode.INVALID_CLAIMS: ErrorInfo(
        "Invalid code content",
        "码内容不合规",
        "A required claim is missing or has the wrong type; the issuer must fix its codes.",
    ),
    ErrorCode.UNSUPPORTED_VERSION: ErrorInfo(
        "Unsupported code version",
        "码版本不支持",
        "The code uses a spec version this checkpoint does not know; update the checkpoint.",
    ),
    ErrorCode.UNKNOWN_ISSUER: ErrorInfo(
        "Unknown issuer",
        "未知签发方",
        "The issuer is not in the trust list; the code is not recognised (possible forgery).",
    ),
    ErrorCode.ISSUER_SUSPENDED: ErrorInfo(
        "Issuer suspended",
        "签发方已暂停",
        "The registry has suspended this issuer; its codes are not accepted.",
    ),
    ErrorCode.UNKNOWN_KEY: ErrorInfo(
        "Unknown signing key",
        "未知签名密钥",
        "The key id is not listed for this issuer; refresh the trust list, else treat as forged.",
    ),
    ErrorCode.KEY_REVOKED: ErrorInfo(
        "Signing key revoked",
        "签名密钥已吊销",
        "The issuer's key was revoked (compromise); the citizen must get a new code.",
    ),
    ErrorCode.KEY_NOT_VALID: ErrorInfo(
        "Key not valid for this code",
        "密钥不在有效期",
        "The code was issued outside the signing key's validity window.",
    ),
    ErrorCode.BAD_SIGNATURE: ErrorInfo(
        "Forged or altered code",
        "签名无效（伪造或篡改）",
        "The signature does not verify; the code was forged or altered.",
    ),
    ErrorCode.EXPIRED: ErrorInfo(
        "Code expired", "码已过期", "The code has expired; the citizen must refresh or reprint it."
    ),
    ErrorCode.NOT_YET_VALID: ErrorInfo(
        "Code not yet valid",
        "码尚未生效",
        "The code's validity starts in the future; check this device's clock.",
    ),
    ErrorCode.REVOKED: ErrorInfo(
        "Code revoked",
        "码已作废",
        "The citizen's status changed after this code was issued; ask for a current code.",
    ),
    ErrorCode.STATUS_UNCONFIRMED: ErrorInfo(
        "Status could not be confirmed",
        "状态无法确认",
        "Revocation data is too old to rule out a status change; verify online or by ID card.",
    ),
    ErrorCode.CLOCK_BEHIND: ErrorInfo(
        "Device clock wrong",
        "设备时间错误",
        "This device's clock is behind the registry's signed time; fix the clock.",
    ),
    ErrorCode.TRUST_LIST_MALFORMED: ErrorInfo(
        "Trust list damaged",
        "信任列表损坏",
        "The trust list document is not in the standard format.",
    ),
    ErrorCode.TRUST_LIST_BAD_SIGNATURE: ErrorInfo(
        "Trust list signature invalid",
        "信任列表签名无效",
        "A trust list signature does not verify; the list was altered.",
    ),
    ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY: ErrorInfo(
        "Trust list signed by unknown root",
        "信任列表根密钥未知",
        "The trust list is signed by a key that is not a pinned root key.",
    ),
    ErrorCode.TRUST_LIST_THRESHOLD: ErrorInfo(
        "Trust list not jointly signed",
        "信任列表联合签名不足",
        "Fewer distinct root keys signed than the threshold requires.",
    ),
    ErrorCode.TRUST_LIST_ROLLBACK: ErrorInfo(
        "Old trust list refused",
        "拒绝旧版信任列表",
        "The offered trust list is older than the one held (rollback attack).",
    ),
    ErrorCode.TRUST_LIST_EXPIRED: ErrorInfo(
        "Trust list expired",
        "信任列表已过期",
        "The trust list is past its expiry (freeze attack or no network); refresh it.",
    ),
    ErrorCode.TRUST_LIST_UNAVAILABLE: ErrorInfo(
        "No trust list",
        "无信任列表",
        "No verified trust list is held; connect to the registry once.",
    ),
    ErrorCode.UNAVAILABLE_OFFLINE: ErrorInfo(
        "Unavailable offline",
        "离线时不可用",
        "This check needs the network (ID-card look-up); use a QR or printed code.",
    ),
    ErrorCode.UPSTREAM_UNAVAILABLE: ErrorInfo(
        "Service unreachable",
        "服务暂不可用",
        "A service this answer depends on could not be reached; try again shortly.",
    ),
    ErrorCode.UPSTREAM_TIMEOUT: ErrorInfo(
        "Service too slow",
        "服务响应超时",
        "A service this answer depends on did not answer in time; try again shortly.",
    ),
    ErrorCode.UPSTREAM_TOO_LARGE: ErrorInfo(
        "Service answer too large",
        "服务响应过大",
        "A service answered more data than allowed; it was dropped. Tell its operator.",
    ),
    ErrorCode.UPSTREAM_MALFORMED: ErrorInfo(
        "Service answer damaged",
        "服务响应格式错误",
        "A service answered in a shape we do not accept (bad or too deeply nested JSON, or "
        "an unsupported compression); it was dropped. Tell its operator.",
    ),
    ErrorCode.INVALID_ID_NUMBER: ErrorInfo(
        "Invalid ID number",
        "身份证号无效",
        "The resident ID number fails its check digit, date or format; re-enter it.",
    ),
    ErrorCode.UNKNOWN_REGION: ErrorInfo(
        "Unknown region",
        "未知行政区划",
        "The division code is not a GB/T 2260 region served by any trusted issuer.",
    ),
    ErrorCode.UNAUTHENTICATED: ErrorInfo(
        "Not logged in", "未登录", "Send a valid bearer token (log in again)."
    ),
    ErrorCode.TOKEN_EXPIRED: ErrorInfo(
        "Session expired", "登录已过期", "The access token expired; log in again."
    ),
    ErrorCode.FORBIDDEN: ErrorInfo(
        "Not permitted", "无权限", "Your role may not do this, or the record is not yours."
    ),
    ErrorCode.NOT_FOUND: ErrorInfo("Not found", "未找到", "No such record; check the identifier."),
    ErrorCode.CONFLICT: ErrorInfo(
        "Conflict", "冲突", "The request conflicts with the current state; reload and retry."
    ),
    ErrorCode.INVALID_REQUEST: ErrorInfo(
        "Invalid request", "请求无效", "A field is missing or malformed; see the message."
    ),
    ErrorCode.ASSERTION_INVALID: ErrorInfo(
        "Partner assertion invalid",
        "合作方断言无效",
        "The client assertion is not signed by a partner key in the trust list, or is stale.",
    ),
    ErrorCode.ASSERTION_REPLAYED: ErrorInfo(
        "Partner assertion replayed",
        "合作方断言重放",
        "Each client assertion jti may be used once.",
    ),
    ErrorCode.RATE_LIMITED: ErrorInfo(
        "Too many requests", "请求过多", "Slow down; retry after the time in Retry-After."
    ),
    ErrorCode.OTP_WRONG: ErrorInfo(
        "Wrong login code",
        "验证码错误",
        "Check the code in the text message and type it again.",
    ),
    ErrorCode.OTP_EXPIRED: ErrorInfo(
        "Login code expired",
        "验证码已失效",
        "The code expired, was used or was tried too often; ask for a new code.",
    ),
    ErrorCode.FAMILY_LIMIT: ErrorInfo(
        "Family limit reached",
        "绑定人数已达上限",
        "Unbind someone first: a guardian holds a few dependants, a person a few guardians.",
    ),
    ErrorCode.COUNTER_REQUIRED: ErrorInfo(
        "Bind at a service counter",
        "请到服务窗口办理绑定",
        "This adult has no account to approve the binding; bring their ID card to a counter.",
    ),
}


class HealthcodeError(Exception):
    """Base of every error raised on purpose by healthcode and its services."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def hint(self) -> str:
        """What to do about it, from the standard's error table."""
        return ERROR_INFO[self.code].hint

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.value!r}, {self.message!r})"


class VerificationError(HealthcodeError):
    """A credential (or the text claiming to be one) failed verification."""


class TrustListError(HealthcodeError):
    """A trust list or root document was refused."""


class TrustUnavailable(HealthcodeError):
    """Something verification depends on could not be reached; the answer says what."""


class PeerError(TrustUnavailable):
    """A call to another service failed: unreachable, past its deadline, over its size bound
    or malformed (`healthcode.fetch`). Nothing of the answer was used."""


class RequestError(HealthcodeError):
    """A service request was refused; the HTTP layer maps `code` to a status."""
