"""Process settings, read once at start from `SHIELDGATE_*` environment variables and CLI flags."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything the process needs that is not in the YAML configuration file."""

    model_config = SettingsConfigDict(env_prefix="SHIELDGATE_", extra="forbid", frozen=True)

    config: Path | None = Field(default=None, description="Gateway YAML; None means the bundled one.")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "json"
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    redis_url: SecretStr | None = Field(
        default=None,
        description="redis://host:6379/0 shares verdicts across replicas; None keeps them in memory.",
    )
    cache_ttl_seconds: float = Field(default=3600.0, gt=0)
    cache_max_entries: int = Field(default=10_000, ge=1, description="In-process LRU size.")
    redis_timeout_ms: float = Field(
        default=50.0, gt=0, description="Per Redis call; slower counts as a miss."
    )
    policy_dir: Path | None = Field(
        default=None, description="Policy YAML directory; None means the bundled one."
    )
    policy_reload_seconds: float = Field(default=2.0, gt=0, description="How often policy files are checked.")
    redaction_hash_key: SecretStr | None = Field(
        default=None, description="Key of the 'hash' redaction operator; random per process when unset."
    )
    audit_path: Path | None = Field(
        default=None, description="Audit JSONL file, rotated by size; None: no file."
    )
    audit_stdout: bool = Field(default=True, description="Also write audit records to standard output.")
    audit_max_bytes: int = Field(
        default=64 * 1024 * 1024, gt=0, description="Rotate the audit file past this size."
    )
    audit_fail_closed: bool = Field(
        default=False, description="Refuse requests (503) while the audit sink fails."
    )
    admin_key: SecretStr | None = Field(
        default=None, description="Bearer key of the read-only audit page (/admin/audit); unset disables it."
    )
    shutdown_timeout_seconds: float = Field(
        default=30.0, gt=0, description="On SIGTERM, how long in-flight requests and streams may run on."
    )
    gc_freeze: bool = Field(
        default=True,
        description="Keep the objects start-up leaves out of the garbage collector's full passes "
        "(gc.freeze), which otherwise pause the process for a while every thousand or so requests.",
    )
    stream_hold: Literal["sentence", "tail"] = Field(
        default="sentence", description="Hold streamed text back to the sentence end, or only a short tail."
    )
    stream_tail_chars: int = Field(default=32, ge=8, le=1024, description="Held-back tail in 'tail' mode.")
    guardrails: bool = Field(default=True, description="False: no scanning or policies, a plain proxy.")
    guard: bool = Field(default=True, description="Load the safety guard model; False: no safety scores.")
    guard_during_call: bool = Field(
        default=False,
        description=(
            "Judge the prompt while the upstream call runs and drop the call if the verdict "
            "blocks (a blocked prompt may reach the upstream); only under policies whose guard "
            "rules at input all block."
        ),
    )
    guard_model: Path | None = Field(
        default=None,
        description="Guard model directory (guard.onnx, tokenizer.json, guard.json, the weights "
        "file guard.json names, and response.onnx for a response-apart guard); None: bundled.",
    )
    pii: bool = Field(
        default=False,
        description="Also run the PII model (a preview: see its model card); False: the recognizers alone.",
    )
    pii_model: Path | None = Field(
        default=None,
        description="PII model directory (pii.onnx, or labels.onnx and text.onnx; tokenizer.json, "
        "pii.json, and the weights file pii.json names); None: bundled.",
    )
    scanner_threads: int = Field(
        default=0, ge=0, description="onnxruntime threads per model; 0: one per core."
    )
    scanner_short_tokens: int = Field(
        default=64,
        ge=0,
        description="A model call on fewer tokens than this runs on one onnxruntime thread; 0: none.",
    )
    scanner_parallel: int = Field(
        default=0, ge=0, description="Texts of one batch scored side by side, per model; 0: one per core."
    )
    scanner_max_batch: int = Field(
        default=16, ge=1, description="Most texts handed to the model thread at once."
    )
    scanner_inline_chars: int = Field(
        default=256,
        ge=0,
        description="A lone text of at most this many characters (an answer's with its prompt's) is "
        "scored on the event loop, not handed to a model thread; 0: never.",
    )
