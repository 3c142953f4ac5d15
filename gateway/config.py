"""The gateway's YAML configuration: model aliases, their deployments, and client keys."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.yamlfile import load_yaml_model

__all__ = ["ApiKeyEntry", "Deployment", "GatewayConfig", "ModelAlias", "load_config"]

_ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Deployment(_Strict):
    """One upstream model reached through litellm."""

    model: str = Field(description="litellm model name, for example 'openai/gpt-4o-mini'.")
    api_base: str | None = None
    api_key_env: str | None = Field(
        default=None, description="Name of the environment variable holding the provider key."
    )
    timeout: float | None = Field(default=None, gt=0, description="Seconds; overrides upstream.timeout.")

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError("must be the name of an environment variable, not a key")
        return value


class ModelAlias(_Strict):
    """A model name clients ask for; its deployments are tried in order (fallbacks)."""

    deployments: list[Deployment] = Field(min_length=1)
    description: str = ""


class ApiKeyEntry(_Strict):
    """A client (virtual) key, stored only as its SHA-256 hex digest."""

    id: str = Field(min_length=1, max_length=64)
    tenant: str = Field(min_length=1, max_length=64)
    sha256: str
    rpm: int | None = Field(default=None, ge=1, description="Requests per minute; none: unlimited.")
    tpm: int | None = Field(default=None, ge=1, description="Tokens per minute (prompt + completion).")

    @field_validator("sha256")
    @classmethod
    def _digest(cls, value: str) -> str:
        if not _SHA256.match(value):
            raise ValueError("must be 64 lowercase hex characters (use 'shieldgate keys new')")
        return value


class AuthConfig(_Strict):
    """Whether requests without a known key are served (only sensible on loopback)."""

    required: bool = True


class UpstreamConfig(_Strict):
    """Defaults for every upstream call."""

    timeout: float = Field(default=60.0, gt=0, description="Seconds per upstream attempt.")
    num_retries: int = Field(default=0, ge=0, le=5, description="Retries per deployment before falling back.")


class GatewayConfig(_Strict):
    """The whole configuration file."""

    models: dict[str, ModelAlias] = Field(min_length=1)
    keys: list[ApiKeyEntry] = Field(default_factory=list)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    upstream: UpstreamConfig = Field(default_factory=UpstreamConfig)

    @field_validator("models")
    @classmethod
    def _alias_names(cls, value: dict[str, ModelAlias]) -> dict[str, ModelAlias]:
        for name in value:
            if not _ALIAS.match(name):
                raise ValueError(f"alias {name!r} must be 1-64 letters, digits or ._:/-")
        return value

    @model_validator(mode="after")
    def _unique_keys(self) -> GatewayConfig:
        ids = [key.id for key in self.keys]
        duplicates = sorted({key_id for key_id in ids if ids.count(key_id) > 1})
        if duplicates:
            raise ValueError(f"key ids must be unique, repeated: {', '.join(duplicates)}")
        if self.auth.required and not self.keys:
            raise ValueError("auth.required is true but no keys are configured")
        return self


def default_config_path() -> Path:
    """The configuration bundled with the package."""
    return Path(str(resources.files("gateway") / "defaults" / "gateway.yaml"))


def load_config(path: Path | None) -> GatewayConfig:
    """Load `path`, or the bundled defaults when it is None."""
    return load_yaml_model(path or default_config_path(), GatewayConfig)
