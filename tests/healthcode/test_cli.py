"""The `healthcode` command line as outside scripts use it: real processes, exit statuses, JSON."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import VECTORS

SHC = VECTORS / "shc"
SHC_ISSUER = "https://spec.smarthealth.cards/examples/issuer"
SHC_TRUST = ["--trust-jwks", str(SHC / "issuer" / "jwks.json"), "--issuer", SHC_ISSUER]
BEFORE_03_EXPIRY = ["--at", "2024-01-01T00:00:00Z"]


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("healthcode") or ""
    command = [executable] if executable else [sys.executable, "-m", "healthcode.cli"]
    return subprocess.run(
        [*command, *args],
        input=stdin.decode() if stdin else None,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("keys")
    result = run("keys", "generate", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_keys_generate_writes_private_key_mode_600(keydir: Path) -> None:
    mode = stat.S_IMODE((keydir / "issuer-key.pem").stat().st_mode)
    assert mode == 0o600
    jwks = json.loads((keydir / "jwks.json").read_text())
    assert "d" not in jwks["keys"][0]


@pytest.mark.parametrize("colour", ["green", "yellow", "red"])
@pytest.mark.parametrize("kind", ["phone", "offline"])
def test_issue_png_decode_verify_round_trip(
    keydir: Path, tmp_path: Path, colour: str, kind: str
) -> None:
    png = tmp_path / "code.png"
    issued = run(
        "issue",
        "--key",
        str(keydir / "issuer-key.pem"),
        "--issuer",
        "cn-sc",
        "--status",
        colour,
        "--kind",
        kind,
        "--png",
        str(png),
    )
    assert issued.returncode == 0, issued.stderr
    assert issued.stdout.startswith("hc:/")
    verified = run(
        "verify", "--trust-jwks", str(keydir / "jwks.json"), "--issuer", "cn-sc", "--json", str(png)
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    out = json.loads(verified.stdout)
    assert (out["valid"], out["error"], out["status"], out["kind"]) == (True, None, colour, kind)
    assert out["issuer"] == "cn-sc"


def test_verify_reads_stdin_and_reports_invalid_with_exit_1(keydir: Path) -> None:
    result = run(
        "verify",
        "--trust-jwks",
        str(keydir / "jwks.json"),
        "--issuer",
        "cn-sc",
        "--json",
        "-",
        stdin=b"hc:/123",
    )
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"] == "malformed_qr"


@pytest.mark.parametrize(
    "name",
    [
        "example-00-d-jws.txt",
        "example-01-d-jws.txt",
        "example-02-d-jws.txt",
        "example-03-d-jws.txt",
        "example-00-e-file.smart-health-card",
        "example-01-e-file.smart-health-card",
        "example-02-e-file.smart-health-card",
        "example-03-e-file.smart-health-card",
        "example-00-f-qr-code-numeric-value-0.txt",
        "example-01-f-qr-code-numeric-value-0.txt",
        "example-03-f-qr-code-numeric-value-0.txt",
        "derived-png/example-00-g-qr-code-0.png",
        "derived-png/example-01-g-qr-code-0.png",
        "derived-png/example-03-g-qr-code-0.png",
    ],
)
def test_conformance_vectors_verify_through_the_cli(name: str) -> None:
    result = run("verify", *SHC_TRUST, *BEFORE_03_EXPIRY, "--json", str(SHC / name))
    assert result.returncode == 0, result.stdout + result.stderr
    out = json.loads(result.stdout)
    assert out["valid"] is True
    assert out["issuer"] == SHC_ISSUER
    assert out["kid"]


def test_example_03_is_expired_after_its_exp() -> None:
    result = run(
        "verify",
        *SHC_TRUST,
        "--at",
        "2024-07-01T00:00:00Z",
        "--json",
        str(SHC / "example-03-d-jws.txt"),
    )
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"] == "expired"


def test_chunked_code_reassembles_in_any_order() -> None:
    parts = [str(SHC / f"example-02-f-qr-code-numeric-value-{i}.txt") for i in (1, 2, 0)]
    result = run("verify", *SHC_TRUST, *BEFORE_03_EXPIRY, "--json", *parts)
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["valid"] is True


def test_chunked_code_png_parts_reassemble() -> None:
    parts = [str(SHC / "derived-png" / f"example-02-g-qr-code-{i}.png") for i in (2, 0, 1)]
    result = run("verify", *SHC_TRUST, *BEFORE_03_EXPIRY, "--json", *parts)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("indexes", "error"),
    [((0, 1), "chunk_missing"), ((0, 0, 1, 2), "chunk_duplicate")],
)
def test_chunk_errors_have_their_codes(indexes: tuple[int, ...], error: str) -> None:
    parts = [str(SHC / f"example-02-f-qr-code-numeric-value-{i}.txt") for i in indexes]
    result = run("verify", *SHC_TRUST, *BEFORE_03_EXPIRY, "--json", *parts)
    assert result.returncode == 1
    assert json.loads(result.stdout.splitlines()[-1])["error"] == error


def test_chunk_out_of_range(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("shc:/4/3/5676")
    parts = [str(SHC / f"example-02-f-qr-code-numeric-value-{i}.txt") for i in (0, 1, 2)]
    result = run("verify", *SHC_TRUST, "--json", *parts, str(bad))
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"] == "chunk_out_of_range"


def test_unreadable_file_is_a_usage_error(keydir: Path, tmp_path: Path) -> None:
    result = run(
        "verify",
        "--trust-jwks",
        str(keydir / "jwks.json"),
        "--issuer",
        "cn-sc",
        str(tmp_path / "missing.txt"),
    )
    assert result.returncode == 2
    assert "cannot read" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["verify", "x.txt"],  # no trust
        ["verify", "--trust-jwks", "a.json", "x.txt"],  # unpaired
        ["verify", "--trust-jwks", "a.json", "--issuer", "cn-sc", "--at", "yesterday", "-"],
        ["issue", "--key", "k.pem", "--issuer", "cn-sc", "--status", "blue"],
        ["frobnicate"],
    ],
)
def test_bad_arguments_exit_2(args: list[str]) -> None:
    assert run(*args).returncode == 2


def test_bench_json_has_the_contract_keys(tmp_path: Path) -> None:
    chart = tmp_path / "bench.png"
    result = run("bench", "--json", "--tokens", "50", "--rounds", "1", "--plot", str(chart))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    for key in (
        "raw_verify_per_s",
        "verify_per_s",
        "jwcrypto_verify_per_s",
        "issue_qr_matrix_per_s",
        "issue_png_per_s",
    ):
        assert out[key] > 0
    assert chart.read_bytes().startswith(b"\x89PNG")


def _issue_args(keydir: Path, *extra: str) -> list[str]:
    return ["issue", "--key", str(keydir / "issuer-key.pem"), "--issuer", "cn-sc", *extra]


@pytest.mark.parametrize(
    "extra",
    [
        ["--status", "green", "--lifetime", "0"],
        ["--status", "green", "--kind", "phone", "--lifetime", "999999"],
        ["--status", "green", "--name", "   "],
        ["--status", "green", "--id-number", "51010419480301123Y"],
        ["--status", "green", "--id-number", "510104194803011230"],  # wrong check digit
    ],
)
def test_bad_issue_values_are_usage_errors_without_traceback(
    keydir: Path, extra: list[str]
) -> None:
    result = run(*_issue_args(keydir, *extra))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("healthcode: error: ")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert "51010419480301123" not in result.stderr  # the ID number is never echoed


def test_bad_issuer_id_is_a_usage_error(keydir: Path) -> None:
    result = run(
        "issue", "--key", str(keydir / "issuer-key.pem"), "--issuer", "HTTP://X", "--status", "red"
    )
    assert result.returncode == 2
    assert "invalid_claims" in result.stderr


def test_unwritable_png_is_a_usage_error(keydir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run(*_issue_args(keydir, "--status", "green", "--png", str(blocker / "code.png")))
    assert result.returncode == 2
    assert "cannot write" in result.stderr
    assert "Traceback" not in result.stderr


def test_id_number_is_pseudonymised_and_never_printed(keydir: Path) -> None:
    from healthcode.idnumber import pseudonymous_subject
    from healthcode.jws import parse_compact

    id_number = "11010519491231002X"
    result = run(
        *_issue_args(keydir, "--status", "green", "--format", "jws", "--id-number", id_number)
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    claims = parse_compact(token).claims()
    # The demo secret is used when HC_SUBJECT_SECRET is unset (documented in the README).
    demo_secret = b"healthcode-demo-subject-secret-not-for-production"
    assert claims["sub"] == pseudonymous_subject(id_number, demo_secret)
    assert claims["hc"]["tl"] == "002X"
    everything = token + json.dumps(claims) + result.stdout + result.stderr
    assert id_number not in everything
    assert id_number[:14] not in everything


def test_keys_generate_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    assert run("keys", "generate", "--out", str(tmp_path)).returncode == 0
    first = (tmp_path / "issuer-key.pem").read_bytes()
    again = run("keys", "generate", "--out", str(tmp_path))
    assert again.returncode == 2
    assert "--force" in again.stderr
    assert (tmp_path / "issuer-key.pem").read_bytes() == first
    forced = run("keys", "generate", "--out", str(tmp_path), "--force")
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "issuer-key.pem").read_bytes() != first
    assert stat.S_IMODE((tmp_path / "issuer-key.pem").stat().st_mode) == 0o600


def test_keys_generate_into_a_file_path_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("keys", "generate", "--out", str(blocker / "keys"))
    assert result.returncode == 2
    assert "cannot write keys" in result.stderr


@pytest.mark.parametrize(
    "document", ["[]", '{"keys": [1]}', '{"keys": []}', "not json", '{"keys": [{"kty": "RSA"}]}']
)
def test_bad_jwks_file_is_a_usage_error(tmp_path: Path, document: str) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(document)
    code = tmp_path / "code.txt"
    code.write_text("hc:/56")
    result = run("verify", "--trust-jwks", str(jwks), "--issuer", "cn-sc", str(code))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "JWKS" in result.stderr


def test_jpeg_photo_verifies(keydir: Path, tmp_path: Path) -> None:
    from io import BytesIO

    from PIL import Image

    png = tmp_path / "code.png"
    assert run(*_issue_args(keydir, "--status", "yellow", "--png", str(png))).returncode == 0
    photo = Image.open(png).convert("RGB")
    buffer = BytesIO()
    photo.resize((photo.width * 2, photo.height * 2)).save(buffer, "JPEG", quality=60)
    jpeg = tmp_path / "code.jpg"
    jpeg.write_bytes(buffer.getvalue())
    result = run(
        "verify",
        "--trust-jwks",
        str(keydir / "jwks.json"),
        "--issuer",
        "cn-sc",
        "--json",
        str(jpeg),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["status"] == "yellow"


@pytest.mark.parametrize(
    ("bad_part", "error"),
    [
        ("shc:/12345/3/5676", "chunk_out_of_range"),  # part number past 4 digits
        ("shc:/1/3/56ab", "malformed_qr"),  # a non-digit in the digits
        ("shc:/0/3/5676", "chunk_out_of_range"),
    ],
)
def test_malformed_part_next_to_good_parts_gets_its_code(
    tmp_path: Path, bad_part: str, error: str
) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text(bad_part)
    parts = [str(SHC / f"example-02-f-qr-code-numeric-value-{i}.txt") for i in (0, 1, 2)]
    result = run("verify", *SHC_TRUST, *BEFORE_03_EXPIRY, "--json", str(bad), *parts)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 1, lines  # one result for the one multi-part code, not a part alone
    assert json.loads(lines[0])["error"] == error


def test_input_over_the_file_limit_is_too_large(keydir: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    with big.open("wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n")
        handle.truncate(50 * 1024 * 1024 + 10)
    result = run(
        "verify", "--trust-jwks", str(keydir / "jwks.json"), "--issuer", "cn-sc", "--json", str(big)
    )
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"] == "input_too_large"
