"""Process settings: read from SHIELDGATE_* variables, and every one documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme(name: str) -> None:
    """Each setting's environment variable appears in the README."""
    assert f"SHIELDGATE_{name.upper()}" in README


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """SHIELDGATE_* variables set the fields; secrets stay hidden in reprs."""
    monkeypatch.setenv("SHIELDGATE_PORT", "9999")
    monkeypatch.setenv("SHIELDGATE_ADMIN_KEY", "very-secret")
    settings = Settings()
    assert settings.port == 9999
    assert "very-secret" not in repr(settings)


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """An impossible value is an error at start, not a surprise later."""
    monkeypatch.setenv("SHIELDGATE_STREAM_HOLD", "paragraph")
    with pytest.raises(ValidationError):
        Settings()
