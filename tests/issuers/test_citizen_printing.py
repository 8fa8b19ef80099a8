"""The citizen app prints through the issuer, which forwards to the real print service
(ADR 0012): render -> rasterise -> decode -> verify."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from healthcode import decode_image, verify_credential
from offline.app import create_app as create_print_app
from offline.settings import OfflineSettings
from offline.sheet import rasterize
from tests.issuers.conftest import (
    IssuerService,
    citizen_number,
    make_settings,
    running_issuer,
)
from tests.servers import free_port, serve


@contextmanager
def issuer_with_printer(tmp_path: Path, redis_url: str) -> Iterator[IssuerService]:
    port = free_port()
    print_settings = OfflineSettings(
        issuer_url=f"http://127.0.0.1:{port}",
        audit_database_url=f"sqlite:///{tmp_path / 'print-audit.db'}",
    )
    with serve(create_print_app(print_settings)) as printer:
        settings = make_settings(tmp_path, redis_url, print_url=printer.url)
        with running_issuer(settings, port=port) as svc:
            yield svc


def decoded(pdf: bytes) -> list[str]:
    return decode_image(rasterize(pdf, 150)[0].convert("RGB"))


def test_citizen_prints_self_dependant_and_family_sheet(tmp_path: Path, redis_url: str) -> None:
    with issuer_with_printer(tmp_path, redis_url) as svc:
        parent, child = citizen_number(501), citizen_number(502, born=date(2019, 4, 4))
        svc.register(parent, "杨五零一", phone="13800000501")
        svc.register(child, "杨小五")
        me = svc.citizen_headers(parent)
        assert svc.http.get("/v1/app/config").json()["print"]["available"] is True
        # No dependant yet: the print service's refusal keeps its code.
        empty = svc.http.post("/v1/family/print", headers=me)
        assert empty.status_code == 404, empty.text
        assert empty.json()["error"] == "not_found"

        own = svc.http.post("/v1/me/print", params={"layout": "card"}, headers=me, timeout=60)
        assert own.status_code == 200, own.text
        assert own.headers["content-type"] == "application/pdf"
        assert own.headers["content-disposition"].startswith("attachment;")
        assert own.headers["cache-control"] == "no-store"
        (text,) = decoded(own.content)
        verified = verify_credential(text, svc.trust())
        assert verified.valid
        assert verified.credential is not None
        assert verified.credential.subject == svc.subject(parent)
        assert verified.credential.expires_at - verified.credential.issued_at == 7 * 86400

        ref = svc.http.post(
            "/v1/family", json={"id_number": child, "name": "杨小五"}, headers=me
        ).json()["dependent_ref"]
        one = svc.http.post(f"/v1/family/{ref}/print", headers=me, timeout=60)
        assert one.status_code == 200, one.text
        (child_text,) = decoded(one.content)
        child_code = verify_credential(child_text, svc.trust()).credential
        assert child_code is not None
        assert child_code.subject == svc.subject(child)
        sheet = svc.http.post("/v1/family/print", headers=me, timeout=60)
        assert sheet.status_code == 200, sheet.text
        assert sheet.content.startswith(b"%PDF-")

        stranger = svc.citizen_headers(citizen_number(503))
        refused = svc.http.post(f"/v1/family/{ref}/print", headers=stranger)
        assert refused.status_code == 403
        bad_layout = svc.http.post("/v1/me/print", params={"layout": "poster"}, headers=me)
        assert bad_layout.status_code == 422
        assert bad_layout.json()["error"] == "invalid_request"
        assert svc.http.post("/v1/me/print").status_code == 401


def test_without_a_print_service_printing_is_unavailable(issuer: IssuerService) -> None:
    number = citizen_number(511)
    issuer.register(number, "何五一一")
    answer = issuer.http.post("/v1/me/print", headers=issuer.citizen_headers(number))
    assert answer.status_code == 503
    assert answer.json()["error"] == "upstream_unavailable"
