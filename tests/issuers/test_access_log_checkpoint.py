"""An ID-card read through a real checkpoint, at home and in a partner province, appears in the
citizen's "who looked at my status" list (issue 15, DESIGN "Accountability")."""

from __future__ import annotations

from pathlib import Path

from tests.issuers.conftest import citizen_number
from tests.verifiers.federation import checkpoint_of, federation


def test_id_card_reads_at_checkpoints_are_listed_to_the_citizen(
    tmp_path: Path, redis_url: str
) -> None:
    with federation(tmp_path, redis_url) as (sichuan, guangdong, trust):
        number = citizen_number(601)
        sichuan.register(number, "曹六零一", phone="13800000601")
        me = sichuan.citizen_headers(number)
        # Each checkpoint has its own ID-card answer cache (a Redis database), so each read
        # reaches the issuers.
        home_redis, partner_redis = (f"{redis_url.rsplit('/', 1)[0]}/{db}" for db in (6, 7))
        with checkpoint_of(sichuan, trust, tmp_path, home_redis, "cd-east-gate") as gate:
            read = gate.post("/v1/id-card", json={"id_number": number, "name": "曹六零一"})
            assert read.status_code == 200, read.text
            assert read.json()["display"] == "green"
        with checkpoint_of(guangdong, trust, tmp_path, partner_redis, "gz-south") as gate:
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
