"""Personal data detection: deterministic recognizers for structured identifiers."""

from gateway.pii.patterns import PATTERNS, Pattern, find_spans, pattern_scan

__all__ = ["PATTERNS", "Pattern", "find_spans", "pattern_scan"]
