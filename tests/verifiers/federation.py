"""Two real issuer services (Sichuan, Guangdong) with their partner routers, for end-to-end tests.

Only the tests start them in-process; the checkpoint itself talks to its issuer over HTTP.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tests.issuers.conftest as issuers_conftest
from healthcode.keys import SigningKey
from healthcode.trust import IssuerEntry, TrustedKey, TrustStore
from issuers.keyring import Keyring
from tests.servers import free_port


@contextlib.contextmanager
def federation(tmp_path: Path, redis_url: str) -> Iterator[tuple[Any, Any, TrustStore]]:
    provinces = {"cn-sc": "510000", "cn-gd": "440000"}
    settings = {}
    ports: dict[str, int] = {}
    partner_keys: dict[str, SigningKey] = {}
    for issuer_id, region in provinces.items():
        directory = tmp_path / issuer_id
        directory.mkdir()
        ports[issuer_id] = free_port()
        partner_keys[issuer_id] = SigningKey.generate()
        partner_keys[issuer_id].save(directory / "partner.pem")
        settings[issuer_id] = issuers_conftest.make_settings(
            directory,
            redis_url,
            issuer_id=issuer_id,
            region=region,
            public_url=f"http://127.0.0.1:{ports[issuer_id]}",
            partner_key_file=directory / "partner.pem",
        )
        Keyring(settings[issuer_id].key_dir, keep_retired_s=3600).signing_key()

    def trust() -> TrustStore:
        return TrustStore(
            [
                IssuerEntry(
                    id=issuer_id,
                    name={"cn-sc": "四川省 Sichuan", "cn-gd": "广东省 Guangdong"}[issuer_id],
                    region=provinces[issuer_id],
                    keys=tuple(
                        TrustedKey(key)
                        for key in Keyring(s.key_dir, keep_retired_s=3600).published_keys()
                    ),
                    endpoints={
                        "partner_api": s.partner_audience,
                        "revocations": f"http://127.0.0.1:{ports[issuer_id]}/v1/revocations",
                    },
                    partner_keys=(partner_keys[issuer_id].verifying_key,),
                )
                for issuer_id, s in settings.items()
            ]
        )

    running = issuers_conftest.running_issuer
    with (
        running(settings["cn-sc"], trust=trust, port=ports["cn-sc"]) as sichuan,
        running(settings["cn-gd"], trust=trust, port=ports["cn-gd"]) as guangdong,
    ):
        yield sichuan, guangdong, trust()
