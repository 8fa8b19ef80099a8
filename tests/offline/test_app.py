"""The print service against an issuer speaking the Issuer HTTP API, both on real servers.

The issuer is the stand-in of tests/offline/standin.py: the contract's offline-code endpoints
(bearer tokens, roles, error bodies) signing real 7-day credentials with the session's key.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from healthcode import StatusColour, TrustStore, decode_image, verify_credential
from healthcode.idnumber import pseudonymous_subject
from offline.app import create_app
from offline.audit import actor_ref
from offline.printing import MAX_FAMILY_MEMBERS
from offline.settings import OfflineSettings
from tests.conftest import NOW, TEST_SUBJECT_SECRET
from tests.offline.standin import (
    CITIZEN_ACTOR,
    CITIZEN_ID,
    CITIZEN_TOKEN,
    ISSUER_NAME,
    STAFF_ACTOR,
    STAFF_TOKEN,
    WALK_IN_ID,
    StandInIssuer,
    many_dependents,
)
from tests.servers import AppServer, free_port, serve

if shutil.which("pdftoppm") is None:  # pragma: no cover - scripts/test installs it
    raise RuntimeError("pdftoppm (poppler-utils) is missing: run the suite through scripts/test")


@pytest.fixture
def audit_db(tmp_path: Path) -> Path:
    return tmp_path / "offline-audit.db"


@pytest.fixture
def printer(issuer: tuple[StandInIssuer, AppServer], audit_db: Path) -> Iterator[httpx.Client]:
    settings = OfflineSettings(issuer_url=issuer[1].url, audit_database_url=f"sqlite:///{audit_db}")
    with (
        serve(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        yield client


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _audit_rows(audit_db: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(audit_db) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM offline_print_audit ORDER BY id")]


def _verified(png: bytes, trust: TrustStore) -> list[Any]:
    with Image.open(io.BytesIO(png)) as image:
        return [verify_credential(text, trust, NOW + 60) for text in decode_image(image.copy())]


def test_print_me_returns_a_pdf_and_audits_the_pseudonymous_subject(
    printer: httpx.Client, audit_db: Path
) -> None:
    response = printer.post("/v1/print/me", headers=_auth(CITIZEN_TOKEN))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    assert response.content.startswith(b"%PDF")
    (row,) = _audit_rows(audit_db)
    assert row["actor_role"] == "citizen"
    assert row["action"] == "print_me"
    assert row["subject"] == pseudonymous_subject(CITIZEN_ID, TEST_SUBJECT_SECRET)
    assert (row["layout"], row["format"]) == ("a4", "pdf")
    assert CITIZEN_TOKEN not in str(row)
    assert CITIZEN_ID.encode() not in audit_db.read_bytes()


def test_print_me_as_png_card_verifies(printer: httpx.Client, trust: TrustStore) -> None:
    response = printer.post(
        "/v1/print/me", params={"format": "png", "layout": "card"}, headers=_auth(CITIZEN_TOKEN)
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    (result,) = _verified(response.content, trust)
    assert result.valid
    assert result.credential.status is StatusColour.GREEN
    assert result.credential.masked_name == "张*丰"


def test_print_one_dependent(printer: httpx.Client, trust: TrustStore, audit_db: Path) -> None:
    response = printer.post(
        "/v1/print/family/dep-grandma", params={"format": "png"}, headers=_auth(CITIZEN_TOKEN)
    )

    assert response.status_code == 200, response.text
    (result,) = _verified(response.content, trust)
    assert result.credential.status is StatusColour.YELLOW
    (row,) = _audit_rows(audit_db)
    assert row["action"] == "print_family_member"
    assert row["subject"] == result.credential.subject


def test_family_sheet_prints_every_dependent(
    printer: httpx.Client, trust: TrustStore, audit_db: Path
) -> None:
    response = printer.post(
        "/v1/print/family", params={"format": "png"}, headers=_auth(CITIZEN_TOKEN)
    )

    assert response.status_code == 200, response.text
    results = _verified(response.content, trust)
    assert [r.valid for r in results] == [True, True]
    rows = _audit_rows(audit_db)
    assert {row["subject"] for row in rows} == {r.credential.subject for r in results}
    assert {row["action"] for row in rows} == {"print_family"}


def test_family_sheet_as_card_is_refused_without_asking_the_issuer(
    printer: httpx.Client, issuer: tuple[StandInIssuer, AppServer], audit_db: Path
) -> None:
    response = printer.post(
        "/v1/print/family", params={"layout": "card"}, headers=_auth(CITIZEN_TOKEN)
    )

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert issuer[0].calls == []
    assert _audit_rows(audit_db) == []


def test_counter_prints_a_walk_in_citizen(
    printer: httpx.Client,
    issuer: tuple[StandInIssuer, AppServer],
    trust: TrustStore,
    audit_db: Path,
) -> None:
    response = printer.post(
        "/v1/print/counter",
        params={"format": "png"},
        json={"id_number": WALK_IN_ID, "name": "赵老伯"},
        headers=_auth(STAFF_TOKEN),
    )

    assert response.status_code == 200, response.text
    (result,) = _verified(response.content, trust)
    assert result.credential.status is StatusColour.RED
    assert issuer[0].bodies == [{"id_number": WALK_IN_ID, "name": "赵老伯"}]
    (row,) = _audit_rows(audit_db)
    assert (row["actor_role"], row["action"]) == ("counter_staff", "print_counter")
    assert WALK_IN_ID.encode() not in audit_db.read_bytes()


def test_counter_refuses_a_bad_id_number_before_calling_the_issuer(
    printer: httpx.Client, issuer: tuple[StandInIssuer, AppServer], audit_db: Path
) -> None:
    bad = WALK_IN_ID[:-1] + ("0" if WALK_IN_ID[-1] != "0" else "1")
    response = printer.post(
        "/v1/print/counter", json={"id_number": bad, "name": "赵老伯"}, headers=_auth(STAFF_TOKEN)
    )

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_id_number"
    assert bad not in response.text
    assert issuer[0].calls == []
    assert _audit_rows(audit_db) == []


def test_a_citizen_cannot_print_at_the_counter(printer: httpx.Client, audit_db: Path) -> None:
    response = printer.post(
        "/v1/print/counter",
        json={"id_number": WALK_IN_ID, "name": "赵老伯"},
        headers=_auth(CITIZEN_TOKEN),
    )

    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert _audit_rows(audit_db) == []


def test_no_bearer_token_is_401_and_the_issuer_is_not_called(
    printer: httpx.Client, issuer: tuple[StandInIssuer, AppServer]
) -> None:
    response = printer.post("/v1/print/me")

    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"
    assert issuer[0].calls == []


def test_the_issuer_refusing_the_token_is_relayed(printer: httpx.Client) -> None:
    response = printer.post("/v1/print/me", headers=_auth("stolen-or-expired"))

    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


def test_the_bearer_token_is_forwarded_unchanged(
    printer: httpx.Client, issuer: tuple[StandInIssuer, AppServer]
) -> None:
    printer.post("/v1/print/family/dep-grandchild", headers=_auth(CITIZEN_TOKEN))

    assert issuer[0].calls == [("family/dep-grandchild", f"Bearer {CITIZEN_TOKEN}")]


@pytest.mark.parametrize("ref", ["..%2Fme", "a%3Fb", "x" * 65])
def test_a_dependent_ref_that_could_change_the_issuer_path_is_refused(
    printer: httpx.Client, issuer: tuple[StandInIssuer, AppServer], ref: str
) -> None:
    response = printer.post(f"/v1/print/family/{ref}", headers=_auth(CITIZEN_TOKEN))

    assert response.status_code in (404, 422)
    assert issuer[0].calls == []


def test_unknown_dependent_is_404(printer: httpx.Client, audit_db: Path) -> None:
    response = printer.post("/v1/print/family/dep-nobody", headers=_auth(CITIZEN_TOKEN))

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert _audit_rows(audit_db) == []


@pytest.mark.parametrize("params", [{"format": "gif"}, {"layout": "a3"}])
def test_bad_query_parameters_are_invalid_request(
    printer: httpx.Client, params: dict[str, str]
) -> None:
    response = printer.post("/v1/print/me", params=params, headers=_auth(CITIZEN_TOKEN))

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


def test_a_phone_code_from_the_issuer_is_not_printed(
    printer: httpx.Client, issuer: tuple[StandInIssuer, AppServer], audit_db: Path
) -> None:
    issuer[0].issue_phone_codes = True

    response = printer.post("/v1/print/me", headers=_auth(CITIZEN_TOKEN))

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert _audit_rows(audit_db) == []


def test_issuer_down_is_503_upstream_unavailable(tmp_path: Path) -> None:
    settings = OfflineSettings(
        issuer_url=f"http://127.0.0.1:{free_port()}",
        audit_database_url=f"sqlite:///{tmp_path / 'audit.db'}",
        issuer_timeout_s=2,
    )
    with serve(create_app(settings)) as server:
        response = httpx.post(f"{server.url}/v1/print/me", headers=_auth(CITIZEN_TOKEN))

    assert response.status_code == 503
    assert response.json()["error"] == "upstream_unavailable"


def test_settings_come_from_the_hc_offline_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HC_OFFLINE_ISSUER_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("HC_OFFLINE_ISSUER_NAMES", '{"cn-sc": "四川"}')

    settings = OfflineSettings()

    assert settings.issuer_url == "http://127.0.0.1:9999"
    assert settings.issuer_names == {"cn-sc": "四川"}


def _pdftotext(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "printed.pdf"
    source.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", str(source), "-"], check=True, capture_output=True, text=True
    ).stdout


def _pages(pdf: bytes, tmp_path: Path) -> int:
    source = tmp_path / "pages.pdf"
    source.write_bytes(pdf)
    info = subprocess.run(
        ["pdfinfo", str(source)], check=True, capture_output=True, text=True
    ).stdout
    return int(next(line for line in info.splitlines() if line.startswith("Pages:")).split()[1])


def test_the_audit_names_the_actor_as_the_issuer_does_and_the_jti(
    printer: httpx.Client, audit_db: Path
) -> None:
    me = printer.post("/v1/print/me", headers=_auth(CITIZEN_TOKEN))
    counter = printer.post(
        "/v1/print/counter",
        json={"id_number": WALK_IN_ID, "name": "赵老伯"},
        headers=_auth(STAFF_TOKEN),
    )

    assert me.status_code == counter.status_code == 200
    citizen_row, staff_row = _audit_rows(audit_db)
    assert citizen_row["actor"] == CITIZEN_ACTOR
    assert staff_row["actor"] == STAFF_ACTOR
    assert citizen_row["actor_ref"] == actor_ref(CITIZEN_TOKEN)
    assert {citizen_row["channel"], staff_row["channel"]} == {"service"}
    assert len(citizen_row["jti"]) >= 16
    assert citizen_row["jti"] != staff_row["jti"]


def test_the_issuer_name_comes_from_the_issuers_answer(
    printer: httpx.Client, tmp_path: Path
) -> None:
    response = printer.post("/v1/print/me", headers=_auth(CITIZEN_TOKEN))

    assert response.status_code == 200, response.text
    assert f"{ISSUER_NAME} (cn-sc)" in _pdftotext(response.content, tmp_path)


def test_the_configured_issuer_name_wins_over_the_answer(
    issuer: tuple[StandInIssuer, AppServer], tmp_path: Path
) -> None:
    settings = OfflineSettings(
        issuer_url=issuer[1].url,
        audit_database_url=f"sqlite:///{tmp_path / 'audit.db'}",
        issuer_names={"cn-sc": "四川省卫生健康委员会 Sichuan Health Commission"},
    )
    with serve(create_app(settings)) as server:
        response = httpx.post(f"{server.url}/v1/print/me", headers=_auth(CITIZEN_TOKEN), timeout=60)

    assert response.status_code == 200, response.text
    assert "Sichuan Health Commission" in _pdftotext(response.content, tmp_path)


@pytest.mark.parametrize(
    ("omitted", "said"),
    [({"issuer_name"}, "does not name issuer cn-sc"), ({"actor"}, "does not say who asked")],
)
def test_an_answer_without_issuer_name_or_actor_is_not_printed(
    printer: httpx.Client,
    issuer: tuple[StandInIssuer, AppServer],
    audit_db: Path,
    omitted: set[str],
    said: str,
) -> None:
    issuer[0].omit = omitted

    response = printer.post("/v1/print/me", headers=_auth(CITIZEN_TOKEN))

    assert response.status_code == 503
    assert response.json()["error"] == "upstream_unavailable"
    assert said in response.json()["message"]
    assert _audit_rows(audit_db) == []


def test_a_blank_configured_issuer_name_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="issuer_names"):
        OfflineSettings(issuer_names={"cn-sc": "   "})


def test_a_family_past_twenty_members_is_printed_whole_on_more_pages(
    printer: httpx.Client,
    issuer: tuple[StandInIssuer, AppServer],
    audit_db: Path,
    tmp_path: Path,
) -> None:
    issuer[0].dependents = many_dependents(21)

    response = printer.post("/v1/print/family", headers=_auth(CITIZEN_TOKEN))

    assert response.status_code == 200, response.text
    assert _pages(response.content, tmp_path) == 4  # 6 + 6 + 6 + 3
    rows = _audit_rows(audit_db)
    assert len(rows) == 21
    assert len({row["jti"] for row in rows}) == 21


def test_a_family_past_the_bound_is_refused_before_any_code_is_issued(
    printer: httpx.Client, issuer: tuple[StandInIssuer, AppServer], audit_db: Path
) -> None:
    issuer[0].dependents = many_dependents(MAX_FAMILY_MEMBERS + 1)

    response = printer.post("/v1/print/family", headers=_auth(CITIZEN_TOKEN))

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert f"{MAX_FAMILY_MEMBERS + 1} family members" in response.json()["message"]
    assert [path for path, _ in issuer[0].calls] == ["family"]
    assert _audit_rows(audit_db) == []


def test_the_family_sheet_leaves_out_the_guardians_own_code(
    printer: httpx.Client, issuer: tuple[StandInIssuer, AppServer], audit_db: Path
) -> None:
    response = printer.post("/v1/print/family", headers=_auth(CITIZEN_TOKEN))

    assert response.status_code == 200, response.text
    guardian = pseudonymous_subject(CITIZEN_ID, TEST_SUBJECT_SECRET)
    assert guardian not in {row["subject"] for row in _audit_rows(audit_db)}
    assert "me" not in [path for path, _ in issuer[0].calls]
