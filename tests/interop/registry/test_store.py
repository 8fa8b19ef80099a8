"""Registry store functions called directly, with `now=` instead of the clock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlmodel import Session, select

from healthcode import ErrorCode, RequestError, SigningKey, TrustListError, jwks_document
from healthcode.keychange import make_rotation_request
from healthcode.trust import IssuerStatus
from healthcode.trustlist import TrustListState, verify_trust_list
from interop.app import create_engine_for, init_database
from interop.registry import keychanges, store
from interop.registry.models import PublishedDocument, UsedNonce
from interop.registry.signing import RootKeyring

SIGNED_AT = datetime(2026, 9, 21, 8, 0, tzinfo=UTC)


def _onboard(session: Session, keyring: RootKeyring, **overrides: object) -> PublishedDocument:
    fields: dict[str, object] = {
        "issuer_id": "cn-gd",
        "name": "广东省 Guangdong",
        "region": "440000",
        "profile": "hc",
        "endpoints": {"partner_api": "https://hc.gd.example.cn/partner/v1"},
        "jwks": jwks_document([SigningKey.generate().verifying_key]),
        "partner_keys": [],
        "actor": "test",
        "now": SIGNED_AT,
    }
    fields.update(overrides)
    record = store.onboard_issuer(session, keyring, **fields)  # type: ignore[arg-type]
    assert isinstance(record, PublishedDocument)  # no custody: published at once
    return record


@pytest.fixture
def sqlite_engine(tmp_path: Path, root_dir: Path) -> Iterator[Engine]:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'store.db'}")
    init_database(engine, RootKeyring.load(root_dir))
    yield engine
    engine.dispose()


def test_signed_at_is_registry_time_and_expiry_defaults_to_seven_days(
    sqlite_engine: Engine, root_dir: Path
) -> None:
    keyring = RootKeyring.load(root_dir)
    with Session(sqlite_engine) as session:
        record = _onboard(session, keyring)
    listed = verify_trust_list(record.document_json.encode(), keyring.current)
    assert listed.signed_at == SIGNED_AT
    assert listed.expires - listed.signed_at == timedelta(days=7)
    state = TrustListState(keyring.current)
    # A verifier at a time after expiry refuses the offered list (freeze protection).
    with pytest.raises(TrustListError) as refused:
        state.update(record.document_json.encode(), SIGNED_AT + timedelta(days=8))
    assert refused.value.code is ErrorCode.TRUST_LIST_EXPIRED


def test_configured_lifetime_is_used(sqlite_engine: Engine, root_dir: Path) -> None:
    keyring = RootKeyring.load(root_dir)
    with Session(sqlite_engine) as session:
        _onboard(session, keyring)
        record = store.set_issuer_status(
            session,
            keyring,
            "cn-gd",
            IssuerStatus.SUSPENDED,
            actor="t",
            now=SIGNED_AT,
            lifetime=timedelta(hours=1),
        )
    assert isinstance(record, PublishedDocument)  # no custody: published at once
    listed = verify_trust_list(record.document_json.encode(), keyring.current)
    assert listed.expires - listed.signed_at == timedelta(hours=1)


def test_refused_change_writes_nothing(sqlite_engine: Engine, root_dir: Path) -> None:
    keyring = RootKeyring.load(root_dir)
    with Session(sqlite_engine) as session:
        _onboard(session, keyring)
        with pytest.raises(RequestError) as refused:
            store.set_issuer_status(session, keyring, "cn-gd", IssuerStatus.ACTIVE, actor="t")
        assert refused.value.code is ErrorCode.CONFLICT
        with pytest.raises(RequestError) as missing:
            keychanges.revoke_key(session, keyring, "cn-xx", "kid", actor="t")
        assert missing.value.code is ErrorCode.NOT_FOUND
        with pytest.raises(RequestError):
            _onboard(session, keyring, issuer_id="cn-other", region="440100")  # same province
        with pytest.raises(RequestError):
            _onboard(session, keyring, issuer_id="CN GD", region="510000")
        with pytest.raises(RequestError):
            _onboard(
                session,
                keyring,
                issuer_id="cn-x",
                region="510000",
                endpoints={"partner_api": "ftp://x"},
            )
    with Session(sqlite_engine) as session:
        assert [e.id for e in store.issuer_entries(session)] == ["cn-gd"]
        newest = store.latest_document(session, store.TRUST_LIST)
        assert newest is not None
        assert newest.version == 1
        assert [r.action for r in store.audit_log(session)] == ["onboard"]


def test_rotation_drops_keys_no_code_needs_and_refuses_past_the_limit(
    sqlite_engine: Engine, root_dir: Path
) -> None:
    keyring = RootKeyring.load(root_dir)
    current = SigningKey.generate()
    with Session(sqlite_engine) as session:
        _onboard(session, keyring, jwks=jwks_document([current.verifying_key]))

        def rotate(at: datetime) -> SigningKey:
            new = SigningKey.generate()
            body = make_rotation_request(
                issuer="cn-gd", current_key=current, new_key=new, now=at.timestamp()
            )
            keychanges.rotate_key(session, keyring, "cn-gd", **body, now=at)
            return new

        for minute in range(1, 16):  # 1 + 15 keys: the limit of 16
            current = rotate(SIGNED_AT + timedelta(minutes=minute))
        with pytest.raises(RequestError) as full:
            rotate(SIGNED_AT + timedelta(minutes=20))
        assert full.value.code is ErrorCode.CONFLICT
        # Once every code the retired keys signed has expired, they make room.
        current = rotate(SIGNED_AT + timedelta(days=8))
        entry = store.issuer_entries(session)[0]
        # The refused request left nothing behind (its nonce was not committed later).
        assert len(session.exec(select(UsedNonce)).all()) == 16
    assert [k.kid for k in entry.keys if k.status.value == "active"] == [current.kid]
    assert len(entry.keys) == 2  # the new key and the one it replaced


@pytest.mark.postgres
def test_registry_store_on_postgresql(postgres_database_url: str, root_dir: Path) -> None:
    schema = f"hc_registry_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_database_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(
        postgres_database_url, connect_args={"options": f"-csearch_path={schema}"}
    )
    try:
        keyring = RootKeyring.load(root_dir)
        init_database(engine, keyring)
        with Session(engine) as session:
            _onboard(session, keyring)
            store.publish(session, keyring, actor="t", now=SIGNED_AT + timedelta(hours=1))
            newest = store.latest_document(session, store.TRUST_LIST)
            root = store.latest_document(session, store.ROOT)
        assert newest is not None
        assert root is not None
        assert (newest.version, root.version) == (2, 1)
        verify_trust_list(newest.document_json.encode(), keyring.current)
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
