"""The read-only audit page: its API behind the admin key, and the page itself in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from gateway.app import create_app
from gateway.audit import AuditLog, FileSink
from gateway.settings import Settings
from tests.audit.test_review import RECORDS
from tests.server import serve_in_thread

ADMIN_KEY = "admin-test-key"


@pytest.fixture
def admin_url(config_path: Path, tmp_path: Path) -> Iterator[str]:
    audit_path = tmp_path / "audit.jsonl"
    writer = AuditLog([FileSink(audit_path, 10**6)], CollectorRegistry())
    writer.start()
    for record in RECORDS:
        writer.submit(record)
    writer.stop()
    settings = Settings(
        config=config_path, audit_path=audit_path, audit_stdout=False, admin_key=SecretStr(ADMIN_KEY)
    )
    with serve_in_thread(create_app(settings)) as url:
        yield url


def test_api_needs_the_admin_key(admin_url: str) -> None:
    """Without the admin key the records are not served; a client key is not enough."""
    assert httpx.get(f"{admin_url}/admin/api/audit").status_code == 401
    wrong = httpx.get(f"{admin_url}/admin/api/audit", headers={"Authorization": "Bearer sg-test-client-key"})
    assert wrong.status_code == 401


def test_api_filters_and_buckets(admin_url: str) -> None:
    """Filters select records, newest first, and the timeline counts actions per bucket."""
    response = httpx.get(
        f"{admin_url}/admin/api/audit",
        params={"action": "block", "bucket": "day"},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    body = response.json()
    assert body["matched"] == 2
    assert [r["request_id"] for r in body["records"]] == ["r5", "r1"]
    assert body["timeline"][0]["counts"] == {"block": 2}


def test_page_is_off_without_admin_key(settings: Settings) -> None:
    """With no admin key configured the page answers 404."""
    with serve_in_thread(create_app(settings)) as url:
        assert httpx.get(f"{url}/admin/audit").status_code == 404


def test_page_lists_and_charts_records_in_chromium(admin_url: str, tmp_path: Path) -> None:
    """Headless Chromium loads the page, which fetches with the key from the fragment and renders."""
    chromium = shutil.which("chromium")
    assert chromium is not None, "chromium is not installed (apt-get install chromium)"
    url = f"{admin_url}/admin/audit#key={ADMIN_KEY}&tenant=acme"
    dom = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout

    assert re.findall(r'<tr data-request-id="(\w+)"', dom) == ["r5", "r3", "r1"]
    assert "3 matching records" in dom
    assert 'class="bar bar-block"' in dom
    assert 'class="bar bar-redact"' in dom
    assert "refuse-severe-harm" in dom
