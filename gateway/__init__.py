"""Shieldgate: an OpenAI-compatible LLM gateway with in-process guardrails."""

__version__ = "0.1.0"

__all__ = ["__version__"]
