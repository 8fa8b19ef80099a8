"""An ID-card read through a real checkpoint, at home and in a partner province, appears in the
citizen's "who looked at my status" list (issue 15, DESIGN "Accountability")."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from healthcode.trust import TrustStore
from issuers.auth import Role
from tests.issuers.conftest import IssuerService, citizen_number
from tests.verifiers.conftest import RunningCheckpoint, start_checkpoint
from tests.verifiers.federation import federation
from verifiers.settings import VerifierSettings


@contextmanager
def checkpoint_of(
    issuer: IssuerService, trust: TrustStore, tmp_path: Path, redis_url: str, place: str
) -> Iterator[RunningCheckpoint]:
    """A checkpoint of `issuer` whose ID-card answer cache is its own (a Redis database per
    place), so each read reaches the issuers."""
    device = issuer.staff_headers(Role.CHECKPOINT)["Authorization"].removeprefix("Bearer ")
    settings = VerifierSettings(
        demo_mode=True,
        database_url=f"sqlite:///{tmp_path / f'{place}.db'}",
        state_dir=tmp_path / f"{place}-state",
        redis_url=f"{redis_url.rsplit('/', 1)[0]}/{7 if place.startswith('gz') else 6}",
        issuer_url=issuer.url,
        issuer_token=device,
        checkpoint_id=place,
        background_tasks=False,
    )
    running = start_checkpoint(settings, trust)
    try:
        yield running
    finally:
        running.server.stop()


def test_id_card_reads_at_checkpoints_are_listed_to_the_citizen(
    tmp_path: Path, redis_url: str
) -> None:
    with federation(tmp_path, redis_url) as (sichuan, guangdong, trust):
        number = citizen_number(601)
        sichuan.register(number, "曹六零一", phone="13800000601")
        me = sichuan.citizen_headers(number)
        with checkpoint_of(sichuan, trust, tmp_path, redis_url, "cd-east-gate") as gate:
            read = gate.post("/v1/id-card", json={"id_number": number, "name": "曹六零一"})
            assert read.status_code == 200, read.text
            assert read.json()["display"] == "green"
        with checkpoint_of(guangdong, trust, tmp_path, redis_url, "gz-south-station") as gate:
            read = gate.post("/v1/id-card", json={"id_number": number, "name": "曹六零一"})
            assert read.status_code == 200, read.text
            assert read.json()["home_issuer"] == "cn-sc"
        log = sichuan.http.get("/v1/me/access-log", headers=me)
        assert log.status_code == 200
        looks = [(e["kind"], e["role"], e["place"]) for e in log.json()]
        assert ("checkpoint_id_read", "checkpoint", "cd-east-gate") in looks
        assert ("partner_lookup", "partner", "cn-gd") in looks
        partner = next(e for e in log.json() if e["kind"] == "partner_lookup")
        assert partner["text"]["en"] == "Look-up by another province"
        assert number not in log.text
