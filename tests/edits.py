"""Editing files the way editors and ConfigMap updates do: write aside, then rename."""

from __future__ import annotations

import os
from pathlib import Path


def replace_file(path: Path, text: str) -> None:
    """Give `path` the new `text` in one step, so a reader never sees it half written."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
