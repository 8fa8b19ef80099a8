"""`federation up` supervision: a child that exits is reported, the others keep running."""

from __future__ import annotations

import shutil
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from federation import Child, Federation, FederationError
from federation import plan as planning
from federation.children import port_free
from federation.supervise import supervise


def _sleeper(name: str, tmp_path: Path) -> Child:
    return Child(name, [sys.executable, "-c", "import time; time.sleep(60)"], {}, tmp_path / name)


def test_a_child_exiting_does_not_stop_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry, province = _sleeper("registry", tmp_path), _sleeper("cn-sc", tmp_path)
    federation = Federation(tmp_path, registry, {"cn-sc": province}, None, None)
    for child in federation.children():
        child.start()
    stop = threading.Event()
    supervisor = threading.Thread(target=supervise, args=(federation, stop))
    supervisor.start()
    try:
        assert registry.process is not None
        registry.process.kill()
        time.sleep(2)
        assert province.running()
        assert supervisor.is_alive()
    finally:
        stop.set()
        supervisor.join(10)
        federation.stop()
    err = capsys.readouterr().err
    assert err.count("registry exited") == 1  # reported once, not every poll
    assert "the others keep running" in err


def test_port_of_a_just_stopped_service_counts_as_free() -> None:
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first: its end sits in TIME_WAIT
        client.close()
    assert port_free(port)


def test_no_redis_server_is_refused_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(FederationError, match="redis-server is not installed"):
        planning.plan(tmp_path / "demo")
