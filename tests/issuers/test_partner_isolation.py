"""Each partner's revocation feed syncs in its own worker: a dripping one delays no other."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path

import pytest

from healthcode import fetch
from healthcode.partner import client as partner_client
from healthcode.trust import IssuerEntry
from issuers import app as issuer_app
from issuers.partner_sync import STORE_FILE
from tests.hostile import HostilePeer, dripping, wait_until
from tests.issuers.federation import two_provinces
from tests.issuers.test_partner_sync import revoke_a_guangdong_code


@pytest.mark.usefixtures("redis_server")
def test_a_dripping_partner_delays_no_other_partner(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The dripping feed would take 500 s; its deadline is raised to 600 s here, so only a
    # sync that does not wait for it can bring Guangdong's revocation within the test.
    slow = dataclasses.replace(fetch.PEER_BOUNDS.revocations, deadline_s=600.0)
    bounds = dataclasses.replace(fetch.PEER_BOUNDS, revocations=slow)
    monkeypatch.setattr(partner_client, "PEER_BOUNDS", bounds)
    monkeypatch.setattr(issuer_app, "PEER_BOUNDS", bounds)
    drip = dripping(b'{"revocation_list": "' + b"x" * 2000 + b'"}', 0.25)
    with HostilePeer({"/drip/revocations": drip}) as peer:
        # Listed first: a sequential round would reach Guangdong only after it.
        dripper = IssuerEntry(
            id="cn-drip",
            name="dripping partner",
            region="110000",
            keys=(),
            endpoints={"partner_api": peer.url("/drip")},
        )
        with two_provinces(
            tmp_path, redis_url, extra_partners=[dripper], partner_sync_interval_s=0.2
        ) as (sichuan, guangdong, _trust):
            assert wait_until(lambda: ("request", "/drip/revocations") in peer.events)
            revoked_jti = revoke_a_guangdong_code(guangdong, 431)
            store_file = sichuan.settings.trust_cache_dir / STORE_FILE

            def synced() -> bool:
                with contextlib.suppress(OSError, ValueError, KeyError):
                    return revoked_jti in json.loads(store_file.read_text())["cn-gd"]["revoked"]
                return False

            assert wait_until(synced)
            # The dripping partner's first request (one per province) is still being read.
            assert peer.events.count(("request", "/drip/revocations")) <= 2
            assert ("done", "/drip/revocations") not in peer.events
