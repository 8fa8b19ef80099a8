"""`healthcode offline ...`: print an offline code (fetched from the issuer or already issued).

    healthcode offline print --from-issuer --bearer-token-file FILE --out FILE
                             [--dependent REF | --family | --walk-in FILE] [--issuer-url URL]
    healthcode offline print (--token FILE | --qr-text TEXT) --issuer-name NAME --out FILE
    healthcode offline sample --out-dir DIR

`print` writes PDF or PNG by the suffix of `--out`, in the layout `--layout a4|card`, and
writes one audit row per printed code to the print audit log (`--audit-db`, default
`HC_OFFLINE_AUDIT_DATABASE_URL`) before the file: a print that cannot be audited is not
written. With `--from-issuer` the code comes from the issuer exactly as through the print
service (the bearer token is read from a file, never from the command line) and the audit names
the actor as the issuer does; a token file printed locally is audited as `local:<os user>`.
`sample` issues demo codes with a fresh throw-away key (never a real issuer's) and writes every
layout as PDF and PNG, and the red A4 sheet as a 1-bit black-and-white copy, for screenshots;
nothing about them is audited.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from healthcode.credential import CodeKind, ReasonCode, StatusColour, new_credential
from healthcode.errors import HealthcodeError
from healthcode.fetch import PeerClient
from healthcode.idnumber import make_id_number, parse_id_number, pseudonymous_subject
from healthcode.jws import sign_credential
from healthcode.keys import SigningKey
from offline.audit import actor_ref, open_audit_log
from offline.degrade import MONO_THRESHOLD
from offline.printing import (
    FetchedCode,
    OutputFormat,
    PrintAction,
    check_layout,
    fetch_codes,
    render_and_audit,
)
from offline.settings import OfflineSettings, issuer_bounds
from offline.sheet import (
    FamilySheet,
    Layout,
    OfflineCodeSheet,
    PrintableCode,
    rasterize,
    read_offline_credential,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_SAMPLE_SECRET = b"offline-sample-subject-secret-not-for-production"
_MAX_SECRET_FILE_BYTES = 64 * 1024


class _UsageError(Exception):
    """Bad arguments or unreadable input: exit status 2."""


def register(commands: Any) -> None:
    """Add the `offline` subcommand to the `healthcode` command line."""
    offline = commands.add_parser("offline", help="printable offline codes (PDF/PNG)")
    actions = offline.add_subparsers(dest="offline_command", required=True, metavar="ACTION")

    printer = actions.add_parser(
        "print", help="print an offline code (from the issuer, or already issued) as PDF or PNG"
    )
    source = printer.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--from-issuer", action="store_true", help="ask the issuer for the code (a new one)"
    )
    source.add_argument("--token", type=Path, metavar="FILE", help="file with the JWS or hc:/")
    source.add_argument("--qr-text", metavar="TEXT", help="the hc:/ text (or the JWS) itself")
    printer.add_argument("--out", required=True, type=Path, help="output file, .pdf or .png")
    printer.add_argument("--layout", choices=[layout.value for layout in Layout], default="a4")
    printer.add_argument(
        "--issuer-name",
        help="issuer name to print (default: the issuer's answer, or HC_OFFLINE_ISSUER_NAMES)",
    )
    printer.add_argument("--dpi", type=int, default=150, help="PNG resolution")
    printer.add_argument("--audit-db", metavar="URL", help="print audit database URL")
    fetching = printer.add_argument_group("with --from-issuer")
    fetching.add_argument("--issuer-url", help="issuer base URL (default HC_OFFLINE_ISSUER_URL)")
    fetching.add_argument(
        "--bearer-token-file", type=Path, metavar="FILE", help="file with your issuer login token"
    )
    whose = fetching.add_mutually_exclusive_group()
    whose.add_argument("--dependent", metavar="REF", help="a bound dependent's code")
    whose.add_argument("--family", action="store_true", help="family sheet of every dependent")
    whose.add_argument(
        "--walk-in",
        type=Path,
        metavar="FILE",
        help='counter staff: JSON file {"id_number": ..., "name": ...} of a walk-in citizen',
    )
    printer.set_defaults(handler=print_command)

    sample = actions.add_parser("sample", help="write sample sheets (demo key) for screenshots")
    sample.add_argument("--out-dir", required=True, type=Path)
    sample.add_argument("--dpi", type=int, default=110, help="PNG resolution")
    sample.set_defaults(handler=sample_command)


def _read_small_file(path: Path, what: str) -> str:
    try:
        if path.stat().st_size > _MAX_SECRET_FILE_BYTES:
            raise _UsageError(f"{path} is too large for {what}")
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise _UsageError(f"cannot read {what} from {path}: {type(exc).__name__}") from exc
    if not text:
        raise _UsageError(f"{path} is empty (expected {what})")
    return text


def _local_actor() -> str:
    """Who prints a token file: the operating-system account running the command."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in this environment
        user = "unknown"
    return f"local:{user}"[:96]


def _walk_in(path: Path) -> dict[str, str]:
    try:
        body = json.loads(_read_small_file(path, "the walk-in citizen"))
        number, name = body["id_number"], body["name"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise _UsageError(
            f'{path} must hold JSON {{"id_number": ..., "name": ...}} ({type(exc).__name__})'
        ) from exc
    if not isinstance(number, str) or not isinstance(name, str) or not 1 <= len(name) <= 32:
        raise _UsageError(f"{path}: id_number and name must be text (a name of 1-32 characters)")
    # A mistyped number is refused here (IdNumberError, exit 1), before it travels anywhere.
    return {"id_number": parse_id_number(number).number, "name": name}


def _fetch(
    args: argparse.Namespace, settings: OfflineSettings, layout: Layout
) -> tuple[PrintAction, list[FetchedCode], str]:
    """The codes to print, the action, and the session reference for the audit."""
    if args.bearer_token_file is None:
        raise _UsageError("--from-issuer needs --bearer-token-file FILE (your issuer login)")
    token = _read_small_file(args.bearer_token_file, "a bearer token")
    if args.family:
        action = PrintAction.FAMILY
    elif args.dependent is not None:
        action = PrintAction.FAMILY_MEMBER
    elif args.walk_in is not None:
        action = PrintAction.COUNTER
    else:
        action = PrintAction.ME
    check_layout(action, layout)
    walk_in = _walk_in(args.walk_in) if action is PrintAction.COUNTER else None
    url = args.issuer_url or settings.issuer_url
    with PeerClient(url, bounds=issuer_bounds(settings)) as client:
        fetched = fetch_codes(
            client,
            action,
            token,
            issuer_names=settings.issuer_names,
            dependent_ref=args.dependent,
            walk_in=walk_in,
        )
    return action, fetched, actor_ref(token)


def _local(args: argparse.Namespace, settings: OfflineSettings) -> FetchedCode:
    """A code the operator already has (token file or hc:/ text), printed without the issuer."""
    text = _read_small_file(args.token, "a token") if args.token is not None else args.qr_text
    qr_text, credential = read_offline_credential(text)
    name = args.issuer_name or settings.issuer_names.get(credential.issuer)
    if not name:
        raise _UsageError(
            f"name the issuer of this code ({credential.issuer}) with --issuer-name NAME or "
            "HC_OFFLINE_ISSUER_NAMES: every printed code shows its issuer's name"
        )
    code = PrintableCode(qr_text=qr_text, credential=credential, issuer_name=name)
    return FetchedCode(code, _local_actor())


def print_command(args: argparse.Namespace) -> int:
    """Print one code (or a family sheet) to `--out`, PDF or PNG by suffix, audited."""
    suffix = args.out.suffix.lower()
    try:
        if suffix not in (".pdf", ".png"):
            raise _UsageError("--out must end in .pdf or .png")
        if not args.from_issuer and (args.family or args.dependent or args.walk_in):
            raise _UsageError("--dependent, --family and --walk-in need --from-issuer")
        try:
            settings = OfflineSettings()
        except ValidationError as exc:
            raise _UsageError(f"bad HC_OFFLINE_* setting: {exc.errors()[0]['msg']}") from exc
        layout = Layout(args.layout)
        if args.from_issuer:
            action, fetched, session = _fetch(args, settings, layout)
        else:
            action, fetched, session = PrintAction.LOCAL, [_local(args, settings)], ""
        if args.from_issuer and args.issuer_name:
            # The operator's name wins over the issuer's answer, as HC_OFFLINE_ISSUER_NAMES does.
            fetched = [
                dataclasses.replace(
                    item, code=dataclasses.replace(item.code, issuer_name=args.issuer_name)
                )
                for item in fetched
            ]
        audit = open_audit_log(args.audit_db or settings.audit_database_url)
        try:
            job = render_and_audit(
                fetched,
                action=action,
                session_ref=session,
                channel="cli",
                layout=layout,
                output=OutputFormat(suffix[1:]),
                audit=audit,
                png_dpi=args.dpi,
            )
        finally:
            audit.dispose()
        args.out.write_bytes(job.content)
    except _UsageError as exc:
        print(f"healthcode offline: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except HealthcodeError as exc:
        print(f"healthcode offline: {exc.code.value}: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    except SQLAlchemyError as exc:
        print(
            f"healthcode offline: the print audit log cannot be written ({type(exc).__name__}); "
            "nothing was printed",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except (OSError, ValueError) as exc:
        print(f"healthcode offline: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    first = fetched[0].code
    until = first.expires_at.strftime("%Y-%m-%d %H:%M")
    if action is PrintAction.FAMILY:
        print(f"{args.out} (family sheet, {len(fetched)} codes, valid until {until} China time)")
    else:
        colour = first.credential.status.value
        print(f"{args.out} ({colour}, valid until {until} China time)")
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
    # The red A4 sheet as a cheap black-and-white printer makes it: 1 bit, no dithering.
    red = OfflineCodeSheet(codes[-1], Layout.A4).pdf()
    black_white = out / "offline-a4-red-black-white.png"
    grey = rasterize(red, args.dpi, grey=True)[0]
    grey.point(lambda v: 255 if v >= MONO_THRESHOLD else 0, mode="1").save(
        black_white, dpi=(args.dpi, args.dpi)
    )
    written.append(black_white)
    family = FamilySheet(codes)
    (out / "offline-family.pdf").write_bytes(family.pdf())
    (out / "offline-family.png").write_bytes(family.png(args.dpi))
    written += [out / "offline-family.pdf", out / "offline-family.png"]
    for path in written:
        print(path)
    return EXIT_OK
