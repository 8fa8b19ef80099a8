"""The error catalogue: what people are told about each error code (standard §9).

One entry per code: the short English and Chinese titles of the standard's §9 table (a test
reads the table and compares), a technical hint for operators, and the plain sentence the
checkpoint screen shows its staff in both languages: what happened, a dash, what to do next.
"""

from __future__ import annotations

from dataclasses import dataclass

from healthcode.error_codes import ErrorCode


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """What a person is told about a code.

    `en`/`zh` are the short titles of the standard's §9 table and `hint` a technical line for
    operators; `staff_zh`/`staff_en` are what the checkpoint screen says to its staff in plain
    words: what happened, a dash, what to do next ("码已过期 — 请刷新健康码"). A `{until}` in a
    staff text is filled in by the screen from the answer's `locked_until` (local time).
    """

    en: str
    zh: str
    hint: str
    staff_zh: str
    staff_en: str


ERROR_INFO: dict[ErrorCode, ErrorInfo] = {
    ErrorCode.INPUT_TOO_LARGE: ErrorInfo(
        "Code too large",
        "码内容过长",
        "The input exceeds the size limit; it is not a health code.",
        "内容过长，不是健康码 — 请出示身份证或离线码",
        "too long to be a health code — ask for the ID card or printed code",
    ),
    ErrorCode.MALFORMED_INPUT: ErrorInfo(
        "Not a health code",
        "无法识别的码",
        "The text is not an hc:/ or shc:/ code, a JWS or a health card file; scan again.",
        "不是健康码 — 请出示身份证或离线码",
        "not a health code — ask for the ID card or printed code",
    ),
    ErrorCode.MALFORMED_QR: ErrorInfo(
        "Damaged QR content",
        "二维码内容损坏",
        "The numeric QR content is invalid (odd length or out-of-range digits); scan again.",
        "二维码没读全 — 请重新扫码",
        "the QR code was not read completely — scan it again",
    ),
    ErrorCode.CHUNKED_CODE: ErrorInfo(
        "Part of a multi-part code",
        "多段码的一部分",
        "This QR is one chunk of a multi-part shc:/ code; scan every part together.",
        "只扫到多段码的一段 — 请扫描全部分段",
        "only one part of a multi-part code — scan all its parts",
    ),
    ErrorCode.CHUNK_MISSING: ErrorInfo(
        "Missing part",
        "缺少分段",
        "Not every part of the multi-part code was given; scan all parts.",
        "多段码缺少分段 — 请扫描全部分段",
        "a part of the code is missing — scan all its parts",
    ),
    ErrorCode.CHUNK_DUPLICATE: ErrorInfo(
        "Duplicate part",
        "分段重复",
        "The same part of a multi-part code was given twice.",
        "同一分段扫了两次 — 请每段各扫一次",
        "the same part was scanned twice — scan each part once",
    ),
    ErrorCode.CHUNK_OUT_OF_RANGE: ErrorInfo(
        "Inconsistent parts",
        "分段不一致",
        "A part number is outside its declared total, or the parts disagree on the total.",
        "各分段不属于同一个码 — 请重新扫描全部分段",
        "the parts do not belong together — scan all parts again",
    ),
    ErrorCode.MALFORMED_JWS: ErrorInfo(
        "Damaged code",
        "码结构损坏",
        "The signed token is not three strict base64url parts; the code was altered or cut.",
        "码已损坏或不完整 — 请重新扫码，仍不行请查验身份证",
        "the code is damaged or cut off — scan again, else check the ID card",
    ),
    ErrorCode.MALFORMED_HEADER: ErrorInfo(
        "Damaged code header",
        "码头部损坏",
        "The token header is not a JSON object with alg, kid and zip; not a standard code.",
        "不是标准健康码 — 请出示身份证或离线码",
        "not a standard health code — ask for the ID card or printed code",
    ),
    ErrorCode.UNSUPPORTED_ALGORITHM: ErrorInfo(
        "Forbidden signature type",
        "签名算法不允许",
        "Only ES256 is accepted; this token uses another algorithm (possible forgery).",
        "签名方式不被接受，可能伪造 — 请查验身份证",
        "signature type not accepted, possibly forged — check the ID card",
    ),
    ErrorCode.UNSUPPORTED_COMPRESSION: ErrorInfo(
        "Unsupported compression",
        "不支持的压缩方式",
        "The payload must be zip DEF (raw DEFLATE).",
        "码的格式不被接受 — 请查验身份证",
        "the code's format is not accepted — check the ID card",
    ),
    ErrorCode.MALFORMED_SIGNATURE: ErrorInfo(
        "Damaged signature",
        "签名格式错误",
        "The signature must be the 64-byte r||s form (a DER signature is not valid JWS).",
        "码的签名已损坏 — 请重新扫码或查验身份证",
        "the code's signature is damaged — scan again or check the ID card",
    ),
    ErrorCode.HIGH_S_SIGNATURE: ErrorInfo(
        "Altered signature",
        "签名被改动",
        "The signature is in high-S form, which issuers never emit; the code was altered.",
        "码的签名被改动，可能伪造 — 请查验身份证",
        "the code's signature was altered — check the ID card",
    ),
    ErrorCode.PAYLOAD_TOO_LARGE: ErrorInfo(
        "Code content too large",
        "码内容超限",
        "The payload inflates past the size limit (possible compression bomb).",
        "码内容异常过大 — 请查验身份证",
        "the code's content is abnormally large — check the ID card",
    ),
    ErrorCode.MALFORMED_PAYLOAD: ErrorInfo(
        "Damaged code content",
        "码内容损坏",
        "The payload is not valid raw DEFLATE of a JSON object.",
        "码内容已损坏 — 请重新扫码或查验身份证",
        "the code's content is damaged — scan again or check the ID card",
    ),
    ErrorCode.INVALID_CLAIMS: ErrorInfo(
        "Invalid code content",
        "码内容不合规",
        "A required claim is missing or has the wrong type; the issuer must fix its codes.",
        "码内容不完整 — 请查验身份证",
        "the code's content is incomplete — check the ID card",
    ),
    ErrorCode.UNSUPPORTED_VERSION: ErrorInfo(
        "Unsupported code version",
        "码版本不支持",
        "The code uses a spec version this checkpoint does not know; update the checkpoint.",
        "本设备不认识此码的版本 — 请查验身份证并告知管理员",
        "this device does not know the code's version — check the ID card, tell the administrator",
    ),
    ErrorCode.UNKNOWN_ISSUER: ErrorInfo(
        "Unknown issuer",
        "未知签发方",
        "The issuer is not in the trust list; the code is not recognised (possible forgery).",
        "签发方不受信任，可能伪造 — 请查验身份证",
        "the issuer is not trusted, possibly forged — check the ID card",
    ),
    ErrorCode.ISSUER_SUSPENDED: ErrorInfo(
        "Issuer suspended",
        "签发方已暂停",
        "The registry has suspended this issuer; its codes are not accepted.",
        "签发方已被暂停 — 此码不能通行，请查验身份证",
        "the issuer is suspended — the code is not accepted, check the ID card",
    ),
    ErrorCode.UNKNOWN_KEY: ErrorInfo(
        "Unknown signing key",
        "未知签名密钥",
        "The key id is not listed for this issuer; refresh the trust list, else treat as forged.",
        "签名密钥未知 — 请查验身份证并告知管理员",
        "unknown signing key — check the ID card, tell the administrator",
    ),
    ErrorCode.KEY_REVOKED: ErrorInfo(
        "Signing key revoked",
        "签名密钥已吊销",
        "The issuer's key was revoked (compromise); the citizen must get a new code.",
        "签发密钥已吊销 — 请查验身份证，市民需重新领码",
        "the issuer's key was revoked — check the ID card; they need a new code",
    ),
    ErrorCode.KEY_NOT_VALID: ErrorInfo(
        "Key not valid for this code",
        "密钥不在有效期",
        "The code was issued outside the signing key's validity window.",
        "码的签发时间无效 — 请查验身份证",
        "the code was signed at an invalid time — check the ID card",
    ),
    ErrorCode.BAD_SIGNATURE: ErrorInfo(
        "Forged or altered code",
        "签名无效（伪造或篡改）",
        "The signature does not verify; the code was forged or altered.",
        "伪造或被篡改的码 — 禁止通行，请查验身份证",
        "forged or altered code — no entry on it, check the ID card",
    ),
    ErrorCode.EXPIRED: ErrorInfo(
        "Code expired",
        "码已过期",
        "The code has expired; the citizen must refresh or reprint it.",
        "码已过期 — 请刷新健康码",
        "expired — ask them to refresh the code",
    ),
    ErrorCode.NOT_YET_VALID: ErrorInfo(
        "Code not yet valid",
        "码尚未生效",
        "The code's validity starts in the future; check this device's clock.",
        "码尚未生效 — 请检查本设备时间",
        "not yet valid — check this device's clock",
    ),
    ErrorCode.REVOKED: ErrorInfo(
        "Code revoked",
        "码已作废",
        "The citizen's status changed after this code was issued; ask for a current code.",
        "码已作废 — 请出示最新的健康码",
        "revoked — ask for their current code",
    ),
    ErrorCode.STATUS_UNCONFIRMED: ErrorInfo(
        "Status could not be confirmed",
        "状态无法确认",
        "Revocation data is too old to rule out a status change; verify online or by ID card.",
        "无法确认状态 — 请查验身份证或致电热线",
        "status cannot be confirmed — check the ID card or call the hotline",
    ),
    ErrorCode.CLOCK_BEHIND: ErrorInfo(
        "Device clock wrong",
        "设备时间错误",
        "This device's clock is behind the registry's signed time; fix the clock.",
        "本设备时间不准 — 请校准设备时间",
        "this device's clock is wrong — set the clock",
    ),
    ErrorCode.TRUST_LIST_MALFORMED: ErrorInfo(
        "Trust list damaged",
        "信任列表损坏",
        "The trust list document is not in the standard format.",
        "信任列表已损坏 — 请联系管理员",
        "the trust list is damaged — call the administrator",
    ),
    ErrorCode.TRUST_LIST_BAD_SIGNATURE: ErrorInfo(
        "Trust list signature invalid",
        "信任列表签名无效",
        "A trust list signature does not verify; the list was altered.",
        "信任列表被篡改 — 请联系管理员",
        "the trust list was altered — call the administrator",
    ),
    ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY: ErrorInfo(
        "Trust list signed by unknown root",
        "信任列表根密钥未知",
        "The trust list is signed by a key that is not a pinned root key.",
        "信任列表来源不明 — 请联系管理员",
        "the trust list has an unknown source — call the administrator",
    ),
    ErrorCode.TRUST_LIST_THRESHOLD: ErrorInfo(
        "Trust list not jointly signed",
        "信任列表联合签名不足",
        "Fewer distinct root keys signed than the threshold requires.",
        "信任列表签名不足 — 请联系管理员",
        "the trust list lacks signatures — call the administrator",
    ),
    ErrorCode.TRUST_LIST_ROLLBACK: ErrorInfo(
        "Old trust list refused",
        "拒绝旧版信任列表",
        "The offered trust list is older than the one held (rollback attack).",
        "收到旧版信任列表，已拒绝 — 继续使用现有列表",
        "an older trust list was refused — the current one stays in use",
    ),
    ErrorCode.TRUST_LIST_EXPIRED: ErrorInfo(
        "Trust list expired",
        "信任列表已过期",
        "The trust list is past its expiry (freeze attack or no network); refresh it.",
        "信任列表已过期 — 请联网更新",
        "the trust list has expired — connect to the network to update it",
    ),
    ErrorCode.TRUST_LIST_UNAVAILABLE: ErrorInfo(
        "No trust list",
        "无信任列表",
        "No verified trust list is held; connect to the registry once.",
        "尚无信任列表 — 请先联网一次",
        "no trust list yet — connect to the network once",
    ),
    ErrorCode.UNAVAILABLE_OFFLINE: ErrorInfo(
        "Unavailable offline",
        "离线时不可用",
        "This check needs the network (ID-card look-up); use a QR or printed code.",
        "离线，无法查询身份证 — 请扫健康码或离线码",
        "offline, ID cards cannot be looked up — scan the health code or printed code",
    ),
    ErrorCode.UPSTREAM_UNAVAILABLE: ErrorInfo(
        "Service unreachable",
        "服务暂不可用",
        "A service this answer depends on could not be reached; try again shortly.",
        "查询服务暂时连不上 — 请稍后重试或扫码",
        "the look-up service is unreachable — try again shortly or scan the code",
    ),
    ErrorCode.UPSTREAM_TIMEOUT: ErrorInfo(
        "Service too slow",
        "服务响应超时",
        "A service this answer depends on did not answer in time; try again shortly.",
        "查询服务响应太慢 — 请稍后重试或扫码",
        "the look-up service is too slow — try again shortly or scan the code",
    ),
    ErrorCode.UPSTREAM_TOO_LARGE: ErrorInfo(
        "Service answer too large",
        "服务响应过大",
        "A service answered more data than allowed; it was dropped. Tell its operator.",
        "查询服务的回复异常 — 请稍后重试并告知管理员",
        "the look-up service answered abnormally — try again later, tell the administrator",
    ),
    ErrorCode.UPSTREAM_MALFORMED: ErrorInfo(
        "Service answer damaged",
        "服务响应格式错误",
        "A service answered in a shape we do not accept (bad or too deeply nested JSON, or "
        "an unsupported compression); it was dropped. Tell its operator.",
        "查询服务的回复已损坏 — 请稍后重试并告知管理员",
        "the look-up service's answer was damaged — try again later, tell the administrator",
    ),
    ErrorCode.INVALID_ID_NUMBER: ErrorInfo(
        "Invalid ID number",
        "身份证号无效",
        "The resident ID number fails its check digit, date or format; re-enter it.",
        "身份证号有误 — 请重新读卡或核对号码",
        "the ID number is wrong — read the card again or check the number",
    ),
    ErrorCode.UNKNOWN_REGION: ErrorInfo(
        "Unknown region",
        "未知行政区划",
        "The division code is not a GB/T 2260 region served by any trusted issuer.",
        "无法识别证件归属地 — 请核对身份证号",
        "the card's home region is unknown — check the ID number",
    ),
    ErrorCode.UNAUTHENTICATED: ErrorInfo(
        "Not logged in",
        "未登录",
        "Send a valid bearer token (log in again).",
        "尚未登录或登录已失效 — 请重新登录",
        "not logged in — log in again",
    ),
    ErrorCode.TOKEN_EXPIRED: ErrorInfo(
        "Session expired",
        "登录已过期",
        "The access token expired; log in again.",
        "登录已过期 — 请重新登录",
        "the session has expired — log in again",
    ),
    ErrorCode.FORBIDDEN: ErrorInfo(
        "Not permitted",
        "无权限",
        "Your role may not do this, or the record is not yours.",
        "您的账号无权执行此操作 — 请联系管理员",
        "your account may not do this — ask the administrator",
    ),
    ErrorCode.NOT_FOUND: ErrorInfo(
        "Not found",
        "未找到",
        "No such record; check the identifier.",
        "查无此人 — 请核对身份证号和姓名",
        "no record for this person — check the ID number and name",
    ),
    ErrorCode.CONFLICT: ErrorInfo(
        "Conflict",
        "冲突",
        "The request conflicts with the current state; reload and retry.",
        "与当前状态冲突 — 请刷新后重试",
        "this conflicts with the current state — reload and try again",
    ),
    ErrorCode.INVALID_REQUEST: ErrorInfo(
        "Invalid request",
        "请求无效",
        "A field is missing or malformed; see the message.",
        "信息不完整 — 请补全后重试",
        "information is missing — complete it and try again",
    ),
    ErrorCode.ASSERTION_INVALID: ErrorInfo(
        "Partner assertion invalid",
        "合作方断言无效",
        "The client assertion is not signed by a partner key in the trust list, or is stale.",
        "合作方认证无效 — 请联系管理员",
        "the partner's credentials are not valid — call the administrator",
    ),
    ErrorCode.ASSERTION_REPLAYED: ErrorInfo(
        "Partner assertion replayed",
        "合作方断言重放",
        "Each client assertion jti may be used once.",
        "合作方请求重复 — 请联系管理员",
        "a partner request was repeated — call the administrator",
    ),
    ErrorCode.RATE_LIMITED: ErrorInfo(
        "Too many requests",
        "请求过多",
        "Slow down; retry after the time in Retry-After.",
        "请求过多 — 请稍后再试",
        "too many requests — wait a moment and try again",
    ),
    ErrorCode.LOGIN_FAILED: ErrorInfo(
        "Wrong username or password",
        "用户名或密码错误",
        "The username or the password is wrong (which one is not said); type them again.",
        "用户名或密码错误 — 请重新输入",
        "wrong username or password — type them again",
    ),
    ErrorCode.ACCOUNT_LOCKED: ErrorInfo(
        "Account locked",
        "账号已锁定",
        "Too many failed logins; the account is locked until `locked_until` (Retry-After).",
        "账号已锁定 — 请于 {until} 后再试或联系管理员",
        "account locked — try again after {until} or ask the administrator",
    ),
    ErrorCode.DEVICE_NOT_REGISTERED: ErrorInfo(
        "Device not registered",
        "设备未登记",
        "The device token is unknown or was revoked; register the device again (admin).",
        "此设备未登记或已停用 — 请联系管理员登记",
        "this device is not registered — ask the administrator to register it",
    ),
    ErrorCode.HOLDER_MISMATCH: ErrorInfo(
        "Code belongs to someone else",
        "码与证件不符",
        "The code's subject is not the subject the home issuer gives for the ID card read.",
        "码不属于此身份证持有人 — 不能凭此码通行，请核实身份",
        "the code belongs to someone else — no entry on it, check who they are",
    ),
    ErrorCode.REQUEST_TIMEOUT: ErrorInfo(
        "Request too slow",
        "请求超时",
        "The request was not sent within the server's read limits; check the network, resend.",
        "网络太慢，请求超时 — 请检查网络后重试",
        "the network is too slow, the request timed out — check the network and try again",
    ),
    ErrorCode.OTP_WRONG: ErrorInfo(
        "Wrong login code",
        "验证码错误",
        "Check the code in the text message and type it again.",
        "验证码错误 — 请核对短信后重新输入",
        "wrong login code — check the text message and type it again",
    ),
    ErrorCode.OTP_EXPIRED: ErrorInfo(
        "Login code expired",
        "验证码已失效",
        "The code expired, was used or was tried too often; ask for a new code.",
        "验证码已失效 — 请重新获取验证码",
        "the login code has expired — ask for a new one",
    ),
    ErrorCode.FAMILY_LIMIT: ErrorInfo(
        "Family limit reached",
        "绑定人数已达上限",
        "Unbind someone first: a guardian holds a few dependants, a person a few guardians.",
        "绑定人数已达上限 — 请先解除一位再绑定",
        "family limit reached — unbind someone first",
    ),
    ErrorCode.COUNTER_REQUIRED: ErrorInfo(
        "Bind at a service counter",
        "请到服务窗口办理绑定",
        "This adult has no account to approve the binding; bring their ID card to a counter.",
        "须到服务窗口办理绑定 — 请携带身份证到窗口",
        "must be bound at a service counter — bring the ID card there",
    ),
}
