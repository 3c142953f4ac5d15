"""The gateway's configuration file: the bundled default and the checks on user files."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.yamlfile import ConfigError


def test_bundled_default_has_small_and_large() -> None:
    """The configuration shipped in the package loads and names the two standard aliases."""
    config = load_config(None)
    assert {"small", "large"} <= set(config.models)
    assert len(config.models["large"].deployments) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("models: {}\nauth: {required: false}\n", "field 'models'"),
        (
            "models:\n  small:\n    deployments:\n      - model: openai/x\n        api_key_env: sk-live-123\n"
            "auth: {required: false}\n",
            "line 5, field 'models.small.deployments.0.api_key_env'",
        ),
        ("models:\n  small:\n    deployments: [{model: openai/x}]\n", "auth.required is true but no keys"),
        (
            "models:\n  small:\n    deployments: [{model: openai/x}]\n"
            "keys:\n  - {id: a, tenant: t, sha256: "
            + "a" * 64
            + "}\n  - {id: a, tenant: u, sha256: "
            + "b" * 64
            + "}\n",
            "repeated: a",
        ),
        (
            "models:\n  small:\n    deployments: [{model: openai/x}]\n"
            "keys:\n  - {id: a, tenant: t, sha256: sg-plain}\n",
            "line 5, field 'keys.0.sha256'",
        ),
        (
            "models:\n  'bad alias!':\n    deployments: [{model: openai/x}]\nauth: {required: false}\n",
            "bad alias!",
        ),
    ],
)
def test_invalid_files_are_refused_with_a_reason(tmp_path: Path, text: str, expected: str) -> None:
    """Each mistake names where it is and what is wrong."""
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert expected in str(error.value)
    assert str(path) in str(error.value)
