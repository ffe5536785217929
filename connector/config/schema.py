"""The config file's JSON Schema, generated from the model: ``python -m connector.config.schema``.

Editors that read JSON Schema (the YAML language server: ``# yaml-language-server:
$schema=./schema.json``) complete and check a config with it. Each section's keys, types
and defaults come from the ``connector.config.model`` dataclasses and each description from
the docstring written under the field; what the YAML writes differently from the model (a
column's recipe, ``topic``, sizes such as ``4MiB``, ``${VAR}`` in place of a number) and the
validator's bounds are said here. The validator stays the authority: the schema is an aid,
and ``tests/unit/test_config_schema.py`` keeps the two in step and ``config/schema.json``
equal to this module's output.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import json
import sys
import types
import typing
from typing import Any, Final

from connector.config import model
from connector.config.model import (
    FORMATS,
    MAX_IN_FLIGHT,
    ON_ERROR,
    BatchConfig,
    Config,
    HttpConfig,
    MappingConfig,
    SchemaRegistryConfig,
    TimeplusConfig,
)
from connector.types import EPOCH_UNITS

#: A string holding ``${...}``: its type is known only once the environment fills it in.
_VARIABLE: Final = {"type": "string", "pattern": r"\$\{"}
_SIZE: Final = {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*([KMGkmg][Ii]?[Bb]|[Bb])?\s*$"}
#: Fields the YAML never sets.
_INTERNAL: Final = {"where"}
#: Model fields read as byte sizes (a number or text such as ``4MiB``).
_SIZES: Final = {(BatchConfig, "max_bytes"), (Config, "max_message_bytes"), (Config, "max_buffered_bytes")}
#: The validator's bounds (connector.config.validate), which the model does not carry.
_BOUNDS: Final[dict[tuple[type, str], dict[str, float]]] = {
    (TimeplusConfig, "timeout_s"): {"minimum": 0.1},
    (TimeplusConfig, "connect_timeout_s"): {"minimum": 0.1},
    (TimeplusConfig, "max_in_flight"): {"minimum": 1, "maximum": MAX_IN_FLIGHT},
    (TimeplusConfig, "max_retries"): {"minimum": 1},
    (TimeplusConfig, "retry_backoff_s"): {"minimum": 0.001},
    (TimeplusConfig, "retry_backoff_max_s"): {"minimum": 0.001},
    (BatchConfig, "max_rows"): {"minimum": 1},
    (BatchConfig, "linger_ms"): {"minimum": 0},
    (HttpConfig, "readiness_grace_s"): {"minimum": 0},
    (Config, "drain_timeout_s"): {"minimum": 0},
    (SchemaRegistryConfig, "timeout_s"): {"minimum": 0.1},
    (SchemaRegistryConfig, "retry_backoff_s"): {"minimum": 0.001},
    (SchemaRegistryConfig, "retry_backoff_max_s"): {"minimum": 0.001},
}
_CHOICES: Final[dict[tuple[type, str], tuple[str, ...]]] = {
    (MappingConfig, "format"): FORMATS,
    (MappingConfig, "on_error"): ON_ERROR,
}
_REQUIRED: Final = {
    Config: ["kafka", "timeplus", "mappings"],
    TimeplusConfig: ["url"],
    MappingConfig: ["stream"],
    SchemaRegistryConfig: ["url"],
}
_SOURCE_PATTERN: Final = r"^(value(\.[^.]+)*|key|headers\..+|topic|partition|offset|timestamp)$"


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a model dataclass, on one line."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body if isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for field, doc in itertools.pairwise(body):
        if (
            isinstance(field, ast.AnnAssign)
            and isinstance(field.target, ast.Name)
            and isinstance(doc, ast.Expr)
            and isinstance(doc.value, ast.Constant)
            and isinstance(doc.value.value, str)
        ):
            docs[field.target.id] = " ".join(inspect.cleandoc(doc.value.value).split()).replace("``", "`")
    return docs


def _either(*options: dict[str, Any]) -> dict[str, Any]:
    return options[0] if len(options) == 1 else {"anyOf": list(options)}


def _value(cls: type, name: str, hint: Any) -> dict[str, Any]:
    """The schema of one field's YAML value, from its type in the model."""
    args = typing.get_args(hint)
    optional = type(None) in args and isinstance(hint, types.UnionType)
    if optional:
        (hint,) = [a for a in args if a is not type(None)]
    null = [{"type": "null"}] if optional else []
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return {"$ref": f"#/definitions/{hint.__name__}"}
    if (cls, name) in _SIZES:
        return _either({"type": "integer", "minimum": 1}, _SIZE, _VARIABLE)
    if (cls, name) in _CHOICES:
        return _either({"enum": list(_CHOICES[cls, name])}, _VARIABLE)
    bounds = _BOUNDS.get((cls, name), {})
    if hint is bool:
        return _either({"type": "boolean"}, {"enum": ["true", "false"]}, _VARIABLE)
    if hint is int:
        return _either({"type": "integer", **bounds}, _VARIABLE, *null)
    if hint is float:
        return _either({"type": "number", **bounds}, _VARIABLE, *null)
    if hint is str or hint is model.Secret:
        return _either({"type": "string"}, *null)
    if typing.get_origin(hint) is typing.Literal:
        return _either({"enum": list(typing.get_args(hint))}, _VARIABLE, *null)
    raise TypeError(f"{cls.__name__}.{name}: no schema for {hint!r}")


def _section(cls: type) -> dict[str, Any]:
    """A model dataclass as an object schema: its fields, their docs and defaults."""
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if field.name in _INTERNAL:
            continue
        schema = {"description": docs.get(field.name, ""), **_SPECIAL.get((cls, field.name), {})}
        if "anyOf" not in schema and "type" not in schema and "$ref" not in schema:
            schema.update(_value(cls, field.name, hints[field.name]))
        default = field.default
        if default is not dataclasses.MISSING and default is not None and isinstance(default, bool | int | float | str):
            schema["default"] = default
        properties[field.name] = schema
    section: dict[str, Any] = {
        "type": "object",
        "description": " ".join(inspect.cleandoc(cls.__doc__ or "").split()).replace("``", "`"),
        "properties": properties,
        "additionalProperties": False,
    }
    if cls in _REQUIRED:
        section["required"] = _REQUIRED[cls]
    return section


# What the YAML writes differently from the model.
_SPECIAL: Final[dict[tuple[type, str], dict[str, Any]]] = {
    (Config, "kafka"): {
        "type": "object",
        "description": "librdkafka consumer properties, passed through (sasl.password and the like may be "
        "${VAR}); enable.auto.commit and enable.auto.offset.store are the connector's.",
        "properties": {"bootstrap.servers": {"type": "string"}, "group.id": {"type": "string"}},
        "required": ["bootstrap.servers"],
        "additionalProperties": {"type": ["string", "number", "boolean"]},
    },
    (Config, "mappings"): {"type": "array", "minItems": 1, "items": {"$ref": "#/definitions/MappingConfig"}},
    (MappingConfig, "topics"): {"type": "array", "minItems": 1, "items": {"type": "string"}},
    (MappingConfig, "columns"): {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": {"$ref": "#/definitions/Column"},
    },
}

_COLUMN: Final = {
    "description": "Where a column's value comes from: a source such as value.id (short for {from: value.id}), "
    "or a mapping with from (a source) or value (a constant), and optionally type, default and unit.",
    "anyOf": [
        _either({"type": "string", "pattern": _SOURCE_PATTERN}, _VARIABLE),
        {
            "type": "object",
            "properties": {
                "from": {
                    "description": "value[.path] (digits index lists), key, headers.<name>, topic, partition, "
                    "offset or timestamp.",
                    **_either({"type": "string", "pattern": _SOURCE_PATTERN}, _VARIABLE),
                },
                "value": {"description": "A constant, converted to the column's type."},
                "type": {
                    "type": "string",
                    "description": "The Timeplus type, e.g. int64, float64, 'decimal(10, 2)', 'array(string)', "
                    "'datetime64(3)', 'nullable(string)'; left out, the value passes as it is.",
                },
                "default": {"description": "Used when the source is absent (else a data error, or null if nullable)."},
                "unit": {
                    "description": "The epoch unit of a number read into a date/time column.",
                    **_either({"enum": list(EPOCH_UNITS)}, _VARIABLE),
                },
            },
            "additionalProperties": False,
            "oneOf": [{"required": ["from"]}, {"required": ["value"]}],
        },
    ],
}


def config_schema() -> dict[str, Any]:
    """The JSON Schema (draft-07, which editors read best) of a config file."""
    mapping = _section(MappingConfig)
    mapping["properties"] = {
        "topic": {"type": "string", "description": "One topic read by name."},
        **mapping["properties"],
    }
    mapping["anyOf"] = [{"required": ["topic"]}, {"required": ["topics"]}, {"required": ["topic_pattern"]}]
    root = _section(Config)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "kafka-timeplus config",
        **root,
        "definitions": {
            "TimeplusConfig": _section(TimeplusConfig),
            "BatchConfig": _section(BatchConfig),
            "HttpConfig": _section(HttpConfig),
            "SchemaRegistryConfig": _section(SchemaRegistryConfig),
            "MappingConfig": mapping,
            "Column": _COLUMN,
        },
    }


def render() -> str:
    """The schema as ``config/schema.json`` holds it."""
    return json.dumps(config_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
