"""`healthcode` command line: keys, issue, verify, bench (+ service commands via entry points).

The command names, options, JSON output and exit statuses are a contract other provinces'
scripts rely on (README "Command line", standard §11): exit 0 valid, 1 invalid, 2 usage error.
Services add subcommands through the `healthcode.commands` entry-point group, so the core never
imports a service.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path

from healthcode.credential import CodeKind, ReasonCode, StatusColour, mask_name, new_credential
from healthcode.errors import ErrorCode, HealthcodeError, VerificationError
from healthcode.idnumber import parse_id_number, pseudonymous_subject
from healthcode.jws import sign_credential
from healthcode.keys import SigningKey, jwks_document
from healthcode.qr import (
    decode_image,
    encode_numeric,
    is_chunk,
    reassemble_chunks,
    render_png,
    render_svg,
    render_terminal,
)
from healthcode.shc import extract_file_tokens
from healthcode.trust import TrustStore
from healthcode.verify import VerificationResult, verify_credential

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF", b"GIF8", b"BM")
_MAX_INPUT_FILE_BYTES = 50 * 1024 * 1024
SUBJECT_SECRET_ENV = "HC_SUBJECT_SECRET"


class UsageError(Exception):
    """Bad arguments or unreadable input: exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="healthcode", description="Issue and verify signed health codes (standard v1)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    keys = commands.add_parser("keys", help="manage ES256 issuer keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    generate = keys_commands.add_parser("generate", help="generate a key pair and its JWKS")
    generate.add_argument("--out", required=True, type=Path, help="directory to write into")
    generate.add_argument(
        "--force", action="store_true", help="replace an existing key (codes it signed go bad)"
    )
    generate.set_defaults(handler=_keys_generate)

    issue = commands.add_parser("issue", help="issue a signed code (demos and tests)")
    issue.add_argument("--key", required=True, type=Path, help="issuer private key (PEM)")
    issue.add_argument("--issuer", required=True, help="issuer id as in the trust list")
    issue.add_argument("--status", required=True, choices=[c.value for c in StatusColour])
    issue.add_argument("--kind", default="phone", choices=[k.value for k in CodeKind])
    issue.add_argument("--reason", default="none", choices=[r.value for r in ReasonCode])
    issue.add_argument("--id-number", help="resident ID number (only its pseudonym is used)")
    issue.add_argument("--name", default="张三丰", help="display name (masked in the code)")
    issue.add_argument("--lifetime", type=int, help="seconds (default per kind, standard §4)")
    issue.add_argument("--format", choices=["qr", "jws"], default="qr", help="stdout form")
    issue.add_argument("--png", type=Path, help="also write the QR code as PNG")
    issue.add_argument("--svg", type=Path, help="also write the QR code as SVG")
    issue.add_argument("--terminal", action="store_true", help="also draw the QR on stderr")
    issue.set_defaults(handler=_issue)

    verify = commands.add_parser("verify", help="verify codes from files, stdin or photos")
    verify.add_argument(
        "--trust-jwks",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="issuer JWKS file (pairs with --issuer)",
    )
    verify.add_argument(
        "--issuer",
        action="append",
        default=[],
        metavar="ISS",
        help="issuer id of the preceding --trust-jwks",
    )
    verify.add_argument("--at", help="verify as of this ISO 8601 time (default: now)")
    verify.add_argument("--json", action="store_true", help="one JSON object per result")
    verify.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="file with a JWS, hc:/ or shc:/ text, .smart-health-card, PNG/JPEG photo; - for stdin",
    )
    verify.set_defaults(handler=_verify)

    bench = commands.add_parser("bench", help="verification and issuance benchmark")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--tokens", type=int, default=2000, help="distinct tokens")
    bench.add_argument("--rounds", type=int, default=3, help="interleaved rounds (best of)")
    bench.add_argument("--plot", type=Path, metavar="PNG", help="also draw the rates as a chart")
    bench.set_defaults(handler=_bench)

    for entry in sorted(entry_points(group="healthcode.commands"), key=lambda e: e.name):
        entry.load()(commands)
    return parser


def _keys_generate(args: argparse.Namespace) -> int:
    key = SigningKey.generate()
    out: Path = args.out
    try:
        key.save(out / "issuer-key.pem", overwrite=args.force)
        (out / "jwks.json").write_text(json.dumps(jwks_document([key.verifying_key]), indent=2))
    except FileExistsError as exc:
        raise UsageError(
            f"{out / 'issuer-key.pem'} exists; keep it, or pass --force to replace it"
        ) from exc
    except OSError as exc:
        raise UsageError(f"cannot write keys into {out}: {exc.strerror or exc}") from exc
    print(
        json.dumps(
            {
                "kid": key.kid,
                "private_key": str(out / "issuer-key.pem"),
                "jwks": str(out / "jwks.json"),
            }
        )
    )
    return EXIT_VALID


def _subject_secret() -> bytes:
    secret = os.environ.get(SUBJECT_SECRET_ENV)
    if secret is None:
        # Demo-only default: real issuers hold a secret (issuer service settings).
        return b"healthcode-demo-subject-secret-not-for-production"
    return secret.encode()


def _issue(args: argparse.Namespace) -> int:
    try:
        key = SigningKey.load(args.key)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read private key {args.key}: {exc}") from exc
    # Everything below is checked before anything is written: bad arguments are exit 2, and
    # the messages never repeat the ID number.
    try:
        if args.id_number:
            resident = parse_id_number(args.id_number)
            subject, tail = pseudonymous_subject(resident, _subject_secret()), resident.tail
        else:
            subject, tail = pseudonymous_subject("11010519491231002X", _subject_secret()), "002X"
        credential = new_credential(
            issuer=args.issuer,
            subject=subject,
            status=StatusColour(args.status),
            reason=ReasonCode(args.reason),
            kind=CodeKind(args.kind),
            masked_name=mask_name(args.name),
            id_tail=tail,
            lifetime_s=args.lifetime,
        )
    except HealthcodeError as exc:
        raise UsageError(f"{exc.code.value}: {exc.message}") from exc
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    token = sign_credential(credential, key)
    qr_text = encode_numeric(token)
    best_mask = credential.kind is CodeKind.OFFLINE
    try:
        if args.png:
            args.png.write_bytes(render_png(qr_text, best_mask=best_mask))
        if args.svg:
            args.svg.write_text(render_svg(qr_text, best_mask=best_mask))
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename}: {exc.strerror or exc}") from exc
    if args.terminal:
        print(render_terminal(qr_text), file=sys.stderr)
    print(qr_text if args.format == "qr" else token)
    return EXIT_VALID


def _parse_at(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"--at {value!r} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _trust_from_args(args: argparse.Namespace) -> TrustStore:
    if not args.trust_jwks:
        raise UsageError("give at least one --trust-jwks FILE --issuer ISS pair")
    if len(args.trust_jwks) != len(args.issuer):
        raise UsageError("--trust-jwks and --issuer must come in pairs")
    try:
        return TrustStore.from_jwks_files(zip(args.issuer, args.trust_jwks, strict=True))
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _read_input(name: str) -> bytes:
    try:
        if name == "-":
            return sys.stdin.buffer.read(_MAX_INPUT_FILE_BYTES + 1)
        with open(name, "rb") as handle:
            return handle.read(_MAX_INPUT_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from exc


def _texts_of(data: bytes) -> list[str]:
    """The code texts one input holds: QR texts of a photo, tokens of a file, or its text."""
    if len(data) > _MAX_INPUT_FILE_BYTES:  # _read_input reads one byte past the limit
        raise VerificationError(
            ErrorCode.INPUT_TOO_LARGE,
            f"input is over {_MAX_INPUT_FILE_BYTES // (1024 * 1024)} MiB; "
            "give the code text or a smaller photo",
        )
    if data.startswith(_IMAGE_MAGIC):
        return decode_image(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VerificationError(ErrorCode.MALFORMED_INPUT, "input is not UTF-8 text") from exc
    # A file's trailing newline is framing, not part of the code (verify_credential is strict).
    text = text.strip(" \t\r\n")
    if text.startswith("{"):
        return extract_file_tokens(text)
    return [text]


def _failure(error: VerificationError, at: float | None) -> VerificationResult:
    import time

    return VerificationResult(
        valid=False,
        error=error.code,
        message=error.message,
        checked_at=int(at if at is not None else time.time()),
    )


def _verify(args: argparse.Namespace) -> int:
    trust = _trust_from_args(args)
    at = _parse_at(args.at)
    results: list[VerificationResult] = []
    chunks: list[str] = []
    for name in args.inputs:
        data = _read_input(name)
        try:
            texts = _texts_of(data)
        except VerificationError as error:
            results.append(_failure(error, at))
            continue
        for text in texts:
            # Anything shaped like a part goes to reassembly, which gives a bad part its own
            # code (chunk_out_of_range, malformed_qr, ...) instead of verifying it alone.
            if is_chunk(text):
                chunks.append(text)
            else:
                results.append(verify_credential(text, trust, at))
    if chunks:
        try:
            results.append(verify_credential(reassemble_chunks(chunks), trust, at))
        except VerificationError as error:
            results.append(_failure(error, at))
    for result in results:
        _print_result(result, as_json=args.json)
    return EXIT_VALID if results and all(r.valid for r in results) else EXIT_INVALID


def _print_result(result: VerificationResult, *, as_json: bool) -> None:
    out = result.to_json()
    if as_json:
        print(json.dumps(out, ensure_ascii=False, sort_keys=True))
        return
    if result.valid:
        what = out.get("status", "valid").upper()
        print(
            f"VALID {what}  issuer={result.issuer}  {out.get('masked_name') or ''} "
            f"{out.get('id_tail') or ''}  kind={out.get('kind', '-')}"
        )
    else:
        print(f"INVALID {out['error']}: {result.message}")


def _bench(args: argparse.Namespace) -> int:
    from healthcode.benchmark import plot, run_benchmark

    progress = None if args.json else (lambda line: print(line, file=sys.stderr))
    result = run_benchmark(tokens=args.tokens, rounds=args.rounds, progress=progress)
    print(json.dumps(result.to_json()) if args.json else result.report())
    if args.plot:
        plot(result, args.plot)
    return EXIT_VALID


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `healthcode` console script."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad arguments, 0 on --help
        return int(exc.code or 0)
    try:
        code: int = args.handler(args)
    except UsageError as exc:
        print(f"healthcode: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except HealthcodeError as exc:
        print(f"healthcode: {exc.code.value}: {exc.message}", file=sys.stderr)
        return EXIT_INVALID
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
