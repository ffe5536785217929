"""The config's YAML reader: keys are the text written, a repeated key is an error."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.config.yaml_text import load_yaml
from connector.errors import ConfigError

# Plain scalars that YAML 1.1 (PyYAML) turns into something other than the text.
SPECIAL = ["on", "off", "yes", "no", "On", "NO", "true", "False", "null", "~", "1", "0x1F", "0o17", "017", "1.5",
           "1_000", ".inf", "-.inf", ".nan", "2001-12-14", "1:20", "=", "<<x", "y", "n"]  # fmt: skip


@pytest.mark.parametrize("key", SPECIAL)
def test_a_plain_key_is_the_text_written(key: str) -> None:
    assert load_yaml(f"{key}: 1\n") == {key: 1}


def test_column_names_that_yaml_1_1_reads_as_booleans() -> None:
    text = "columns:\n  on: value.on\n  off: value.off\n  yes: value.yes\n  no: value.no\n"
    assert list(load_yaml(text)["columns"]) == ["on", "off", "yes", "no"]
    assert list(yaml.safe_load(text)["columns"]) == [True, False]  # what safe_load made of it


def test_values_keep_yaml_types() -> None:
    assert load_yaml("a: [on, 1, 1.5, null, text, '1']\n") == {"a": [True, 1, 1.5, None, "text", "1"]}


def test_a_repeated_key_is_an_error_with_its_path_and_lines() -> None:
    text = textwrap.dedent(
        """\
        mappings:
          - topic: a
            columns:
              id: value.id
              name: value.name
              id: value.other
          - topic: b
            topic: c
        """
    )
    with pytest.raises(ConfigError) as info:
        load_yaml(text, "conf.yaml")
    assert info.value.problems == [
        "conf.yaml:6: mappings[0].columns.id: key given twice (first at line 4)",
        "conf.yaml:8: mappings[1].topic: key given twice (first at line 7)",
    ]


def test_keys_that_differ_as_text_are_not_repeats() -> None:
    # safe_load would fold these to True twice and keep one.
    assert load_yaml("on: 1\nyes: 2\ntrue: 3\n") == {"on": 1, "yes": 2, "true": 3}


def test_merge_keys_work_as_in_pyyaml() -> None:
    text = "base: &b {x: 1, y: 2}\nc:\n  z: 0\n  <<: *b\n  y: 3\nd:\n  <<: [{p: 1}, {p: 2, q: 2}]\n"
    loaded = load_yaml(text)
    assert loaded == yaml.safe_load(text)
    assert list(loaded["c"]) == list(yaml.safe_load(text)["c"])


def test_a_list_or_mapping_as_key_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml("a:\n  ? [x, y]\n  : 1\n", "c.yaml")
    assert info.value.problems == ["c.yaml:2: a: a key must be plain text, not a list or mapping"]


def test_syntax_errors_name_line_and_column() -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml("kafka:\n  bootstrap.servers: [unclosed\n", "c.yaml")
    assert info.value.problems[0].startswith("c.yaml:3:") and "not valid YAML" in info.value.problems[0]


def test_aliases_are_shared_not_expanded() -> None:
    # A "billion laughs" document stays small.
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    loaded = load_yaml("\n".join(lines) + "\n")
    assert loaded["a8"][0] is loaded["a7"]


def test_an_empty_document_is_none() -> None:
    assert load_yaml("") is None
    assert load_yaml("# only a comment\n") is None


keys = st.text(alphabet="abcdefghij_.", min_size=1, max_size=8).filter(lambda k: k not in ("y", "n"))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10), st.floats(allow_nan=False))
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None)
@given(tree=st.dictionaries(keys, trees, max_size=4))
def test_same_tree_as_safe_load_when_keys_are_ordinary(tree: dict[str, Any]) -> None:
    for style in (False, True, None):
        text = yaml.safe_dump(tree, default_flow_style=style)
        assert load_yaml(text) == yaml.safe_load(text)
