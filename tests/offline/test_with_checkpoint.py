"""A printed code at a real checkpoint: issued by the real issuer, printed, scanned, revoked.

The federation's two real issuer services (tests/issuers/federation.py), the print service and
the checkpoint service all run on uvicorn on loopback ports; Redis is a real redis-server. The
printed sheet is rasterised the way a scanner sees paper and POSTed to the checkpoint as an
image (`/v1/scan/image`), and its decoded text as a scanner types it (`/v1/scan`). The
checkpoint learns of revocations only through its own sync with the issuer.
"""

from __future__ import annotations

import io
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from healthcode import decode_image
from issuers.auth import Role
from offline.app import create_app
from offline.settings import OfflineSettings
from offline.sheet import rasterize
from tests.issuers.conftest import IssuerService
from tests.issuers.helpers import lab_csv, recent
from tests.servers import serve
from tests.verifiers.conftest import RunningCheckpoint
from tests.verifiers.federation import checkpoint_of, federation, issuers_conftest

if shutil.which("pdftoppm") is None:  # pragma: no cover - scripts/test installs it
    raise RuntimeError("pdftoppm (poppler-utils) is missing: run the suite through scripts/test")

SEVEN_DAYS = 7 * 86400


def _printed(issuer: IssuerService, id_number: str, tmp_path: Path, layout: str) -> bytes:
    """The citizen prints their own offline code through the print service (PDF)."""
    settings = OfflineSettings(
        issuer_url=issuer.url, audit_database_url=f"sqlite:///{tmp_path / 'print-audit.db'}"
    )
    with serve(create_app(settings)) as printer:
        answer = httpx.post(
            f"{printer.url}/v1/print/me",
            params={"layout": layout},
            headers=issuer.citizen_headers(id_number),
            timeout=60,
        )
    assert answer.status_code == 200, answer.text
    return answer.content


def _scanned_png(pdf: bytes, dpi: int = 150) -> bytes:
    """The front page as a flat-bed scan at `dpi` (PNG)."""
    out = io.BytesIO()
    rasterize(pdf, dpi)[0].convert("RGB").save(out, format="PNG")
    return out.getvalue()


def _scan_image(checkpoint: RunningCheckpoint, png: bytes) -> dict[str, Any]:
    response = httpx.post(
        f"{checkpoint.url}/v1/scan/image",
        content=png,
        headers={
            "Authorization": f"Bearer {checkpoint.device_token}",
            "Content-Type": "image/png",
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    (answer,) = response.json()["results"]
    result: dict[str, Any] = answer
    return result


def _scan_text(checkpoint: RunningCheckpoint, text: str) -> dict[str, Any]:
    response = checkpoint.post("/v1/scan", json={"text": text})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _assert_green_offline(answer: dict[str, Any], jti_tail: str) -> None:
    assert answer["display"] == "green", answer
    assert answer["valid"] is True
    assert answer["kind"] == "offline"
    assert answer["offline_code"] is True
    assert SEVEN_DAYS - 600 < answer["validity_left_s"] <= SEVEN_DAYS
    assert answer["issuer"] == "cn-sc"
    assert answer["id_tail"] == jti_tail
    assert answer["checks"]["revocation"] == "passed"


def test_a_printed_code_verifies_green_then_revoked_after_the_citizen_turns_red(
    tmp_path: Path, redis_url: str
) -> None:
    with federation(tmp_path, redis_url) as (sichuan, _guangdong, trust):
        citizen = issuers_conftest.citizen_number(71)
        sichuan.register(citizen, "张三丰", phone="13800000071")
        pdf = _printed(sichuan, citizen, tmp_path, "card")
        png = _scanned_png(pdf)
        (text,) = decode_image(png)
        with checkpoint_of(sichuan, trust, tmp_path, redis_url) as checkpoint:
            assert checkpoint.service.sync_revocations()["cn-sc"].startswith("ok")

            _assert_green_offline(_scan_image(checkpoint, png), citizen[-4:])
            _assert_green_offline(_scan_text(checkpoint, text), citizen[-4:])

            # A positive PCR result is imported at the issuer: the citizen turns red and every
            # code of theirs, the printed one included, is revoked.
            official = sichuan.staff_headers(Role.HEALTH_OFFICIAL)
            imported = sichuan.http.post(
                "/v1/feeds/lab_results",
                content=lab_csv((citizen, "positive", "pcr", recent())),
                headers={**official, "Content-Type": "text/csv"},
            )
            assert imported.status_code == 200, imported.text
            assert (
                sichuan.http.get("/v1/me", headers=sichuan.citizen_headers(citizen)).json()[
                    "colour"
                ]
                == "red"
            )
            synced = checkpoint.service.sync_revocations()
            assert synced["cn-sc"].startswith("ok (+"), synced
            assert synced["cn-sc"] != "ok (+0)", synced

            for answer in (_scan_image(checkpoint, png), _scan_text(checkpoint, text)):
                assert answer["valid"] is False, answer
                assert answer["error"] == "revoked"
                assert answer["display"] != "green"
                assert answer["error_text"]["zh"], answer


def test_a_printed_code_at_a_checkpoint_whose_network_is_down(
    tmp_path: Path, redis_url: str
) -> None:
    with federation(tmp_path, redis_url) as (sichuan, guangdong, trust):
        citizen = issuers_conftest.citizen_number(72)
        sichuan.register(citizen, "李四", phone="13800000072")
        pdf = _printed(sichuan, citizen, tmp_path, "a4")
        png = _scanned_png(pdf)
        (text,) = decode_image(png)
        with checkpoint_of(sichuan, trust, tmp_path, redis_url) as checkpoint:
            assert checkpoint.service.sync_revocations()["cn-sc"].startswith("ok")
            # The network goes: neither issuer answers any more.
            sichuan.server.stop()
            guangdong.server.stop()
            assert checkpoint.service.sync_revocations() == {
                "cn-sc": "failed",
                "cn-gd": "failed",
            }

            # Within the freshness bound the printed code still verifies, from the last sync.
            answer = _scan_image(checkpoint, png)
            _assert_green_offline(answer, citizen[-4:])
            assert any(note.startswith("revocation data as of") for note in answer["notes"])
            assert checkpoint.get("/v1/status").json()["offline"] is True

            # Past it (max_revocation_age_s, 900 s) the same paper is never green: it fails
            # closed, like every other code (docs/offline.md, "Checkpoint offline").
            as_of = checkpoint.service.revocations.state("cn-sc").as_of
            late = checkpoint.service.checkpoint.verify_text(text, now=as_of + 901).to_json()
            assert late["display"] != "green"
            assert late["valid"] is False
            assert late["error"] == "status_unconfirmed"
            assert late["error_text"] == {
                "en": "Status could not be confirmed",
                "zh": "状态无法确认",
            }
            assert late["unchecked"][0]["check"] == "revocation"


def test_a_printed_family_sheet_verifies_each_member_at_the_checkpoint(
    tmp_path: Path, redis_url: str
) -> None:
    with federation(tmp_path, redis_url) as (sichuan, _guangdong, trust):
        guardian = issuers_conftest.citizen_number(73)
        child = issuers_conftest.citizen_number(74, born=date(2016, 6, 1))
        grandma = issuers_conftest.citizen_number(75)
        sichuan.register(guardian, "李建国", phone="13800000073")
        sichuan.register(child, "李小明")
        sichuan.register(grandma, "王秀芳")
        # A minor is bound by the guardian; an adult without a phone only at a counter.
        bound = sichuan.http.post(
            "/v1/family",
            json={"id_number": child, "name": "李小明"},
            headers=sichuan.citizen_headers(guardian),
        )
        assert bound.status_code == 201, bound.text
        sichuan.bind_at_counter((guardian, "李建国"), (grandma, "王秀芳"))
        settings = OfflineSettings(
            issuer_url=sichuan.url, audit_database_url=f"sqlite:///{tmp_path / 'audit.db'}"
        )
        with serve(create_app(settings)) as printer:
            sheet = httpx.post(
                f"{printer.url}/v1/print/family",
                headers=sichuan.citizen_headers(guardian),
                timeout=60,
            )
        assert sheet.status_code == 200, sheet.text
        with checkpoint_of(sichuan, trust, tmp_path, redis_url) as checkpoint:
            checkpoint.service.sync_revocations()
            response = httpx.post(
                f"{checkpoint.url}/v1/scan/image",
                content=_scanned_png(sheet.content),
                headers={"Authorization": f"Bearer {checkpoint.device_token}"},
                timeout=30,
            )

        assert response.status_code == 200, response.text
        answers = response.json()["results"]
        assert [a["display"] for a in answers] == ["green", "green"]
        assert {a["id_tail"] for a in answers} == {child[-4:], grandma[-4:]}
        assert {a["kind"] for a in answers} == {"offline"}
