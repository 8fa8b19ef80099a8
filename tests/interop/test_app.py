"""The registry app factory: demo mode creates a root, production refuses demo secrets."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from healthcode.trustlist import load_root
from interop.app import create_app
from interop.settings import InteropSettings
from tests.servers import serve


def test_demo_mode_creates_a_root_on_first_start(tmp_path: Path) -> None:
    settings = InteropSettings(
        demo_mode=True,
        database_url=f"sqlite:///{tmp_path / 'r.db'}",
        root_keys_dir=tmp_path / "root",
    )
    with serve(create_app(settings)) as server:
        root = httpx.get(f"{server.url}/v1/root/1").json()
        assert httpx.get(f"{server.url}/v1/trust-list").status_code == 404
    assert load_root(root).threshold == 2
    assert (tmp_path / "root" / "root-1.json").exists()


def test_demo_admin_token_is_refused_outside_demo_mode(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="admin_token"):
        InteropSettings(token_secret="real-token-secret-0123456789")
