"""`healthcode offline ...`: print an already-issued offline code, or make sample sheets.

    healthcode offline print (--token FILE | --qr-text TEXT) --out FILE [--layout a4|card]
    healthcode offline sample --out-dir DIR

`print` writes PDF or PNG by the suffix of `--out`. `sample` issues demo codes with a fresh
throw-away key (never a real issuer's) and writes every layout as PDF and PNG, for screenshots.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from healthcode.credential import CodeKind, ReasonCode, StatusColour, new_credential
from healthcode.errors import HealthcodeError
from healthcode.idnumber import make_id_number, pseudonymous_subject
from healthcode.jws import sign_credential
from healthcode.keys import SigningKey
from offline.sheet import FamilySheet, Layout, OfflineCodeSheet, PrintableCode

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_SAMPLE_SECRET = b"offline-sample-subject-secret-not-for-production"


def register(commands: Any) -> None:
    """Add the `offline` subcommand to the `healthcode` command line."""
    offline = commands.add_parser("offline", help="printable offline codes (PDF/PNG)")
    actions = offline.add_subparsers(dest="offline_command", required=True, metavar="ACTION")

    printer = actions.add_parser("print", help="render an issued offline code as PDF or PNG")
    source = printer.add_mutually_exclusive_group(required=True)
    source.add_argument("--token", type=Path, metavar="FILE", help="file with the JWS or hc:/")
    source.add_argument("--qr-text", metavar="TEXT", help="the hc:/ text (or the JWS) itself")
    printer.add_argument("--out", required=True, type=Path, help="output file, .pdf or .png")
    printer.add_argument("--layout", choices=[layout.value for layout in Layout], default="a4")
    printer.add_argument("--issuer-name", default="", help="issuer name to print")
    printer.add_argument("--dpi", type=int, default=150, help="PNG resolution")
    printer.set_defaults(handler=print_command)

    sample = actions.add_parser("sample", help="write sample sheets (demo key) for screenshots")
    sample.add_argument("--out-dir", required=True, type=Path)
    sample.add_argument("--dpi", type=int, default=110, help="PNG resolution")
    sample.set_defaults(handler=sample_command)


def print_command(args: argparse.Namespace) -> int:
    """Render one issued code to `--out` (PDF or PNG by suffix)."""
    suffix = args.out.suffix.lower()
    if suffix not in (".pdf", ".png"):
        print("healthcode offline: --out must end in .pdf or .png", file=sys.stderr)
        return EXIT_USAGE
    if args.token is not None:
        try:
            text = args.token.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"healthcode offline: cannot read {args.token}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    else:
        text = args.qr_text
    try:
        code = PrintableCode.from_token(text, issuer_name=args.issuer_name)
        sheet = OfflineCodeSheet(code, Layout(args.layout))
        content = sheet.png(args.dpi) if suffix == ".png" else sheet.pdf()
    except HealthcodeError as exc:
        print(f"healthcode offline: {exc.code.value}: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    args.out.write_bytes(content)
    until = code.expires_at.strftime("%Y-%m-%d %H:%M")
    print(f"{args.out} ({code.credential.status.value}, valid until {until} China time)")
    return EXIT_OK


def sample_codes(key: SigningKey, *, now: float | None = None) -> list[PrintableCode]:
    """Demo offline codes, one per colour, signed by `key` for issuer `cn-sc`."""
    people = [
        ("张*丰", make_id_number("510104", date(1948, 3, 1), 123), StatusColour.GREEN),
        ("李*", make_id_number("510107", date(2016, 7, 9), 45), StatusColour.YELLOW),
        ("王*芳", make_id_number("510105", date(1952, 11, 20), 301), StatusColour.RED),
    ]
    reasons = {
        StatusColour.GREEN: ReasonCode.NONE,
        StatusColour.YELLOW: ReasonCode.RISK_AREA,
        StatusColour.RED: ReasonCode.CLOSE_CONTACT,
    }
    codes = []
    for masked, number, colour in people:
        credential = new_credential(
            issuer="cn-sc",
            subject=pseudonymous_subject(number, _SAMPLE_SECRET),
            status=colour,
            reason=reasons[colour],
            masked_name=masked,
            id_tail=number[-4:],
            kind=CodeKind.OFFLINE,
            now=now,
        )
        codes.append(
            PrintableCode.from_token(
                sign_credential(credential, key), issuer_name="四川省卫生健康委员会 Sichuan"
            )
        )
    return codes


def sample_command(args: argparse.Namespace) -> int:
    """Write sample A4, card and family sheets as PDF and PNG into `--out-dir`."""
    out: Path = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    codes = sample_codes(SigningKey.generate())
    written = []
    for code in codes:
        colour = code.credential.status.value
        for layout in Layout:
            sheet = OfflineCodeSheet(code, layout)
            stem = out / f"offline-{layout.value}-{colour}"
            stem.with_suffix(".pdf").write_bytes(sheet.pdf())
            stem.with_suffix(".png").write_bytes(sheet.png(args.dpi))
            written += [stem.with_suffix(".pdf"), stem.with_suffix(".png")]
    family = FamilySheet(codes)
    (out / "offline-family.pdf").write_bytes(family.pdf())
    (out / "offline-family.png").write_bytes(family.png(args.dpi))
    written += [out / "offline-family.pdf", out / "offline-family.png"]
    for path in written:
        print(path)
    return EXIT_OK
