"""Settings: one env prefix, demo secrets refused outside demo mode."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from issuers.settings import IssuerSettings


def test_settings_come_from_the_issuer_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HC_ISSUER_DEMO_MODE", "1")
    monkeypatch.setenv("HC_ISSUER_ISSUER_ID", "cn-gd")
    monkeypatch.setenv("HC_ISSUER_REGION", "440000")
    monkeypatch.setenv("HC_ISSUER_CODE_LIFETIME_S", "1800")
    settings = IssuerSettings()
    assert (settings.issuer_id, settings.region, settings.code_lifetime_s) == (
        "cn-gd",
        "440000",
        1800,
    )
    assert settings.offline_lifetime_s == 604800
    assert settings.resolved_rules_file().name == "rules-cn-gd.toml"


def test_demo_secrets_are_refused_outside_demo_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HC_ISSUER_DEMO_MODE", raising=False)
    with pytest.raises(ValidationError, match="demo value"):
        IssuerSettings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("region", "510100"),
        ("issuer_id", "https://x"),
        ("code_lifetime_s", "100000"),
        ("partner_sync_interval_s", "0"),
        ("session_purge_interval_s", "-1"),
    ],
)
def test_bad_settings_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv("HC_ISSUER_DEMO_MODE", "1")
    monkeypatch.setenv(f"HC_ISSUER_{name.upper()}", value)
    with pytest.raises(ValidationError, match=name):
        IssuerSettings()
