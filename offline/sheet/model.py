"""What a sheet prints, read from the signed credential: `PrintableCode`, the layouts, the
colour words and styles, and the constants every layout shares (fonts, sizes, bounds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path
from typing import Final

from healthcode.config import DEFAULT_LIMITS
from healthcode.credential import CodeKind, Credential, StatusColour
from healthcode.errors import ErrorCode, HealthcodeError, RequestError
from healthcode.jws import parse_compact
from healthcode.qr import HC_PREFIX, encode_numeric
from healthcode.verify import extract_token

FONT_DIR: Final = Path(__file__).parents[1] / "fonts"
CJK_BOLD_FONT: Final = "NotoSansSC-Bold-GB2312.otf"
#: Every font file the renderer loads; all of them, and `LICENSE`, ship in the package.
FONT_FILES: Final = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DroidSansFallbackFull.ttf",
    CJK_BOLD_FONT,
)
CHINA_TIME: Final = timezone(timedelta(hours=8), "CST")
#: Under the colour word on every layout: the paper is not the verdict.
SCAN_DECIDES: Final = ("以扫码结果为准", "the scan decides")
#: The smallest text each layout prints (points); the family sheet is an A4 page.
MIN_TEXT_PT: Final = {"a4": 8.0, "card": 7.0, "family": 8.0}
#: A longer issuer name is refused rather than printed unreadably small or cut to nothing.
MAX_ISSUER_NAME_CHARS: Final = 120

LATIN_FONT: Final = "dejavu"
CJK_FONT: Final = "cjk"
QR_EC_LEVEL: Final = "M"
QUIET_ZONE_MODULES: Final = 4
PT_TO_MM: Final = 25.4 / 72
# Wallet card: ISO/IEC 7810 ID-1.
CARD_SIZE_MM: Final = (85.6, 54.0)
FAMILY_PER_PAGE: Final = 6
PDFTOPPM_TIMEOUT_S: Final = 60
ELLIPSIS: Final = "…"
# Never at the start of a line (closing punctuation, CJK and Latin).
NO_LINE_START: Final = frozenset("，。、；：？！）》」』”’…,.;:?!)]}")


class Layout(StrEnum):
    """Print layouts: an A4 sheet, or a two-sided wallet card (85.6 x 54 mm)."""

    A4 = "a4"
    CARD = "card"


class RenderError(RequestError):
    """The code cannot be printed (not an offline code, damaged token): INVALID_REQUEST."""


@dataclass(frozen=True, slots=True)
class _ColourStyle:
    word_zh: str
    word_en: str
    symbol: str
    rgb: tuple[int, int, int]
    pattern: str  # "plain" | "stripes" | "hatch": tells the colours apart in black and white


STYLES: Final = {
    StatusColour.GREEN: _ColourStyle("绿码", "GREEN", "✔", (0, 150, 70), "plain"),
    StatusColour.YELLOW: _ColourStyle("黄码", "YELLOW", "!", (240, 185, 0), "stripes"),
    StatusColour.RED: _ColourStyle("红码", "RED", "✘", (210, 30, 40), "hatch"),
}


def colour_word(status: StatusColour) -> str:
    """The word printed for a colour, e.g. "绿码 GREEN"."""
    style = STYLES[status]
    return f"{style.word_zh} {style.word_en}"


@dataclass(frozen=True, slots=True)
class PrintableCode:
    """What one printed code shows: the signed credential, and its issuer's human name.

    Raises:
        RenderError: INVALID_REQUEST if `issuer_name` is blank or longer than
            `MAX_ISSUER_NAME_CHARS`: every sheet names its issuer in words.
    """

    qr_text: str
    credential: Credential
    issuer_name: str

    def __post_init__(self) -> None:
        name = " ".join(self.issuer_name.split())
        if not name:
            raise RenderError(
                ErrorCode.INVALID_REQUEST,
                f"the issuer's name is missing for {self.credential.issuer}: every printed code "
                "names its issuer in words (the issuer's answer, HC_OFFLINE_ISSUER_NAMES or "
                "--issuer-name)",
            )
        if len(name) > MAX_ISSUER_NAME_CHARS:
            raise RenderError(
                ErrorCode.INVALID_REQUEST,
                f"the issuer's name has {len(name)} characters; at most "
                f"{MAX_ISSUER_NAME_CHARS} fit on the paper",
            )
        object.__setattr__(self, "issuer_name", name)

    @property
    def expires_at(self) -> datetime:
        """End of validity, China time (what the paper says)."""
        return datetime.fromtimestamp(self.credential.expires_at, UTC).astimezone(CHINA_TIME)

    @property
    def issued_at(self) -> datetime:
        """Issue time, China time."""
        return datetime.fromtimestamp(self.credential.issued_at, UTC).astimezone(CHINA_TIME)

    @classmethod
    def from_token(cls, token_or_qr_text: str, *, issuer_name: str) -> PrintableCode:
        """Read a credential (compact JWS or `hc:/` text) for printing under `issuer_name`.

        The signature is NOT checked here: the token comes from the issuer over an authenticated
        channel, and every checkpoint verifies the printed code anyway. Its claims are parsed and
        validated as a verifier would, and only offline codes are accepted (a phone code expires
        within the hour and must not be printed).

        Raises:
            RenderError: INVALID_REQUEST if the text is not a readable offline credential or
                the issuer name is blank.
        """
        qr_text, credential = read_offline_credential(token_or_qr_text)
        return cls(qr_text=qr_text, credential=credential, issuer_name=issuer_name)

    @property
    def issuer_label(self) -> str:
        """The issuer's name with its registry id, e.g. "四川省卫生健康委员会 (cn-sc)"."""
        return f"{self.issuer_name} ({self.credential.issuer})"


def read_offline_credential(token_or_qr_text: str) -> tuple[str, Credential]:
    """The `hc:/` text and claims of an offline credential (see `PrintableCode.from_token`).

    Raises:
        RenderError: INVALID_REQUEST if the text is not a readable offline credential.
    """
    text = token_or_qr_text.strip()
    try:
        token = extract_token(text, DEFAULT_LIMITS)
        claims = parse_compact(token, DEFAULT_LIMITS).claims(DEFAULT_LIMITS)
        credential = Credential.from_claims(claims)
    except HealthcodeError as exc:
        raise RenderError(
            ErrorCode.INVALID_REQUEST,
            f"not a printable health code ({exc.code.value}: {exc.message}); "
            "pass the token or hc:/ text the issuer returned",
        ) from exc
    if credential.kind is not CodeKind.OFFLINE:
        raise RenderError(
            ErrorCode.INVALID_REQUEST,
            f"only offline codes are printed (this is a {credential.kind.value} code); "
            "ask the issuer for an offline code",
        )
    qr_text = text if text.startswith(HC_PREFIX) else encode_numeric(token)
    return qr_text, credential
