"""Hot reload: valid edits are swapped in, invalid ones rejected while the last good set serves."""

from __future__ import annotations

from pathlib import Path

import structlog
from structlog.testing import capture_logs

from gateway.policy import PolicyStore

GOOD = "rules:\n  - {id: a, action: allow}\n"
BETTER = "rules:\n  - {id: b, when: {tokens_below: 10}, action: route, route: {model: small}}\n"


def test_valid_edit_is_reloaded(tmp_path: Path) -> None:
    """A changed, valid file replaces the serving set and is logged with its version."""
    (tmp_path / "default.yaml").write_text(GOOD)
    store = PolicyStore(tmp_path, aliases=["small"])
    old = store.current.versions["default"]

    assert not store.reload_if_changed()  # nothing changed
    (tmp_path / "default.yaml").write_text(BETTER)
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        assert store.reload_if_changed()

    assert [rule.id for rule in store.current.for_tenant("x").rules] == ["b"]
    assert logs[0]["event"] == "policy.reloaded"
    assert logs[0]["versions"]["default"] != old
    assert store.reloads == 1


def test_invalid_edit_keeps_the_last_good_policy(tmp_path: Path) -> None:
    """A broken edit is rejected and logged with where it is wrong; the old set keeps serving."""
    (tmp_path / "default.yaml").write_text(GOOD)
    store = PolicyStore(tmp_path)
    serving = store.current

    (tmp_path / "default.yaml").write_text("rules:\n  - {id: a, action: nuke}\n")
    with capture_logs() as logs:
        assert not store.reload_if_changed()
        assert not store.reload_if_changed()  # the same broken content is reported once

    assert store.current is serving
    assert store.rejections == 1
    assert [entry["event"] for entry in logs] == ["policy.reload_rejected"]
    assert "line 2, field 'rules.0.action'" in logs[0]["problems"][0]
