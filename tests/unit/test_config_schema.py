"""config/schema.json: generated from the model, equal to what is committed, in step with the
validator; and every example in config/ passes both the validator and the schema."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from connector.config import ConfigError, parse_config
from connector.config.schema import config_schema, render
from connector.config.yaml_text import load_yaml

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "config").glob("*.yaml"))
#: What the examples' ${VAR}s without a default are set to in a deployment.
ENV = {
    "KAFKA_BOOTSTRAP": "kafka-1:9092,kafka-2:9092",
    "KAFKA_USER": "connector",
    "KAFKA_PASSWORD": "kafka-secret",
    "PROTON_PASSWORD": "proton-secret",
    "TIMEPLUS_USER": "connector",
    "TIMEPLUS_PASSWORD": "timeplus-secret",
    "TIMEPLUS_WORKSPACE": "ws-1a2b3c",
    "TIMEPLUS_API_KEY": "key-0123456789",
}
BASE: dict[str, Any] = {
    "kafka": {"bootstrap.servers": "k:9092"},
    "timeplus": {"url": "http://t:3218"},
    "mappings": [{"topic": "orders", "stream": "orders", "columns": {"id": "value.id"}}],
}


def validator() -> jsonschema.Draft7Validator:
    schema = config_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_the_committed_schema_is_the_generated_one() -> None:
    committed = (ROOT / "config" / "schema.json").read_text()
    assert committed == render(), "regenerate: python -m connector.config.schema > config/schema.json"


def test_there_are_examples_for_each_deployment() -> None:
    names = {path.stem for path in EXAMPLES}
    assert {"minimal", "demo", "proton-auth", "enterprise", "cloud", "kafka-sasl-ssl", "fan-out-dlq"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_each_example_passes_the_validator_and_the_schema(path: Path) -> None:
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=./schema.json\n"), "editors find the schema by it"
    config = parse_config(text, env=ENV, source=str(path))
    assert config.mappings
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(load_yaml(text, str(path)))]
    assert errors == []


def test_the_examples_say_which_product_they_reach() -> None:
    def load(name: str) -> Any:
        return parse_config((ROOT / "config" / f"{name}.yaml").read_text(), env=ENV)

    assert load("enterprise").timeplus.workspace == "default"
    assert load("enterprise").timeplus.username == "connector"
    cloud = load("cloud").timeplus
    assert cloud.url.startswith("https://") and cloud.workspace == "ws-1a2b3c" and cloud.api_key
    assert load("proton-auth").timeplus.password is not None
    assert load("kafka-sasl-ssl").kafka["security.protocol"] == "SASL_SSL"
    fan_out = load("fan-out-dlq")
    assert [m.stream for m in fan_out.mappings if m.matches("orders.eu")] == ["orders", "order_lines"]
    assert {m.on_error for m in fan_out.mappings} == {"dlq", "skip"}


def test_every_setting_is_described() -> None:
    schema = config_schema()
    sections = [schema, *(d for d in schema["definitions"].values() if "properties" in d)]
    undocumented = [name for section in sections for name, prop in section["properties"].items()
                    if not prop.get("description")]  # fmt: skip
    assert undocumented == []


def problems(document: dict[str, Any]) -> list[str]:
    try:
        parse_config(orjson.dumps(document).decode(), env={})
    except ConfigError as exc:
        return exc.problems
    return []


def expected_keys(document: dict[str, Any], path: str) -> set[str]:
    """The keys the validator lists for an unknown key at ``path``."""
    found = [p for p in problems(document) if p.startswith(f"{path}: unknown key")]
    assert len(found) == 1, problems(document)
    listed = re.search(r"expected one of: (.*)\)$", found[0])
    assert listed is not None
    return set(listed.group(1).split(", "))


@pytest.mark.parametrize(
    ("where", "definition", "path"),
    [
        ((), None, "bogus"),
        (("timeplus",), "TimeplusConfig", "timeplus.bogus"),
        (("batch",), "BatchConfig", "batch.bogus"),
        (("http",), "HttpConfig", "http.bogus"),
        (("mappings", 0), "MappingConfig", "mappings[0].bogus"),
    ],
)
def test_the_schema_knows_the_keys_the_validator_knows(
    where: tuple[str | int, ...], definition: str | None, path: str
) -> None:
    document = copy.deepcopy(BASE)
    section: Any = document
    for step in where:
        section = section.setdefault(step, {}) if isinstance(step, str) else section[step]
    section["bogus"] = 1
    schema = config_schema()
    properties = (schema["definitions"][definition] if definition else schema)["properties"]
    assert expected_keys(document, path) == set(properties)
    assert not validator().is_valid(document)


def test_the_schema_knows_a_columns_keys() -> None:
    document = copy.deepcopy(BASE)
    document["mappings"][0]["columns"]["id"] = {"from": "value.id", "bogus": 1}
    column = config_schema()["definitions"]["Column"]["anyOf"][1]
    assert expected_keys(document, "mappings[0].columns.id.bogus") == set(column["properties"])
    assert not validator().is_valid(document)


def bounded() -> list[tuple[tuple[str, ...], float]]:
    """(path to a setting, its minimum) for every setting the schema bounds from below."""
    schema = config_schema()
    found: list[tuple[tuple[str, ...], float]] = []
    named = {"timeplus": "TimeplusConfig", "batch": "BatchConfig", "http": "HttpConfig"}
    sections: dict[tuple[str, ...], Any] = {
        (): schema,
        **{(name,): schema["definitions"][d] for name, d in named.items()},
    }
    for prefix, section in sections.items():
        for name, prop in section["properties"].items():
            for option in prop.get("anyOf", []):
                if "minimum" in option:
                    found.append(((*prefix, name), option["minimum"]))
    return found


@pytest.mark.parametrize(("path", "minimum"), bounded(), ids=lambda v: ".".join(v) if isinstance(v, tuple) else "")
def test_the_schemas_bounds_are_the_validators(path: tuple[str, ...], minimum: float) -> None:
    def with_value(value: float) -> dict[str, Any]:
        document = copy.deepcopy(BASE)
        section: Any = document
        for step in path[:-1]:
            section = section.setdefault(step, {})
        section[path[-1]] = value
        return document

    at_minimum = with_value(minimum)
    assert problems(at_minimum) == [] and validator().is_valid(at_minimum)
    below = with_value(minimum - (1 if float(minimum).is_integer() else minimum / 2))
    assert [p for p in problems(below) if p.startswith(".".join(path) + ":")]
    assert not validator().is_valid(below)
