"""`healthcode offline print|sample` through the real `healthcode` entry point."""

from __future__ import annotations

import getpass
import json
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from healthcode import StatusColour, TrustStore, decode_image, encode_numeric, verify_credential
from healthcode.cli import main
from offline.audit import actor_ref
from tests.conftest import NOW
from tests.offline.standin import (
    CITIZEN_ACTOR,
    CITIZEN_TOKEN,
    ISSUER_NAME,
    STAFF_ACTOR,
    STAFF_TOKEN,
    WALK_IN_ID,
    StandInIssuer,
)
from tests.servers import AppServer, free_port

if shutil.which("pdftoppm") is None:  # pragma: no cover - scripts/test installs it
    raise RuntimeError("pdftoppm (poppler-utils) is missing: run the suite through scripts/test")


@pytest.fixture
def audit_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The print audit log the CLI writes to (HC_OFFLINE_AUDIT_DATABASE_URL)."""
    path = tmp_path / "offline-audit.db"
    monkeypatch.setenv("HC_OFFLINE_AUDIT_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.delenv("HC_OFFLINE_ISSUER_NAMES", raising=False)
    return path


def _audit_rows(audit_db: Path) -> list[dict[str, Any]]:
    if not audit_db.exists():
        return []
    with sqlite3.connect(audit_db) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM offline_print_audit ORDER BY id")]


def _print_from_issuer(url: str, token_file: Path, *extra: str) -> int:
    """`healthcode offline print --from-issuer` against `url` with a bearer token file."""
    return main(
        [
            "offline",
            "print",
            "--from-issuer",
            "--issuer-url",
            url,
            "--bearer-token-file",
            str(token_file),
            *extra,
        ]
    )


def _token_file(tmp_path: Path, token: str) -> Path:
    path = tmp_path / "session.token"
    path.write_text(token + "\n")
    return path


def test_print_from_a_token_file_writes_a_verifiable_png_and_audits_it(
    offline_token: Callable[..., str],
    trust: TrustStore,
    tmp_path: Path,
    audit_db: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token_file = tmp_path / "code.jws"
    token_file.write_text(offline_token(status=StatusColour.YELLOW) + "\n")
    out = tmp_path / "card.png"

    status = main(
        [
            "offline",
            "print",
            "--token",
            str(token_file),
            "--issuer-name",
            "四川省卫生健康委员会",
            "--out",
            str(out),
            "--layout",
            "card",
        ]
    )

    assert status == 0
    assert "yellow" in capsys.readouterr().out
    (text,) = decode_image(out.read_bytes())
    result = verify_credential(text, trust, NOW + 60)
    assert result.valid
    assert result.credential is not None
    assert result.credential.status is StatusColour.YELLOW
    (row,) = _audit_rows(audit_db)
    assert row["actor"] == f"local:{getpass.getuser()}"
    assert (row["actor_role"], row["action"], row["channel"]) == (
        "local_operator",
        "print_local",
        "cli",
    )
    assert row["jti"] == result.credential.jti
    assert row["subject"] == result.credential.subject
    assert (row["layout"], row["format"]) == ("card", "png")


def test_print_from_qr_text_writes_a_pdf(
    offline_token: Callable[..., str], tmp_path: Path, audit_db: Path
) -> None:
    out = tmp_path / "sheet.pdf"

    status = main(
        [
            "offline",
            "print",
            "--qr-text",
            encode_numeric(offline_token()),
            "--issuer-name",
            "四川省",
            "--out",
            str(out),
        ]
    )

    assert status == 0
    assert out.read_bytes().startswith(b"%PDF")
    assert len(_audit_rows(audit_db)) == 1


def test_print_without_an_issuer_name_is_a_usage_error(
    offline_token: Callable[..., str],
    tmp_path: Path,
    audit_db: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "sheet.pdf"

    status = main(["offline", "print", "--qr-text", offline_token(), "--out", str(out)])

    assert status == 2
    assert "--issuer-name" in capsys.readouterr().err
    assert not out.exists()
    assert _audit_rows(audit_db) == []


def test_the_issuer_name_can_come_from_the_environment(
    offline_token: Callable[..., str],
    tmp_path: Path,
    audit_db: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HC_OFFLINE_ISSUER_NAMES", json.dumps({"cn-sc": "四川省卫生健康委员会"}))
    out = tmp_path / "sheet.pdf"

    status = main(["offline", "print", "--qr-text", offline_token(), "--out", str(out)])

    assert status == 0
    text = subprocess.run(
        ["pdftotext", str(out), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "四川省卫生健康委员会 (cn-sc)" in text


def test_print_refuses_a_phone_code(
    make_token: Callable[..., str],
    tmp_path: Path,
    audit_db: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "sheet.pdf"

    status = main(
        ["offline", "print", "--qr-text", make_token(), "--issuer-name", "四川", "--out", str(out)]
    )

    assert status == 1
    assert "invalid_request" in capsys.readouterr().err
    assert not out.exists()
    assert _audit_rows(audit_db) == []


def test_print_needs_a_pdf_or_png_name(
    offline_token: Callable[..., str], tmp_path: Path, audit_db: Path
) -> None:
    status = main(
        ["offline", "print", "--qr-text", offline_token(), "--out", str(tmp_path / "x.jpg")]
    )

    assert status == 2


def test_print_with_an_unreadable_token_file_is_a_usage_error(
    tmp_path: Path, audit_db: Path
) -> None:
    status = main(
        ["offline", "print", "--token", str(tmp_path / "missing"), "--out", str(tmp_path / "x.pdf")]
    )

    assert status == 2


def test_a_print_that_cannot_be_audited_is_not_written(
    offline_token: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sheet.pdf"
    unwritable = tmp_path / "no-such-dir" / "audit.db"

    status = main(
        [
            "offline",
            "print",
            "--qr-text",
            offline_token(),
            "--issuer-name",
            "四川省",
            "--audit-db",
            f"sqlite:///{unwritable}",
            "--out",
            str(out),
        ]
    )

    assert status == 1
    assert "audit log cannot be written" in capsys.readouterr().err
    assert not out.exists()


def test_print_from_the_issuer_with_a_bearer_token_file(
    issuer: tuple[StandInIssuer, AppServer],
    trust: TrustStore,
    tmp_path: Path,
    audit_db: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "me.png"

    status = _print_from_issuer(
        issuer[1].url, _token_file(tmp_path, CITIZEN_TOKEN), "--out", str(out)
    )

    assert status == 0, capsys.readouterr().err
    assert issuer[0].calls == [("me", f"Bearer {CITIZEN_TOKEN}")]
    (text,) = decode_image(out.read_bytes())
    result = verify_credential(text, trust, NOW + 60)
    assert result.valid
    assert result.credential is not None
    (row,) = _audit_rows(audit_db)
    assert row["actor"] == CITIZEN_ACTOR
    assert row["actor_ref"] == actor_ref(CITIZEN_TOKEN)
    assert (row["action"], row["channel"]) == ("print_me", "cli")
    assert row["jti"] == result.credential.jti
    assert CITIZEN_TOKEN not in capsys.readouterr().out


def test_print_a_family_sheet_from_the_issuer(
    issuer: tuple[StandInIssuer, AppServer],
    tmp_path: Path,
    audit_db: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "family.pdf"

    status = _print_from_issuer(
        issuer[1].url, _token_file(tmp_path, CITIZEN_TOKEN), "--family", "--out", str(out)
    )

    assert status == 0, capsys.readouterr().err
    assert "family sheet, 2 codes" in capsys.readouterr().out
    rows = _audit_rows(audit_db)
    assert [row["action"] for row in rows] == ["print_family", "print_family"]
    assert {row["actor"] for row in rows} == {CITIZEN_ACTOR}
    text = subprocess.run(
        ["pdftotext", str(out), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert ISSUER_NAME in text  # the family cell's column wraps the id onto the next line
    assert "(cn-sc)" in text


def test_counter_staff_print_a_walk_in_from_a_file(
    issuer: tuple[StandInIssuer, AppServer], tmp_path: Path, audit_db: Path
) -> None:
    walk_in = tmp_path / "walk-in.json"
    walk_in.write_text(json.dumps({"id_number": WALK_IN_ID, "name": "赵老伯"}))

    status = _print_from_issuer(
        issuer[1].url,
        _token_file(tmp_path, STAFF_TOKEN),
        "--walk-in",
        str(walk_in),
        "--layout",
        "card",
        "--out",
        str(tmp_path / "walk-in.pdf"),
    )

    assert status == 0
    assert issuer[0].bodies == [{"id_number": WALK_IN_ID, "name": "赵老伯"}]
    (row,) = _audit_rows(audit_db)
    assert (row["actor"], row["actor_role"], row["action"]) == (
        STAFF_ACTOR,
        "counter_staff",
        "print_counter",
    )
    assert WALK_IN_ID.encode() not in audit_db.read_bytes()


def test_a_refusal_by_the_issuer_prints_nothing(
    issuer: tuple[StandInIssuer, AppServer],
    tmp_path: Path,
    audit_db: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "me.pdf"

    status = _print_from_issuer(
        issuer[1].url, _token_file(tmp_path, "stolen-or-expired"), "--out", str(out)
    )

    assert status == 1
    assert "unauthenticated" in capsys.readouterr().err
    assert not out.exists()
    assert _audit_rows(audit_db) == []


def test_an_unreachable_issuer_is_upstream_unavailable(
    tmp_path: Path, audit_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = _print_from_issuer(
        f"http://127.0.0.1:{free_port()}",
        _token_file(tmp_path, CITIZEN_TOKEN),
        "--out",
        str(tmp_path / "me.pdf"),
    )

    assert status == 1
    assert "upstream_unavailable" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ([], 2),  # --from-issuer without --bearer-token-file
        (["--family", "--layout", "card"], 1),  # invalid_request: the family sheet is A4
    ],
)
def test_bad_issuer_print_arguments_are_refused_before_calling_the_issuer(
    issuer: tuple[StandInIssuer, AppServer],
    tmp_path: Path,
    audit_db: Path,
    extra: list[str],
    expected: int,
) -> None:
    args = ["offline", "print", "--from-issuer", "--issuer-url", issuer[1].url]
    if extra:
        args += ["--bearer-token-file", str(_token_file(tmp_path, CITIZEN_TOKEN)), *extra]

    status = main([*args, "--out", str(tmp_path / "x.pdf")])

    assert status == expected
    assert issuer[0].calls == []
    assert _audit_rows(audit_db) == []


def test_dependent_without_from_issuer_is_a_usage_error(
    offline_token: Callable[..., str], tmp_path: Path, audit_db: Path
) -> None:
    status = main(
        [
            "offline",
            "print",
            "--qr-text",
            offline_token(),
            "--dependent",
            "dep-grandma",
            "--out",
            str(tmp_path / "x.pdf"),
        ]
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
    assert {"offline-family.pdf", "offline-family.png", "offline-a4-red-black-white.png"} <= names
