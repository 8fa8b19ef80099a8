"""`healthcode issuer ...` commands (also `python -m issuers ...`).

    healthcode issuer migrate                     create or upgrade the database schema
    healthcode issuer serve                       run the API (uvicorn)
    healthcode issuer import --kind KIND FILE     import a CSV feed (progress bar, row report)
    healthcode issuer rebuild-revocations         republish revocations from the database to Redis
    healthcode issuer sync-partner-revocations    revoke codes transcoded from revoked ones
    healthcode issuer rotate-key                  new signing key; old keys stay in the JWKS
    healthcode issuer add-user --role ROLE NAME   staff or checkpoint device account
    healthcode issuer disable-user NAME           end the account's sessions, refuse logins
    healthcode issuer enable-user NAME            allow a disabled account to log in again
    healthcode issuer register-citizen ...        register a resident (ID number, name, phone)
    healthcode issuer seed-demo [--json]          demo citizens, family, staff; prints logins

Settings come from `HC_ISSUER_*` environment variables (issuers/settings.py).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from healthcode.errors import HealthcodeError

if TYPE_CHECKING:
    from issuers.partner_sync import PartnerSyncReport

EXIT_OK = 0
EXIT_FAILED = 1
#: Bad input: an unreadable, non-UTF-8 or wrongly formed file (README "Command line").
EXIT_USAGE = 2
#: Bytes read at a time when checking that a feed file is UTF-8 before importing it.
_CHECK_CHUNK = 1 << 20


def _input_error(code: str, message: str) -> int:
    print(f"issuer: {code}: {message}", file=sys.stderr)
    return EXIT_USAGE


def _utf8_problem(path: Path) -> str | None:
    """Why `path` is not UTF-8 text (streamed, like the API checks an upload), or None."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as binary:
        while chunk := binary.read(_CHECK_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return f"{path.name} is not UTF-8 text (byte {offset + exc.start + 1})"
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return f"{path.name} is not UTF-8 text (it ends inside a character)"
    return None


def _settings() -> Any:
    from issuers.settings import IssuerSettings

    return IssuerSettings()


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _migrate(args: argparse.Namespace) -> int:
    from issuers.db import migrate

    settings = _settings()
    migrate(settings.database_url)
    print(f"schema of {settings.issuer_id} is at the latest revision")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from healthcode.server.serve import serve
    from issuers.app import create_app

    settings = _settings()
    # A frozen heap keeps full collections off the citizen hot path's p99 (ADR 0022).
    serve(create_app(settings), settings, freeze_heap=True)
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    import io

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from issuers.context import IssuerContext
    from issuers.feeds import FeedKind
    from issuers.importer import ImportInterrupted, import_feed, mark_interrupted_imports

    console = Console(stderr=True)
    path: Path = args.file
    try:
        if not path.is_file():
            return _input_error("invalid_request", f"{path} is not a file")
        total = path.stat().st_size
        problem = _utf8_problem(path)
    except OSError as exc:
        return _input_error("invalid_request", f"cannot read {path} ({exc.strerror})")
    if problem is not None:
        return _input_error("invalid_request", problem)
    context = IssuerContext.create(_settings())
    try:
        mark_interrupted_imports(context)
        with (
            path.open("rb") as binary,
            io.TextIOWrapper(binary, encoding="utf-8-sig", newline="") as text,
            Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>5.1f}%  {task.fields[rows]:,} rows"),
                TimeRemainingColumn(),
                console=console,
                disable=args.quiet,
            ) as progress,
        ):
            task = progress.add_task(f"import {args.kind}", total=total, rows=0)

            def advance(rows: int) -> None:
                progress.update(task, completed=binary.tell(), rows=rows)

            report = import_feed(
                context,
                text,
                FeedKind(args.kind),
                actor=_actor(),
                progress=advance,
                batch_size=args.batch_size,
            )
            progress.update(task, completed=total)
    except ImportInterrupted as exc:
        print(f"issuer: {exc.code.value}: {exc.message}", file=sys.stderr)
        if args.json:
            print(json.dumps(exc.report.to_json(), ensure_ascii=False))
        return EXIT_FAILED
    except HealthcodeError as exc:  # the file as a whole was refused (e.g. its header)
        return _input_error(exc.code.value, exc.message)
    except OSError as exc:
        return _input_error("invalid_request", f"cannot read {path} ({exc.strerror})")
    finally:
        context.close()
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
        return EXIT_OK
    console.print(
        f"{report.rows:,} rows: {report.accepted:,} accepted, {report.duplicates:,} already "
        f"imported, {report.rejected_count:,} rejected; {report.status_changes} status changes, "
        f"{report.revoked} codes revoked"
    )
    if report.rejected:
        table = Table("line", "error", "reason", title="rejected rows")
        for row in report.rejected[: args.show_rejected]:
            table.add_row(str(row.line), row.code.value, row.reason)
        console.print(table)
        if report.rejected_count > args.show_rejected:
            console.print(f"... and {report.rejected_count - args.show_rejected:,} more (--json)")
    return EXIT_OK


def _rebuild(args: argparse.Namespace) -> int:
    from issuers.context import IssuerContext
    from issuers.revocation import active_revocations

    context = IssuerContext.create(_settings())
    try:
        if context.publisher is None:
            print("no Redis configured (HC_ISSUER_REDIS_URL)", file=sys.stderr)
            return EXIT_FAILED
        if not context.publisher.rebuild():
            print("Redis unavailable; nothing changed", file=sys.stderr)
            return EXIT_FAILED
        with context.session() as session:
            count = len(active_revocations(session))
        print(f"{context.publisher.key}: {count} revoked codes published")
        return EXIT_OK
    finally:
        context.close()


def _sync_partners(args: argparse.Namespace) -> int:
    from healthcode.keys import SigningKey
    from issuers.app import registry_trust
    from issuers.context import IssuerContext
    from issuers.partner_sync import sync_partner_revocations

    settings = _settings()
    registry = registry_trust(settings)
    if registry is None or settings.partner_key_file is None:
        print(
            "set HC_ISSUER_REGISTRY_URL, HC_ISSUER_PINNED_ROOT and HC_ISSUER_PARTNER_KEY_FILE",
            file=sys.stderr,
        )
        return EXIT_FAILED
    current, client = registry
    client.refresh()  # type: ignore[attr-defined]
    context = IssuerContext.create(settings)
    try:
        report = sync_partner_revocations(
            context, current(), SigningKey.load(settings.partner_key_file)
        )
    finally:
        context.close()
    return print_partner_sync(report, out=sys.stdout, err=sys.stderr)


def print_partner_sync(report: PartnerSyncReport, *, out: TextIO, err: TextIO) -> int:
    """Print a sync round partner by partner; the exit status fails if any partner failed,
    so a scheduler that runs the command sees it (the codes of that partner stay unchecked)."""
    from issuers.partner_sync import MAX_PARTNER_DATA_AGE_S

    for partner in report.synced:
        revoked = report.revoked.get(partner, 0)
        print(f"{partner}: synced, {revoked} transcoded codes revoked", file=out)
    for partner, reason in sorted(report.failed.items()):
        print(f"{partner}: NOT synced: {reason}", file=err)
    if not report.complete:
        print(
            f"{len(report.failed)} of {len(report.failed) + len(report.synced)} partners not "
            "synced; transcodes of their codes fail closed once their data are older than "
            f"{MAX_PARTNER_DATA_AGE_S} s. Check their partner API, then run this again.",
            file=err,
        )
        return EXIT_FAILED
    return EXIT_OK


def _rotate(args: argparse.Namespace) -> int:
    import time
    from datetime import UTC, datetime

    from healthcode.keys import SigningKey
    from issuers.keyring import Keyring, register_new_key

    settings = _settings()
    keyring = Keyring(settings.key_dir, keep_retired_s=settings.offline_lifetime_s)
    new_key = SigningKey.generate()
    use_from = time.time()
    if settings.registry_url:
        # The registry must list the key before it signs: other provinces trust only the list.
        answer = register_new_key(
            settings.registry_url, settings.issuer_id, keyring.signing_key(), new_key
        )
        if answer.get("pending"):
            # Offline root custody: nothing is listed until the root holders cosign, so the
            # key must not sign; keep it aside and say what to do.
            pending = settings.key_dir / "pending" / f"{new_key.kid}.pem"
            new_key.save(pending)
            print(
                f"key {new_key.kid} submitted; trust-list version "
                f"{answer['trust_list_version']} awaits the root holders' cosignatures. The "
                f"current key keeps signing. Kept at {pending}.",
                file=sys.stderr,
            )
            return EXIT_FAILED
        # §7.4: sign with it only once verifiers had a refresh interval to learn it.
        listed = datetime.strptime(answer["use_from"], "%Y-%m-%dT%H:%M:%SZ")
        use_from = listed.replace(tzinfo=UTC).timestamp()
    key = keyring.rotate(now=use_from, new_key=new_key)
    retired = [r.kid for r in keyring.records() if r.retired_at is not None]
    when = datetime.fromtimestamp(use_from, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(
        f"new signing key {key.kid}, signing from {when}; retired keys kept in the JWKS: "
        f"{', '.join(retired) or '-'}"
    )
    if not settings.registry_url:
        print("no registry configured: this key is trusted where this issuer's JWKS is")
    return EXIT_OK


def _add_user(args: argparse.Namespace) -> int:
    from issuers.audit import audit
    from issuers.auth import Role, create_staff
    from issuers.context import IssuerContext

    password = args.password or os.environ.get("HC_ISSUER_NEW_PASSWORD")
    if not password:
        password = getpass.getpass(f"password for {args.username}: ")
    if len(password) < 8:
        print("the password needs at least 8 characters", file=sys.stderr)
        return EXIT_FAILED
    context = IssuerContext.create(_settings())
    try:
        with context.session() as session:
            create_staff(session, args.username, password, Role(args.role))
            audit(
                session,
                actor=_actor(),
                action=f"add_staff:{args.role}",
                subject=None,
                reason=args.username,
            )
            session.commit()
    finally:
        context.close()
    print(f"account {args.username} ({args.role}) created")
    return EXIT_OK


def _set_disabled(args: argparse.Namespace, *, disabled: bool) -> int:
    from issuers.audit import audit
    from issuers.auth import set_staff_disabled
    from issuers.context import IssuerContext

    context = IssuerContext.create(_settings())
    try:
        with context.session() as session:
            ended = set_staff_disabled(session, args.username, disabled=disabled)
            audit(
                session,
                actor=_actor(),
                action="disable_staff" if disabled else "enable_staff",
                subject=None,
                reason=args.username,
            )
            session.commit()
    finally:
        context.close()
    if disabled:
        print(f"account {args.username} disabled; {ended} open sessions ended")
    else:
        print(f"account {args.username} enabled")
    return EXIT_OK


def _disable_user(args: argparse.Namespace) -> int:
    return _set_disabled(args, disabled=True)


def _enable_user(args: argparse.Namespace) -> int:
    return _set_disabled(args, disabled=False)


def _register_citizen(args: argparse.Namespace) -> int:
    from issuers.context import IssuerContext
    from issuers.store import register_citizen

    context = IssuerContext.create(_settings())
    try:
        with context.session() as session:
            citizen, _ = register_citizen(
                context,
                session,
                id_number=args.id_number,
                name=args.name,
                phone=args.phone,
                actor=_actor(),
            )
            session.commit()
        print(f"registered {citizen.masked_name} (ID ending {citizen.id_tail}): {citizen.colour}")
    finally:
        context.close()
    return EXIT_OK


def _seed(args: argparse.Namespace) -> int:
    from issuers.context import IssuerContext
    from issuers.seed import seed_demo

    context = IssuerContext.create(_settings())
    try:
        logins = seed_demo(context, password=args.password)
    finally:
        context.close()
    if args.json:
        print(json.dumps(logins, ensure_ascii=False, indent=2))
    else:
        print(f"demo data of {logins['issuer']} (synthetic people):")
        for citizen in logins["citizens"]:
            print(
                f"  citizen {citizen['name']}: id {citizen['id_number']}, phone "
                f"{citizen['phone'] or '-'}, {citizen['colour']}"
                + (f", dependent of {citizen['guardian']}" if citizen.get("guardian") else "")
            )
        for account in logins["accounts"]:
            print(f"  {account['role']}: {account['username']} / {account['password']}")
    return EXIT_OK


def add_commands(commands: Any) -> None:
    """The issuer subcommands on an argparse subparsers object."""
    from issuers.auth import Role
    from issuers.feeds import FeedKind

    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    migrate.set_defaults(handler=_migrate)
    serve = commands.add_parser("serve", help="run the issuer API with uvicorn")
    serve.set_defaults(handler=_serve)
    feed = commands.add_parser("import", help="import a CSV feed (streamed, idempotent)")
    feed.add_argument("--kind", required=True, choices=[k.value for k in FeedKind])
    feed.add_argument("--batch-size", type=int, default=None, help="rows per transaction")
    feed.add_argument("--json", action="store_true", help="print the report as JSON")
    feed.add_argument("--quiet", action="store_true", help="no progress bar")
    feed.add_argument("--show-rejected", type=int, default=50, help="rejected rows listed")
    feed.add_argument("file", type=Path, metavar="FILE")
    feed.set_defaults(handler=_import)
    rebuild = commands.add_parser(
        "rebuild-revocations", help="republish unexpired revocations from the database to Redis"
    )
    rebuild.set_defaults(handler=_rebuild)
    sync = commands.add_parser(
        "sync-partner-revocations", help="revoke codes transcoded from revoked partner codes"
    )
    sync.set_defaults(handler=_sync_partners)
    rotate = commands.add_parser("rotate-key", help="new signing key; old keys stay in the JWKS")
    rotate.set_defaults(handler=_rotate)
    user = commands.add_parser("add-user", help="create a staff or checkpoint device account")
    user.add_argument("--role", required=True, choices=[r.value for r in Role if r != Role.CITIZEN])
    user.add_argument("--password", help="default: $HC_ISSUER_NEW_PASSWORD or a prompt")
    user.add_argument("username")
    user.set_defaults(handler=_add_user)
    disable = commands.add_parser(
        "disable-user", help="disable a staff account: its sessions end, logins are refused"
    )
    disable.add_argument("username")
    disable.set_defaults(handler=_disable_user)
    enable = commands.add_parser("enable-user", help="let a disabled staff account log in again")
    enable.add_argument("username")
    enable.set_defaults(handler=_enable_user)
    citizen = commands.add_parser("register-citizen", help="register a resident")
    citizen.add_argument("--id-number", required=True)
    citizen.add_argument("--name", required=True)
    citizen.add_argument("--phone")
    citizen.set_defaults(handler=_register_citizen)
    seed = commands.add_parser("seed-demo", help="demo citizens, a family and staff accounts")
    seed.add_argument("--json", action="store_true", help="print logins as JSON")
    seed.add_argument("--password", help="password of every demo account (default: random)")
    seed.set_defaults(handler=_seed)


def register(commands: Any) -> None:
    """Entry point `healthcode.commands`: adds `healthcode issuer ...`."""
    issuer = commands.add_parser("issuer", help="province issuer service (issuers/)")
    add_commands(issuer.add_subparsers(dest="issuer_command", required=True, metavar="ACTION"))


def main(argv: list[str] | None = None) -> int:
    """`python -m issuers [ACTION ...]`; no action runs the server."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m issuers")
    add_commands(parser.add_subparsers(dest="issuer_command", metavar="ACTION"))
    args = parser.parse_args(argv or ["serve"])
    try:
        status: int = args.handler(args)
    except HealthcodeError as exc:
        print(f"issuer: {exc.code.value}: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    return status
