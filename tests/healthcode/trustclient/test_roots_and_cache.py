"""TrustListClient's roots and its disk cache: rotation, pinned root, atomic writes."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from healthcode import ErrorCode, SigningKey, TrustListError, TrustUnavailable
from healthcode.trustclient import TRUST_LIST_FILE, TrustListClient, write_atomic
from tests.healthcode.trustclient.clock import Clock
from tests.servers import AppServer
from tests.simulators import TrustRegistrySimulator


def test_client_follows_root_rotation_and_persists_it(
    make_client: Callable[..., TrustListClient],
    registry: TrustRegistrySimulator,
    tmp_path: Path,
) -> None:
    client = make_client()
    assert client.refresh()
    registry.rotate_root([SigningKey.generate() for _ in range(3)], 2)
    registry.rotate_root([SigningKey.generate() for _ in range(3)], 2)
    registry.publish()
    assert client.refresh()
    assert (client.root.version, client.current().version) == (3, 2)
    assert registry.count("/v1/root/2", 200) == registry.count("/v1/root/3", 200) == 1
    # Each refresh probed for the next root until 404 (§7.6 step 1, TUF 5.3).
    assert registry.count("/v1/root/2", 404) == registry.count("/v1/root/4", 404) == 1
    assert sorted(os.listdir(tmp_path / "cache" / "roots")) == ["2.json", "3.json"]

    restarted = make_client()  # pinned root 1 + cached roots 2, 3 + list signed by root 3
    assert (restarted.root.version, restarted.current().version) == (3, 2)


def test_client_refuses_root_signed_by_new_keys_only(
    make_client: Callable[..., TrustListClient], registry: TrustRegistrySimulator
) -> None:
    client = make_client()
    assert client.refresh()
    takeover = [SigningKey.generate() for _ in range(2)]
    registry.rotate_root(takeover, 2, signers=takeover)
    registry.publish()
    with pytest.raises(TrustListError) as excinfo:
        client.refresh()
    assert excinfo.value.code is ErrorCode.TRUST_LIST_THRESHOLD
    assert (client.root.version, client.current().version) == (1, 1)


def test_persistence_is_atomic_when_write_fails(
    make_client: Callable[..., TrustListClient],
    registry: TrustRegistrySimulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = make_client()
    assert client.refresh()
    cache = tmp_path / "cache"
    on_disk = (cache / TRUST_LIST_FILE).read_bytes()
    assert on_disk == registry.lists[1]  # the exact signed bytes

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    # The rename never happens (crash or full disk): the old file must be whole.
    monkeypatch.setattr("healthcode.trustclient.os.replace", crash)
    registry.publish()
    assert client.refresh()  # taken in memory: it may carry a key revocation
    assert client.current().version == 2
    monkeypatch.undo()
    assert (cache / TRUST_LIST_FILE).read_bytes() == on_disk
    assert [name for name in os.listdir(cache) if name.endswith(".tmp")] == []
    assert make_client().current().version == 1  # a restart starts from the last good file


def test_write_atomic_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "file.json"
    write_atomic(target, b"old")
    write_atomic(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert os.listdir(target.parent) == ["file.json"]


def test_tampered_cache_file_is_not_trusted(
    make_client: Callable[..., TrustListClient], tmp_path: Path
) -> None:
    assert make_client().refresh()
    path = tmp_path / "cache" / TRUST_LIST_FILE
    document = json.loads(path.read_bytes())
    document["signatures"] = document["signatures"][:1]  # below threshold
    path.write_text(json.dumps(document))

    restarted = make_client()
    with pytest.raises(TrustUnavailable):
        restarted.current()
    assert restarted.status()["last_error"]["code"] == "trust_list_threshold"
    assert restarted.refresh()  # the registry's copy is fine and replaces it
    assert restarted.current().version == 1


def test_pinned_root_file_loaded_and_damaged_one_refused(
    registry: TrustRegistrySimulator, server: AppServer, tmp_path: Path, clock: Clock
) -> None:
    pinned = tmp_path / "root.json"
    pinned.write_bytes(registry.roots[1])
    with TrustListClient(server.url, pinned, tmp_path / "cache", clock=clock) as client:
        assert client.refresh()
        assert client.root.version == 1

    document = json.loads(registry.roots[1])
    document["signatures"] = document["signatures"][:1]  # root 1 has threshold 2
    pinned.write_text(json.dumps(document))
    with pytest.raises(TrustListError) as excinfo:
        TrustListClient(server.url, pinned, tmp_path / "cache", clock=clock)
    assert excinfo.value.code is ErrorCode.TRUST_LIST_THRESHOLD
