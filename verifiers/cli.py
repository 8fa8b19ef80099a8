"""`healthcode checkpoint ...`: serve (HTTP or HTTPS), TLS certificate, devices, staff accounts,
log purge, revocation sync.

Settings come from the `HC_VERIFIER_*` environment, as for the service itself. Every change to
devices and accounts is audited (actor `cli`).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from healthcode.errors import HealthcodeError
from verifiers.auth import Authenticator, Role
from verifiers.scanlog import ScanLog, make_engine
from verifiers.settings import VerifierSettings
from verifiers.tlscert import make_certificate


def register(commands: Any) -> None:
    """Add the `checkpoint` subcommand to the `healthcode` command line."""
    checkpoint = commands.add_parser("checkpoint", help="checkpoint verifier service")
    actions = checkpoint.add_subparsers(dest="checkpoint_command", required=True, metavar="ACTION")

    serve = actions.add_parser("serve", help="serve the checkpoint API and staff page")
    serve.add_argument("--certfile", type=Path, help="TLS certificate (PEM): serve HTTPS")
    serve.add_argument("--keyfile", type=Path, help="TLS private key (PEM) of --certfile")
    serve.set_defaults(handler=_serve)

    make_cert = actions.add_parser(
        "make-cert", help="make a self-signed TLS certificate for serving on a LAN"
    )
    make_cert.add_argument(
        "hosts", nargs="+", help="host names and IP addresses devices use, e.g. 192.168.1.20"
    )
    make_cert.add_argument("--out", type=Path, default=Path("."), help="directory to write to")
    make_cert.add_argument("--days", type=int, default=365, help="validity (at most 397 days)")
    make_cert.set_defaults(handler=_make_cert)

    add_device = actions.add_parser("add-device", help="register a device; prints its token once")
    add_device.add_argument("--name", required=True, help="where the device stands")
    add_device.set_defaults(handler=_add_device)

    revoke = actions.add_parser("revoke-device", help="revoke a device token")
    revoke.add_argument("device_id")
    revoke.set_defaults(handler=_revoke_device)

    list_devices = actions.add_parser("list-devices", help="list devices (never their tokens)")
    list_devices.set_defaults(handler=_list_devices)

    add_user = actions.add_parser("add-user", help="create a staff or official account")
    add_user.add_argument("username")
    add_user.add_argument("--role", choices=[Role.STAFF.value, Role.OFFICIAL.value], required=True)
    add_user.add_argument(
        "--password-env",
        metavar="VAR",
        help="read the password from this environment variable (default: prompt)",
    )
    add_user.set_defaults(handler=_add_user)

    disable = actions.add_parser("disable-user", help="disable an account; ends its sessions")
    disable.add_argument("username")
    disable.set_defaults(handler=_set_disabled, disabled=True)
    enable = actions.add_parser("enable-user", help="re-enable a disabled account")
    enable.add_argument("username")
    enable.set_defaults(handler=_set_disabled, disabled=False)

    purge = actions.add_parser(
        "purge-scans", help="delete scan and audit records past their retention"
    )
    purge.set_defaults(handler=_purge)

    sync = actions.add_parser("sync-revocations", help="pull every issuer's revocation list now")
    sync.set_defaults(handler=_sync)


def _authenticator(settings: VerifierSettings) -> Authenticator:
    return Authenticator(
        make_engine(settings.database_url),
        settings.token_secret.get_secret_value().encode("utf-8"),
        settings.session_lifetime_s,
    )


def _serve(args: argparse.Namespace) -> int:
    from verifiers.__main__ import main

    overrides = {}
    if args.certfile is not None or args.keyfile is not None:
        overrides = {"tls_certfile": args.certfile, "tls_keyfile": args.keyfile}
    main(VerifierSettings(**overrides))
    return 0


def _make_cert(args: argparse.Namespace) -> int:
    try:
        cert, key = make_certificate(args.hosts, args.out, days=args.days)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"certificate: {cert}\nkey:         {key}  (keep it private)")
    print(f"serve with:  healthcode checkpoint serve --certfile {cert} --keyfile {key}")
    return 0


def _add_device(args: argparse.Namespace) -> int:
    settings = VerifierSettings()
    auth = _authenticator(settings)
    device_id, token = auth.add_device(args.name)
    ScanLog(auth.engine, settings.checkpoint_id).audit(
        actor="cli", action="add_device", detail=device_id
    )
    print(json.dumps({"device_id": device_id, "token": token}))
    print("The token is shown only now; store it on the device.", flush=True)
    return 0


def _revoke_device(args: argparse.Namespace) -> int:
    settings = VerifierSettings()
    auth = _authenticator(settings)
    auth.revoke_device(args.device_id)
    ScanLog(auth.engine, settings.checkpoint_id).audit(
        actor="cli", action="revoke_device", detail=args.device_id
    )
    print(json.dumps({"device_id": args.device_id, "revoked": True}))
    return 0


def _list_devices(args: argparse.Namespace) -> int:
    auth = _authenticator(VerifierSettings())
    for device in auth.list_devices():
        print(
            json.dumps(
                {
                    "device_id": device.id,
                    "name": device.name,
                    "created_at": _iso(device.created_at),
                    "revoked_at": _iso(device.revoked_at) if device.revoked_at else None,
                },
                ensure_ascii=False,
            )
        )
    return 0


def _iso(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _set_disabled(args: argparse.Namespace) -> int:
    settings = VerifierSettings()
    auth = _authenticator(settings)
    auth.set_disabled(args.username, args.disabled)
    ScanLog(auth.engine, settings.checkpoint_id).audit(
        actor="cli", action="disable_user" if args.disabled else "enable_user", detail=args.username
    )
    print(json.dumps({"username": args.username, "disabled": args.disabled}))
    return 0


def _add_user(args: argparse.Namespace) -> int:
    settings = VerifierSettings()
    password = os.environ.get(args.password_env, "") if args.password_env else ""
    if not password:
        password = getpass.getpass(f"password for {args.username}: ")
    auth = _authenticator(settings)
    auth.add_user(args.username, password, Role(args.role))
    ScanLog(auth.engine, settings.checkpoint_id).audit(
        actor="cli", action="add_user", detail=f"{args.username} role={args.role}"
    )
    print(json.dumps({"username": args.username, "role": args.role}))
    return 0


def _purge(args: argparse.Namespace) -> int:
    from verifiers.service import purge_records

    settings = VerifierSettings()
    auth = _authenticator(settings)
    deleted = purge_records(ScanLog(auth.engine, settings.checkpoint_id), auth, settings, now=None)
    print(
        json.dumps(
            {
                "deleted": deleted["scans"],
                "retention_days": settings.scan_retention_days,
                "audit_deleted": deleted["audit"],
                "audit_retention_days": settings.audit_retention_days,
            }
        )
    )
    return 0


def _sync(args: argparse.Namespace) -> int:
    from verifiers.service import CheckpointService

    service = CheckpointService(VerifierSettings())
    try:
        outcomes = service.sync_revocations()
    except HealthcodeError as exc:
        print(json.dumps({"error": exc.code.value, "message": exc.message}))
        return 1
    finally:
        service.close()
    print(json.dumps({"issuers": outcomes}))
    return 0 if all(v.startswith("ok") for v in outcomes.values()) else 1
