"""Printing against the real issuer service: print green, turn the citizen red, scan again.

Both services run on uvicorn on free ports; Redis is a real redis-server; keys are the
issuer's own. Nothing here is stubbed.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
import redis
from PIL import Image
from sqlmodel import select

from healthcode import ErrorCode, StatusColour, TrustStore, decode_image, verify_credential
from healthcode.verify import VerificationResult
from issuers.auth import Role
from issuers.models import AuditEntry, IssuedCode
from issuers.revocation import RedisRevocationChecker
from offline.app import create_app
from offline.settings import OfflineSettings
from tests.issuers.conftest import (
    IssuerService,
    citizen_number,
    make_settings,
    running_issuer,
)
from tests.issuers.helpers import lab_csv, recent
from tests.servers import serve

CHILD_BORN = date(2016, 6, 1)  # a minor: a guardian binds them without consent

if shutil.which("pdftoppm") is None:  # pragma: no cover - scripts/test installs it
    raise RuntimeError("pdftoppm (poppler-utils) is missing: run the suite through scripts/test")


@pytest.fixture
def issuer(tmp_path: Path, redis_url: str) -> Iterator[IssuerService]:
    with running_issuer(make_settings(tmp_path, redis_url)) as service:
        yield service


@pytest.fixture
def printer(issuer: IssuerService, tmp_path: Path) -> Iterator[httpx.Client]:
    # No HC_OFFLINE_ISSUER_NAMES: the issuer's answer names it.
    settings = OfflineSettings(
        issuer_url=issuer.url, audit_database_url=f"sqlite:///{tmp_path / 'offline-audit.db'}"
    )
    with (
        serve(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        yield client


def _scan(
    png: bytes, trust: TrustStore, checker: RedisRevocationChecker
) -> list[VerificationResult]:
    with Image.open(io.BytesIO(png)) as image:
        return [
            verify_credential(text, trust, revocations=checker)
            for text in decode_image(image.copy())
        ]


def test_printed_green_code_is_revoked_when_the_citizen_turns_red(
    issuer: IssuerService, printer: httpx.Client, redis_url: str, tmp_path: Path
) -> None:
    id_number = citizen_number(31)
    issuer.register(id_number, "张三丰", phone="13800000031")
    checker = RedisRevocationChecker(redis.Redis.from_url(redis_url))

    printed = printer.post(
        "/v1/print/me",
        params={"format": "png", "layout": "card"},
        headers=issuer.citizen_headers(id_number),
    )
    assert printed.status_code == 200, printed.text
    (before,) = _scan(printed.content, issuer.trust(), checker)
    assert before.valid, before.message
    assert before.credential is not None
    assert before.credential.status is StatusColour.GREEN
    assert before.credential.kind.value == "offline"

    official = issuer.staff_headers(Role.HEALTH_OFFICIAL)
    answer = issuer.http.post(
        "/v1/feeds/lab_results",
        content=lab_csv((id_number, "positive", "pcr", recent())),
        headers={**official, "Content-Type": "text/csv"},
    )
    assert answer.status_code == 200, answer.text

    (after,) = _scan(printed.content, issuer.trust(), checker)
    assert not after.valid
    assert after.error is ErrorCode.REVOKED

    with sqlite3.connect(tmp_path / "offline-audit.db") as db:
        rows = db.execute("SELECT actor_role, action, subject FROM offline_print_audit").fetchall()
    assert rows == [("citizen", "print_me", issuer.subject(id_number))]


def test_print_audit_joins_the_issuers_audit_by_actor_and_jti(
    issuer: IssuerService, printer: httpx.Client, tmp_path: Path
) -> None:
    guardian, child = citizen_number(51), citizen_number(52, born=CHILD_BORN)
    issuer.register(guardian, "李建国", phone="13800000051")
    issuer.register(child, "李小明")
    headers = issuer.citizen_headers(guardian)
    bound = issuer.http.post(
        "/v1/family", json={"id_number": child, "name": "李小明"}, headers=headers
    )
    assert bound.status_code == 201, bound.text

    printed = printer.post("/v1/print/family", headers=headers)

    assert printed.status_code == 200, printed.text
    with sqlite3.connect(tmp_path / "offline-audit.db") as db:
        ((actor, subject, jti),) = db.execute(
            "SELECT actor, subject, jti FROM offline_print_audit"
        ).fetchall()
    # The guardian printed the child's code: the actor is the guardian, as the issuer says.
    assert actor == f"citizen:{issuer.subject(guardian)}"
    assert subject == issuer.subject(child)
    with issuer.context.session() as session:
        code = session.get(IssuedCode, jti)
        assert code is not None
        assert (code.subject, code.kind) == (subject, "offline")
        entries = session.exec(
            select(AuditEntry).where(
                AuditEntry.actor == actor,
                AuditEntry.subject == subject,
                AuditEntry.action == "read_code:offline",
            )
        ).all()
    assert [entry.at for entry in entries] == [code.issued_at]


def test_the_sheet_names_the_issuer_from_its_own_answer(
    issuer: IssuerService, printer: httpx.Client, tmp_path: Path
) -> None:
    id_number = citizen_number(61)
    issuer.register(id_number, "周六")

    printed = printer.post("/v1/print/me", headers=issuer.citizen_headers(id_number))

    assert printed.status_code == 200, printed.text
    (tmp_path / "me.pdf").write_bytes(printed.content)
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "me.pdf"), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert f"{issuer.settings.issuer_name} (cn-sc)" in text


def test_guardian_prints_a_family_sheet_and_counter_staff_a_walk_in(
    issuer: IssuerService, printer: httpx.Client, redis_url: str
) -> None:
    guardian, child = citizen_number(41), citizen_number(42, born=CHILD_BORN)
    grandma = citizen_number(43, born=date(1950, 2, 3))
    issuer.register(guardian, "李建国", phone="13800000041")
    issuer.register(child, "李小明")
    issuer.register(grandma, "王秀芳")  # no account of her own
    headers = issuer.citizen_headers(guardian)
    # A minor is bound by the guardian; an adult without an account only at a counter.
    bound = issuer.http.post(
        "/v1/family", json={"id_number": child, "name": "李小明"}, headers=headers
    )
    assert bound.status_code == 201, bound.text
    bound = issuer.http.post(
        "/v1/counter/family",
        json={
            "guardian": {"id_number": guardian, "name": "李建国"},
            "dependant": {"id_number": grandma, "name": "王秀芳"},
            "note": "both ID cards checked",
        },
        headers=issuer.staff_headers(Role.COUNTER_STAFF),
    )
    assert bound.status_code == 201, bound.text
    checker = RedisRevocationChecker(redis.Redis.from_url(redis_url))

    sheet = printer.post("/v1/print/family", params={"format": "png"}, headers=headers)

    assert sheet.status_code == 200, sheet.text
    results = _scan(sheet.content, issuer.trust(), checker)
    assert [r.valid for r in results] == [True, True]
    assert {r.credential.subject for r in results if r.credential} == {
        issuer.subject(child),
        issuer.subject(grandma),
    }

    counter = printer.post(
        "/v1/print/counter",
        params={"format": "png"},
        json={"id_number": grandma, "name": "王秀芳"},
        headers=issuer.staff_headers(Role.COUNTER_STAFF),
    )
    assert counter.status_code == 200, counter.text
    (walk_in,) = _scan(counter.content, issuer.trust(), checker)
    assert walk_in.valid
    assert walk_in.credential is not None
    assert walk_in.credential.subject == issuer.subject(grandma)
