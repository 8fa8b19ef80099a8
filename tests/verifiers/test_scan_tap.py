"""Scan + tap (standard §6.4, ADR 0014): the checkpoint pairs a scanned code with the ID card
read within the window, either order, and says whether the code is the card holder's."""

from __future__ import annotations

import time
from typing import Any

import pytest

from healthcode import CodeKind, StatusColour, TrustStore
from healthcode.errors import HealthcodeError
from healthcode.idnumber import pseudonymous_subject
from tests.verifiers.conftest import (
    BJ_YELLOW,
    SC_GREEN,
    SC_RED,
    MakeSettings,
    Province,
    RunningCheckpoint,
    start_checkpoint,
)
from tests.verifiers.pagekit import code
from tests.verifiers.standin import SUBJECT_SECRET
from verifiers.auth import Principal
from verifiers.scan import ScanAnswer

pytestmark = pytest.mark.usefixtures("bj")


def owners_code(province: Province, id_number: str, kind: CodeKind = CodeKind.PHONE) -> str:
    """A code of the citizen with `id_number`, as their home issuer would issue it."""
    subject = pseudonymous_subject(id_number, SUBJECT_SECRET)
    return code(province, StatusColour.GREEN, kind=kind, subject=subject)


@pytest.fixture
def device(checkpoint: RunningCheckpoint) -> Principal:
    principal: Principal = checkpoint.service.auth.authenticate(checkpoint.device_token)
    return principal


def _card(
    checkpoint: RunningCheckpoint, device: Principal, number: str, now: float | None = None
) -> dict[str, Any]:
    answer: ScanAnswer = checkpoint.service.read_id_card(
        number, None, device, assisted=False, now=now
    )
    return answer.to_json()


def test_code_then_the_owners_card_matches(
    checkpoint: RunningCheckpoint, device: Principal, sc: Province
) -> None:
    scanned = checkpoint.service.scan_text(owners_code(sc, SC_GREEN), device).to_json()
    assert scanned["display"] == "green"
    assert scanned["binding"] == {
        "result": "waiting",
        "side": "code",
        "window_s": 20.0,
        "required": False,
    }
    card = _card(checkpoint, device, SC_GREEN)
    assert (card["display"], card["binding"]["result"]) == ("green", "match")
    # The pair is done: the next card read starts a new one.
    assert _card(checkpoint, device, SC_GREEN)["binding"]["result"] == "waiting"


def test_card_then_code_matches_too_and_printed_codes_count(
    checkpoint: RunningCheckpoint, device: Principal, sc: Province
) -> None:
    assert _card(checkpoint, device, SC_GREEN)["binding"]["side"] == "card"
    printed = owners_code(sc, SC_GREEN, CodeKind.OFFLINE)
    scanned = checkpoint.service.scan_text(printed, device).to_json()
    assert (scanned["kind"], scanned["binding"]["result"]) == ("offline", "match")


def test_another_citizens_card_is_a_mismatch_and_logged(
    checkpoint: RunningCheckpoint, device: Principal, sc: Province
) -> None:
    checkpoint.service.scan_text(owners_code(sc, SC_GREEN), device)
    card = _card(checkpoint, device, SC_RED)
    assert card["display"] == "error"
    assert card["error"] == "holder_mismatch"
    assert card["binding"]["result"] == "mismatch"
    assert card["staff_text"]["zh"].startswith("码不属于此身份证持有人")
    assert card["checks"]["claims"] == "failed"  # a step of the verification, nothing later
    rows = checkpoint.service.scan_log.scans()
    assert [(r.mode, r.result, r.error) for r in rows][-1] == (
        "id_card",
        "error",
        "holder_mismatch",
    )
    assert SC_RED not in repr([row.model_dump() for row in rows])
    # Card first, then someone else's code: the code is the refused one.
    _card(checkpoint, device, SC_RED)
    scanned = checkpoint.service.scan_text(owners_code(sc, SC_GREEN), device).to_json()
    assert (scanned["error"], scanned["binding"]["result"]) == ("holder_mismatch", "mismatch")


def test_a_traveller_is_paired_through_the_home_province(
    checkpoint: RunningCheckpoint, device: Principal, bj: Province
) -> None:
    scanned = checkpoint.service.scan_text(owners_code(bj, BJ_YELLOW), device).to_json()
    assert scanned["issuer"] == "cn-bj"
    card = checkpoint.service.read_id_card(BJ_YELLOW, "李小龙", device, assisted=False).to_json()
    assert (card["home_issuer"], card["binding"]["result"]) == ("cn-bj", "match")


def test_home_province_unreachable_could_not_confirm(
    checkpoint: RunningCheckpoint, device: Principal, bj: Province
) -> None:
    bj.server.stop()
    checkpoint.service.scan_text(owners_code(bj, BJ_YELLOW), device)
    with pytest.raises(HealthcodeError) as refused:
        checkpoint.service.read_id_card(BJ_YELLOW, "李小龙", device, assisted=False)
    assert refused.value.code.value == "upstream_unavailable"
    assert refused.value.details is not None
    assert refused.value.details["binding"]["result"] == "unconfirmed"
    # Over HTTP: the error answer carries it. Card first, then the code: unconfirmed too.
    response = checkpoint.post("/v1/id-card", json={"id_number": BJ_YELLOW, "name": "李小龙"})
    assert (response.status_code, response.json()["error"]) == (503, "upstream_unavailable")
    scanned = checkpoint.post("/v1/scan", json={"text": owners_code(bj, BJ_YELLOW)}).json()
    assert scanned["binding"]["result"] == "unconfirmed"


def test_reads_outside_the_window_or_of_another_device_are_not_paired(
    checkpoint: RunningCheckpoint, device: Principal, sc: Province
) -> None:
    start = time.time()
    checkpoint.service.scan_text(owners_code(sc, SC_GREEN), device, now=start)
    late = _card(checkpoint, device, SC_RED, now=start + 21)
    assert (late["display"], late["binding"]["result"]) == ("red", "waiting")
    staff = checkpoint.service.auth.authenticate(checkpoint.staff_token)
    other = checkpoint.service.read_id_card(SC_GREEN, None, staff, assisted=False).to_json()
    assert other["binding"]["result"] == "waiting"  # the device's waiting card is not the staff's


def test_the_setting_makes_it_mandatory(
    make_settings: MakeSettings, trust_store: TrustStore, sc: Province
) -> None:
    running = start_checkpoint(
        make_settings(scan_tap_required=True, scan_tap_window_s=45), trust_store
    )
    running.service.sync_revocations()
    try:
        status = running.get("/v1/status").json()
        assert (status["scan_tap_required"], status["scan_tap_window_s"]) == (True, 45.0)
        scanned = running.post("/v1/scan", json={"text": owners_code(sc, SC_GREEN)}).json()
        assert scanned["binding"] == {
            "result": "waiting",
            "side": "code",
            "window_s": 45.0,
            "required": True,
        }
    finally:
        running.server.stop()
