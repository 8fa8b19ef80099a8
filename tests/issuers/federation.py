"""Two real issuer services (Sichuan, Guangdong) trusting each other, for end-to-end tests.

Each runs in-process on its own loopback port with its own database, keys and partner key;
both trust one TrustStore built from their live key rings (the registry's role in production).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from healthcode.keys import SigningKey
from healthcode.trust import IssuerEntry, TrustedKey, TrustStore
from issuers.keyring import Keyring
from issuers.settings import IssuerSettings
from tests.issuers.conftest import IssuerService, make_settings, running_issuer
from tests.servers import free_port

PROVINCES = {"cn-sc": ("四川省 Sichuan", "510000"), "cn-gd": ("广东省 Guangdong", "440000")}


@contextlib.contextmanager
def two_provinces(
    tmp_path: Path,
    redis_url: str,
    *,
    extra_partners: Sequence[IssuerEntry] = (),
    background_sync: bool = True,
    **overrides: Any,
) -> Iterator[tuple[IssuerService, IssuerService, TrustStore]]:
    """Sichuan and Guangdong issuers, and the trust store they (and a checkpoint) share.

    `extra_partners` are listed first in that store (e.g. `PartnerFeedServer` entries);
    `background_sync=False` runs both without their background partner sync (the partner keys
    are still `<tmp_path>/<issuer id>/partner.pem`, for a test to sync itself); `overrides` are
    settings of both issuers."""
    settings: dict[str, IssuerSettings] = {}
    ports: dict[str, int] = {}
    partner_keys: dict[str, SigningKey] = {}
    for issuer_id, (_, region) in PROVINCES.items():
        directory = tmp_path / issuer_id
        directory.mkdir()
        ports[issuer_id] = free_port()
        partner_keys[issuer_id] = SigningKey.generate()
        partner_keys[issuer_id].save(directory / "partner.pem")
        settings[issuer_id] = make_settings(
            directory,
            redis_url,
            issuer_id=issuer_id,
            region=region,
            public_url=f"http://127.0.0.1:{ports[issuer_id]}",
            partner_key_file=directory / "partner.pem" if background_sync else None,
            **overrides,
        )
        Keyring(settings[issuer_id].key_dir, keep_retired_s=3600).signing_key()

    def trust() -> TrustStore:
        return TrustStore(
            [
                *extra_partners,
                *(
                    IssuerEntry(
                        id=issuer_id,
                        name=PROVINCES[issuer_id][0],
                        region=PROVINCES[issuer_id][1],
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
                ),
            ]
        )

    with (
        running_issuer(settings["cn-sc"], trust=trust, port=ports["cn-sc"]) as sichuan,
        running_issuer(settings["cn-gd"], trust=trust, port=ports["cn-gd"]) as guangdong,
    ):
        yield sichuan, guangdong, trust()
