"""A hostile home issuer behind `/v1/checkpoint/status-lookup`: refused with its code, no 500."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthcode.fetch import MIB
from healthcode.trust import IssuerEntry
from issuers.auth import Role
from tests.hostile import HostilePeer, gzip_bomb, nested_json, raw_json_answer
from tests.issuers.conftest import citizen_number
from tests.issuers.federation import two_provinces


@pytest.mark.usefixtures("redis_server")
def test_a_hostile_home_issuer_is_refused_with_its_code(tmp_path: Path, redis_url: str) -> None:
    routes = {
        "/deep/status": raw_json_answer(nested_json(20_000)),
        "/bomb/status": gzip_bomb(64 * MIB),
    }
    with HostilePeer(routes) as peer:
        beijing = [
            IssuerEntry(
                id=f"cn-bj-{kind}",
                name="北京市 Beijing",
                region=region,
                keys=(),
                endpoints={"partner_api": peer.url(f"/{kind}")},
            )
            for kind, region in (("deep", "110000"), ("bomb", "120000"))
        ]
        with two_provinces(tmp_path, redis_url, extra_partners=beijing) as (sichuan, _, _):
            headers = sichuan.staff_headers(Role.CHECKPOINT)
            for division, code, status in (
                ("110101", "upstream_malformed", 502),
                ("120101", "upstream_too_large", 502),
            ):
                answer = sichuan.http.post(
                    "/v1/checkpoint/status-lookup",
                    json={
                        "id_number": citizen_number(120, division=division),
                        "name": "赵十四",
                        "checkpoint_id": "chengdu-east",
                    },
                    headers=headers,
                )
                assert answer.status_code == status, answer.text
                assert answer.json()["error"] == code
        assert ("request", "/deep/status") in peer.events
        assert ("request", "/bomb/status") in peer.events
