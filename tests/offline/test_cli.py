"""`healthcode offline print|sample` through the real `healthcode` entry point."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from healthcode import StatusColour, TrustStore, decode_image, encode_numeric, verify_credential
from healthcode.cli import main
from tests.conftest import NOW

if shutil.which("pdftoppm") is None:  # pragma: no cover - scripts/test installs it
    raise RuntimeError("pdftoppm (poppler-utils) is missing: run the suite through scripts/test")


def test_print_from_a_token_file_writes_a_verifiable_png(
    offline_token: Callable[..., str],
    trust: TrustStore,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token_file = tmp_path / "code.jws"
    token_file.write_text(offline_token(status=StatusColour.YELLOW) + "\n")
    out = tmp_path / "card.png"

    status = main(
        ["offline", "print", "--token", str(token_file), "--out", str(out), "--layout", "card"]
    )

    assert status == 0
    assert "yellow" in capsys.readouterr().out
    (text,) = decode_image(out.read_bytes())
    result = verify_credential(text, trust, NOW + 60)
    assert result.valid
    assert result.credential.status is StatusColour.YELLOW


def test_print_from_qr_text_writes_a_pdf(offline_token: Callable[..., str], tmp_path: Path) -> None:
    out = tmp_path / "sheet.pdf"

    status = main(
        ["offline", "print", "--qr-text", encode_numeric(offline_token()), "--out", str(out)]
    )

    assert status == 0
    assert out.read_bytes().startswith(b"%PDF")


def test_print_refuses_a_phone_code(
    make_token: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sheet.pdf"

    status = main(["offline", "print", "--qr-text", make_token(), "--out", str(out)])

    assert status == 1
    assert "invalid_request" in capsys.readouterr().err
    assert not out.exists()


def test_print_needs_a_pdf_or_png_name(offline_token: Callable[..., str], tmp_path: Path) -> None:
    status = main(
        ["offline", "print", "--qr-text", offline_token(), "--out", str(tmp_path / "x.jpg")]
    )

    assert status == 2


def test_print_with_an_unreadable_token_file_is_a_usage_error(tmp_path: Path) -> None:
    status = main(
        ["offline", "print", "--token", str(tmp_path / "missing"), "--out", str(tmp_path / "x.pdf")]
    )

    assert status == 2


def test_sample_writes_every_layout(tmp_path: Path) -> None:
    status = main(["offline", "sample", "--out-dir", str(tmp_path), "--dpi", "50"])

    assert status == 0
    names = {path.name for path in tmp_path.iterdir()}
    for layout in ("a4", "card"):
        for colour in ("green", "yellow", "red"):
            assert f"offline-{layout}-{colour}.pdf" in names
            assert f"offline-{layout}-{colour}.png" in names
    assert {"offline-family.pdf", "offline-family.png"} <= names
