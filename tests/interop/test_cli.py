"""`healthcode registry ...` end to end: the CLI writes, the service serves, a client verifies."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from healthcode import ErrorCode, SigningKey, TrustListError, jwks_document, verify_credential
from healthcode.cli import main
from healthcode.trustlist import TrustListState, load_root
from interop.app import create_app
from interop.registry.signing import RootKeyring
from interop.settings import InteropSettings
from tests.servers import serve


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    status = main(["registry", *argv])
    out = capsys.readouterr().out.strip()
    return status, (json.loads(out.splitlines()[-1]) if out else {})


@pytest.fixture
def where(tmp_path: Path) -> list[str]:
    return [
        "--database-url",
        f"sqlite:///{tmp_path / 'r.db'}",
        "--root-dir",
        str(tmp_path / "root"),
    ]


def test_cli_lifecycle_and_root_rotation(
    tmp_path: Path, where: list[str], capsys: pytest.CaptureFixture[str], make_token: object
) -> None:
    status, root = run(capsys, "init-root", *where, "--keys", "3", "--threshold", "2")
    assert status == 0
    assert root["root_version"] == 1
    key = SigningKey.generate()
    (tmp_path / "jwks.json").write_text(json.dumps(jwks_document([key.verifying_key])))
    (tmp_path / "partner.json").write_text(
        json.dumps(jwks_document([SigningKey.generate().verifying_key]))
    )
    status, out = run(
        capsys,
        "onboard",
        *where,
        "--id",
        "cn-sc",
        "--name",
        "四川省",
        "--region",
        "510000",
        "--jwks",
        str(tmp_path / "jwks.json"),
        "--partner-jwks",
        str(tmp_path / "partner.json"),
        "--endpoint",
        "partner_api=http://127.0.0.1:9/partner/v1",
    )
    assert (status, out["trust_list_version"]) == (0, 1)
    assert (
        run(capsys, "suspend", *where, "cn-sc", "--reason", "drill")[1]["trust_list_version"] == 2
    )
    assert run(capsys, "reinstate", *where, "cn-sc")[1]["trust_list_version"] == 3
    status, rotated = run(capsys, "rotate-root", *where, "--add", "2", "--threshold", "3")
    assert status == 0
    assert (rotated["root_version"], rotated["threshold"], rotated["trust_list_version"]) == (
        2,
        3,
        4,
    )
    assert len(rotated["keys"]) == 5  # type: ignore[arg-type]

    settings = InteropSettings(
        database_url=where[1],
        root_keys_dir=Path(where[3]),
        admin_token=SecretStr("cli-test-admin-token"),
        token_secret=SecretStr("cli-test-secret-x"),
    )
    with serve(create_app(settings)) as server, httpx.Client(base_url=server.url) as http:
        now = datetime.now(UTC)
        state = TrustListState(load_root(http.get("/v1/root/1").json()))
        # A list signed under root 2 is refused until the client walks the root forward.
        with pytest.raises(TrustListError) as refused:
            state.update(http.get("/v1/trust-list").content, now)
        assert refused.value.code is ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY
        assert http.get("/v1/root/latest").json() == http.get("/v1/root/2").json()
        state.update_roots([http.get("/v1/root/2").json()], now)
        assert state.update(http.get("/v1/trust-list").content, now)
        at = time.time()
        token = make_token(key=key, now=at)  # type: ignore[operator]
        assert verify_credential(token, state.trust_store(), at).valid
        # Versions signed under root 1 are still served (every version is kept).
        assert http.get("/v1/trust-list/1").status_code == 200

    status, out = run(capsys, "revoke-key", *where, "cn-sc", key.kid)
    assert (status, out["trust_list_version"]) == (0, 5)


def test_publishing_without_the_threshold_only_prepares_a_pending_version(
    tmp_path: Path, where: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "init-root", *where, "--keys", "2", "--threshold", "2")[0] == 0
    for pem in list((tmp_path / "root" / "keys").glob("*.pem"))[:1]:
        pem.unlink()  # one officer's key is offline
    status, out = run(capsys, "publish", *where)
    # Nothing is published: the version waits for the other officer's cosignature.
    assert (status, out) == (0, {"trust_list_version": 1, "pending": True})
    assert run(capsys, "init-root", *where)[0] == 2  # a root exists already


def test_unreadable_jwks_file_is_a_usage_error(
    tmp_path: Path, where: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "init-root", *where)[0] == 0
    missing = str(tmp_path / "missing.json")
    argv = ["onboard", *where, "--id", "cn-sc", "--name", "x", "--region", "510000"]
    assert main(["registry", *argv, "--jwks", missing]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_rotate_root_replaces_a_stolen_timestamp_key(
    tmp_path: Path, where: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "init-root", *where)[0] == 0
    root_dir = tmp_path / "root"
    stolen = RootKeyring.load(root_dir).current.timestamp_keys
    # Without the option the online key carries over.
    assert run(capsys, "rotate-root", *where, "--add", "0")[0] == 0
    assert set(RootKeyring.load(root_dir).current.timestamp_keys) == set(stolen)
    # With it, a fresh key replaces it, and the replaced (perhaps stolen) private key goes.
    status, out = run(capsys, "rotate-root", *where, "--add", "0", "--new-timestamp-key")
    assert status == 0, capsys.readouterr().err
    keyring = RootKeyring.load(root_dir)
    fresh = set(keyring.current.timestamp_keys)
    assert out["root_version"] == 3
    assert out["timestamp_keys"] == sorted(fresh)
    assert fresh
    assert not fresh & set(stolen)
    signer = keyring.timestamp_signer()
    assert signer is not None
    assert signer.kid in fresh
    assert sorted(p.stem for p in (root_dir / "timestamp").glob("*.pem")) == sorted(fresh)
    # An officer may bring the new key (generated elsewhere) as a PEM file.
    brought = SigningKey.generate()
    brought.save(tmp_path / "online.pem")
    online = str(tmp_path / "online.pem")
    status, out = run(capsys, "rotate-root", *where, "--add", "0", "--new-timestamp-key", online)
    assert (status, out["timestamp_keys"]) == (0, [brought.kid])
    signer = RootKeyring.load(root_dir).timestamp_signer()
    assert signer is not None
    assert signer.kid == brought.kid
    # Clients walking the chain from root 1 accept every step.
    state = TrustListState(load_root((root_dir / "root-1.json").read_bytes()))
    state.update_roots(
        [(root_dir / f"root-{n}.json").read_bytes() for n in (2, 3, 4)], datetime.now(UTC)
    )
    assert set(state.root.timestamp_keys) == {brought.kid}


def test_rotate_root_refuses_a_root_key_as_the_timestamp_key(
    tmp_path: Path, where: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "init-root", *where)[0] == 0
    root_key = next((tmp_path / "root" / "keys").glob("*.pem"))
    argv = ["rotate-root", *where, "--add", "0", "--new-timestamp-key", str(root_key)]
    assert main(["registry", *argv]) == 1
    assert "timestamp keys must differ from the root keys" in capsys.readouterr().err
    assert not (tmp_path / "root" / "root-2.json").exists()
    missing = ["rotate-root", *where, "--new-timestamp-key", str(tmp_path / "nope.pem")]
    assert main(["registry", *missing]) == 2
    assert "cannot read" in capsys.readouterr().err
