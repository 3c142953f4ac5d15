"""The sweep reads its settings before it trains anything."""

from __future__ import annotations

import pytest

from gateway.training.guard_sweep import parse_config


def test_settings_override_the_defaults() -> None:
    config = parse_config("epochs=8,lr=2e-4,seed=3")
    assert config == {"layers": "4", "epochs": 8, "lr": 2e-4, "batch_size": 32, "seed": 3}


def test_layers_take_a_count_or_a_list_of_indices() -> None:
    assert parse_config("layers=4")["layers"] == "4"
    assert parse_config("epochs=6,layers=0,2,4,5")["layers"] == "0,2,4,5"


@pytest.mark.parametrize(
    ("text", "message"),
    [("epoch=3", "unknown setting 'epoch'"), ("epochs=3,4", "cannot read '4'")],
)
def test_a_mistyped_setting_is_named(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_config(text)


def test_a_non_number_is_refused() -> None:
    with pytest.raises(ValueError, match="epochs takes a number, not 'many'"):
        parse_config("epochs=many")
