"""The file sink rotates by size without losing or splitting a record."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.audit import FileSink, audit_files


def test_rotation_keeps_every_line_whole_and_in_order(tmp_path: Path) -> None:
    """Past the size limit a new file begins; all files together hold every line once, in order."""
    path = tmp_path / "audit.jsonl"
    sink = FileSink(path, max_bytes=300)
    lines = [json.dumps({"type": "audit", "seq": i, "pad": "x" * 40}) for i in range(40)]
    for start in range(0, 40, 3):
        sink.write(lines[start : start + 3])
    sink.close()

    files = audit_files(path)
    assert len(files) > 5
    assert files[-1] == path
    read_back = [line for f in files for line in f.read_text().splitlines()]
    assert read_back == lines
    assert all(f.stat().st_size <= 300 for f in files)


def test_last_line_spans_rotated_files(tmp_path: Path) -> None:
    """The newest record is found even when the current file is still empty."""
    path = tmp_path / "audit.jsonl"
    sink = FileSink(path, max_bytes=50)
    sink.write(['{"seq": 1}', '{"seq": 2}'])
    sink.close()
    assert sink.last_line() == '{"seq": 2}'
