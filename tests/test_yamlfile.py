"""YAML files validated into pydantic models, with errors that point at the line."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from gateway.yamlfile import ConfigError, load_yaml_model, parse_yaml_model


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    items: list[Inner] = []


def test_valid_yaml_becomes_the_model() -> None:
    """A valid document is returned as the model."""
    parsed = parse_yaml_model("name: a\nitems:\n  - size: 3\n", Outer, source="x.yaml")
    assert parsed == Outer(name="a", items=[Inner(size=3)])


def test_bad_value_names_file_line_and_field() -> None:
    """A wrong type is reported with the file, its line and the dotted field path."""
    text = "name: a\nitems:\n  - size: 3\n  - size: big\n"
    with pytest.raises(ConfigError) as error:
        parse_yaml_model(text, Outer, source="x.yaml")
    assert error.value.path == "x.yaml"
    assert error.value.problems[0].startswith("line 4, field 'items.1.size':")


def test_unknown_key_is_reported_on_its_line() -> None:
    """An unexpected key is named with the line it is on."""
    with pytest.raises(ConfigError) as error:
        parse_yaml_model("name: a\ncolour: red\n", Outer, source="x.yaml")
    assert error.value.problems == ["line 2, field 'colour': Extra inputs are not permitted"]


def test_yaml_syntax_error_has_a_line() -> None:
    """Broken YAML is a ConfigError with the line of the problem."""
    with pytest.raises(ConfigError, match="line 2"):
        parse_yaml_model("name: a\n  - : [\n", Outer, source="x.yaml")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A file that cannot be read is reported as such."""
    with pytest.raises(ConfigError, match="cannot read file"):
        load_yaml_model(tmp_path / "absent.yaml", Outer)
