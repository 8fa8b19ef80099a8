"""`healthcode registry ...`: operate the trust registry from the command line.

Local commands work on the registry's database and root-key directory directly (they are run
on the registry host, by its operators); `serve` runs the HTTP service. Database and directory
come from `--database-url`/`--root-dir`, else from HC_INTEROP_DATABASE_URL and
HC_INTEROP_ROOT_KEYS_DIR, else the service defaults.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from healthcode.cli import UsageError
from healthcode.errors import HealthcodeError, PeerError
from healthcode.fetch import PEER_BOUNDS, PeerClient
from healthcode.trust import IssuerStatus
from interop.registry import keychanges, store
from interop.registry.models import PendingDocument
from interop.registry.signing import RootKeyring, init_root, rotate_root
from interop.settings import InteropSettings

__all__ = ["register"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: `--new-timestamp-key` given without a file: generate the new key
_GENERATE = object()


def _default(name: str) -> str:
    env = os.environ.get(f"HC_INTEROP_{name.upper()}")
    return env if env is not None else str(InteropSettings.model_fields[name].default)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (containers)
        return "cli"


def _print(data: dict[str, Any]) -> None:
    print(json.dumps(data, ensure_ascii=False))


def _published(record: store.Publication) -> int:
    if isinstance(record, PendingDocument):
        _print({"trust_list_version": record.version, "pending": True})
    else:
        _print({"trust_list_version": record.version, "signed_at": record.published_at.isoformat()})
    return EXIT_OK


def _with_registry(work: Callable[[Session, RootKeyring, argparse.Namespace], int]) -> Any:
    """Open the database and root keyring named by the arguments, then run `work`."""

    def handler(args: argparse.Namespace) -> int:
        from interop.app import create_engine_for, init_database

        try:
            keyring = RootKeyring.load(args.root_dir)
        except ValueError as exc:
            print(f"healthcode registry: {exc}", file=sys.stderr)
            return EXIT_USAGE
        engine = create_engine_for(args.database_url)
        try:
            init_database(engine, keyring)
            with Session(engine) as session:
                return work(session, keyring, args)
        except HealthcodeError as exc:
            print(f"healthcode registry: {exc.code.value}: {exc.message}", file=sys.stderr)
            return EXIT_FAILED
        finally:
            engine.dispose()

    return handler


def _init_root(args: argparse.Namespace) -> int:
    try:
        keyring = init_root(
            args.root_dir,
            key_count=args.keys,
            threshold=args.threshold,
            now=datetime.now(UTC),
            lifetime=timedelta(days=args.lifetime_days),
        )
    except ValueError as exc:
        print(f"healthcode registry: {exc}", file=sys.stderr)
        return EXIT_USAGE
    root = keyring.current
    _print({"root_version": root.version, "threshold": root.threshold, "keys": list(root.keys)})
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from healthcode.server.serve import serve
    from interop.app import create_app

    settings = InteropSettings(
        database_url=args.database_url,
        root_keys_dir=Path(args.root_dir),
        **({"host": args.host} if args.host else {}),
        **({"port": args.port} if args.port else {}),
    )
    serve(create_app(settings), settings)  # log settings and slow-loris read limits included
    return EXIT_OK


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc


def _onboard(session: Session, keyring: RootKeyring, args: argparse.Namespace) -> int:
    endpoints = {}
    for item in args.endpoint:
        name, sep, url = item.partition("=")
        if not sep:
            print(f"healthcode registry: --endpoint wants NAME=URL, got {item!r}", file=sys.stderr)
            return EXIT_USAGE
        endpoints[name] = url
    partner_keys = _read_json(args.partner_jwks)["keys"] if args.partner_jwks else []
    record = store.onboard_issuer(
        session,
        keyring,
        issuer_id=args.id,
        name=args.name,
        region=args.region,
        profile=args.profile,
        endpoints=endpoints,
        jwks=_read_json(args.jwks),
        partner_keys=partner_keys,
        actor=_actor(),
    )
    return _published(record)


def _status_change(
    status: IssuerStatus,
) -> Callable[[Session, RootKeyring, argparse.Namespace], int]:
    def work(session: Session, keyring: RootKeyring, args: argparse.Namespace) -> int:
        return _published(
            store.set_issuer_status(
                session, keyring, args.issuer, status, actor=_actor(), reason=args.reason
            )
        )

    return work


def _revoke_key(session: Session, keyring: RootKeyring, args: argparse.Namespace) -> int:
    return _published(
        keychanges.revoke_key(
            session, keyring, args.issuer, args.kid, actor=_actor(), reason=args.reason
        )
    )


def _publish(session: Session, keyring: RootKeyring, args: argparse.Namespace) -> int:
    return _published(
        store.publish(session, keyring, actor=_actor(), lifetime=timedelta(seconds=args.lifetime_s))
    )


def _rotate_root(session: Session, keyring: RootKeyring, args: argparse.Namespace) -> int:
    from healthcode.keys import SigningKey

    new_timestamp_key: SigningKey | bool = args.new_timestamp_key is _GENERATE
    if isinstance(args.new_timestamp_key, Path):
        try:
            new_timestamp_key = SigningKey.load(args.new_timestamp_key)
        except (OSError, ValueError) as exc:
            print(
                f"healthcode registry: cannot read the timestamp key {args.new_timestamp_key}: "
                f"{exc}",
                file=sys.stderr,
            )
            return EXIT_USAGE
    try:
        rotated = rotate_root(
            keyring,
            add=args.add,
            drop=args.drop,
            threshold=args.threshold,
            new_timestamp_key=new_timestamp_key,
            now=datetime.now(UTC),
            lifetime=timedelta(days=args.lifetime_days),
        )
    except (ValueError, RuntimeError) as exc:
        print(f"healthcode registry: {exc}", file=sys.stderr)
        return EXIT_FAILED
    # Re-sign the trust list under the new root at once, so clients move to it.
    record = store.publish(
        session, rotated, actor=_actor(), action="rotate_root", target=str(rotated.current.version)
    )
    _print(
        {
            "root_version": rotated.current.version,
            "threshold": rotated.current.threshold,
            "keys": list(rotated.current.keys),
            "timestamp_keys": sorted(rotated.current.timestamp_keys),
            "trust_list_version": record.version,
            "pending": isinstance(record, PendingDocument),
        }
    )
    return EXIT_OK


def _cosign(args: argparse.Namespace) -> int:
    """Review the pending version at a registry and add this root key's signature to it.

    What is shown and what is signed are one string: the pending payload, decoded and checked
    here against the root chain walked from `--root` (interop.registry.review), never the
    registry's own decoded copy.
    """

    from healthcode.keys import SigningKey
    from healthcode.trustlist import load_root
    from interop.registry.review import review_pending

    token = os.environ.get(args.token_env)
    if not token:
        print(f"healthcode registry: set ${args.token_env} to your admin token", file=sys.stderr)
        return EXIT_USAGE
    try:
        key = SigningKey.load(args.key)
    except (OSError, ValueError) as exc:
        print(f"healthcode registry: cannot read the root key {args.key}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        pinned = load_root(args.root.read_bytes())
    except (OSError, HealthcodeError) as exc:
        reason = exc.message if isinstance(exc, HealthcodeError) else exc
        print(
            f"healthcode registry: cannot use the pinned root {args.root}: {reason}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    headers = {"Authorization": f"Bearer {token}"}
    base = args.registry.rstrip("/")
    now = datetime.now(UTC)
    with PeerClient(bounds=PEER_BOUNDS.trust_list) as http:
        try:
            review = review_pending(
                http,
                base,
                pinned,
                signer_kid=key.kid,
                headers=headers,
                now=now,
                expected_version=args.version,
                min_validity=store.MIN_PUBLISH_VALIDITY,
            )
        except HealthcodeError as exc:
            print(f"healthcode registry: {exc.code.value}: {exc.message}", file=sys.stderr)
            return EXIT_FAILED
        print("\n".join(review.lines(now)), file=sys.stderr)
        version = review.proposed.version
        if not args.yes and not _confirm(f"sign trust list version {version} with {key.kid}?"):
            print("healthcode registry: not signed", file=sys.stderr)
            return EXIT_FAILED
        # The very string decoded and shown above.
        signature = _detached_signature(key, review.payload_b64)
        try:
            answer = http.post(
                f"{base}/v1/admin/pending/{version}/signatures", json=signature, headers=headers
            )
            result = answer.json() if answer.status_code in (200, 202) else None
        except PeerError as exc:
            print(f"healthcode registry: {exc.code.value}: {exc.message}", file=sys.stderr)
            return EXIT_FAILED
    if answer.status_code not in (200, 202):
        print(f"healthcode registry: {answer.status_code}: {answer.text}", file=sys.stderr)
        return EXIT_FAILED
    if not isinstance(result, dict):
        print("healthcode registry: the registry's answer is not a JSON object", file=sys.stderr)
        return EXIT_FAILED
    _print(result)
    return EXIT_OK


def _confirm(question: str) -> bool:
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        reply = sys.stdin.readline()
    except (OSError, ValueError):  # no usable stdin: never a yes
        return False
    return reply.strip().lower() in {"y", "yes"}


def _detached_signature(key: Any, payload_b64: str) -> dict[str, str]:
    """A JWS JSON signature object by `key` over the given (base64url) payload."""
    from healthcode.keys import b64url_encode
    from healthcode.trustlist import TRUST_LIST_TYP

    header = {"alg": "ES256", "kid": key.kid, "typ": TRUST_LIST_TYP}
    protected = b64url_encode(json.dumps(header, separators=(",", ":")).encode("ascii"))
    signature = key.sign_raw(f"{protected}.{payload_b64}".encode("ascii"))
    return {"protected": protected, "signature": b64url_encode(signature)}


def register(commands: Any) -> None:
    """Add `healthcode registry ...` to the core CLI (entry point `healthcode.commands`)."""
    registry = commands.add_parser("registry", help="operate the trust registry (standard §7)")
    actions = registry.add_subparsers(dest="registry_command", required=True, metavar="ACTION")

    def action(name: str, help_text: str, handler: Callable[[argparse.Namespace], int]) -> Any:
        parser = actions.add_parser(name, help=help_text)
        parser.add_argument("--database-url", default=_default("database_url"))
        parser.add_argument("--root-dir", type=Path, default=Path(_default("root_keys_dir")))
        parser.set_defaults(handler=handler)
        return parser

    init = action("init-root", "generate root keys and sign root version 1", _init_root)
    init.add_argument("--keys", type=int, default=3, help="number of root keys (n)")
    init.add_argument("--threshold", type=int, default=2, help="signatures required (m)")
    init.add_argument("--lifetime-days", type=int, default=365)

    serve = action("serve", "run the registry HTTP service", _serve)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)

    onboard = action("onboard", "add an issuer and publish", _with_registry(_onboard))
    onboard.add_argument("--id", required=True, help="issuer id, e.g. cn-sc")
    onboard.add_argument("--name", required=True)
    onboard.add_argument("--region", help="GB/T 2260 code of the province, e.g. 510000")
    onboard.add_argument("--profile", default="hc", choices=["hc", "shc"])
    onboard.add_argument("--jwks", type=Path, required=True, help="JWKS of its signing keys")
    onboard.add_argument("--partner-jwks", type=Path, help="JWKS of its partner-API keys")
    onboard.add_argument(
        "--endpoint", action="append", default=[], help="NAME=URL (partner_api, jwks, revocations)"
    )

    for name, status, text in (
        ("suspend", IssuerStatus.SUSPENDED, "suspend an issuer and publish at once"),
        ("reinstate", IssuerStatus.ACTIVE, "reinstate a suspended issuer"),
    ):
        change = action(name, text, _with_registry(_status_change(status)))
        change.add_argument("issuer")
        change.add_argument("--reason", default="")

    revoke = action(
        "revoke-key", "emergency key revocation, published at once", _with_registry(_revoke_key)
    )
    revoke.add_argument("issuer")
    revoke.add_argument("kid")
    revoke.add_argument("--reason", default="")

    rotate = action(
        "rotate-root", "sign root N+1 with old and new threshold", _with_registry(_rotate_root)
    )
    rotate.add_argument("--add", type=int, default=1, help="new root keys to generate")
    rotate.add_argument("--drop", action="append", default=[], help="kid of a root key to remove")
    rotate.add_argument("--threshold", type=int, help="threshold of the new root")
    rotate.add_argument("--lifetime-days", type=int, default=365)
    rotate.add_argument(
        "--new-timestamp-key",
        nargs="?",
        type=Path,
        const=_GENERATE,
        metavar="PEM",
        help="replace the online timestamp key (§7.7), e.g. after it was stolen: with the "
        "private key in PEM, else a fresh one",
    )

    cosign = actions.add_parser(
        "cosign", help="review the pending trust-list version and add a root key's signature"
    )
    cosign.add_argument("--registry", required=True, help="registry base URL")
    cosign.add_argument("--key", type=Path, required=True, help="your root private key (PEM)")
    cosign.add_argument(
        "--root",
        type=Path,
        required=True,
        help="your pinned root document (root-1.json as shipped); newer roots are fetched and "
        "verified from it",
    )
    cosign.add_argument("--version", type=int, help="refuse unless this version is pending")
    cosign.add_argument(
        "--yes", action="store_true", help="sign after the review without asking (scripts)"
    )
    cosign.add_argument(
        "--token-env", default="HC_INTEROP_ADMIN_TOKEN", help="variable holding your admin token"
    )
    cosign.set_defaults(handler=_cosign)

    publish = action(
        "publish", "re-sign the current state as a new version", _with_registry(_publish)
    )
    publish.add_argument(
        "--lifetime-s", type=int, default=int(store.DEFAULT_LIST_LIFETIME.total_seconds())
    )
