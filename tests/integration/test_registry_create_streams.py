"""``create-streams`` and ``check`` with column types from a real Schema Registry, then ``run`` into those streams.

Schemas are registered by confluent-kafka's own serializers against Apicurio Registry; the
mappings name no types; the CLI runs as users run it, into the Timeplus emulator.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import orjson
import requests
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

from sandbox.kafka_broker import KafkaBroker
from sandbox.schema_registry import SchemaRegistry
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.integration.test_cli_operate import cli
from tests.integration.test_schema_registry import (
    Serialized,
    avro_schema,
    order,
    produce_values,
    protobuf_classes,
    registry_client,  # noqa: F401 (a fixture)
    registry_extra,
)
from tests.support.services import ConnectorProcess, write_config

MESSAGES = 60
CUSTOMER = {"type": "object", "properties": {"name": {"$ref": "#/definitions/Name"}},
            "required": ["name"], "definitions": {"Name": {"type": "string"}}}  # fmt: skip
VISIT = {
    "type": "object",
    "required": ["id", "at", "customer"],
    "properties": {
        "id": {"type": "integer"},
        "at": {"type": "string", "format": "date-time"},
        "customer": {"$ref": "customer.json"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "score": {"type": ["number", "null"]},
    },
}


def stream_columns(emulator: TimeplusEmulator, stream: str) -> dict[str, str]:
    """A stream's columns as Timeplus lists them (``_tp_time`` aside), nullable ones wrapped."""
    listing = requests.get(f"{emulator.url}/proton/v1/ddl/streams", timeout=10).json()["data"]
    (entry,) = [s for s in listing if s["name"] == stream]
    return {
        c["name"]: f"nullable({c['type']})" if c.get("nullable") else c["type"]
        for c in entry["columns"]
        if c["name"] != "_tp_time"
    }


def test_create_streams_types_untyped_columns_from_the_latest_schemas_and_run_lands_exact_values(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    schema_registry: SchemaRegistry,
    registry_client: SchemaRegistryClient,  # noqa: F811
    unique: str,
    tmp_path: Path,
) -> None:
    avro_topic, proto_topic, json_topic = f"ct-avro-{unique}", f"ct-proto-{unique}", f"ct-js-{unique}"
    for topic in (avro_topic, proto_topic, json_topic):
        kafka.create_topic(topic, 2)
    emulator.faults.set_ddl_delay(0.5)  # Timeplus creates streams asynchronously
    avro = Serialized(kafka, avro_topic, AvroSerializer(registry_client, avro_schema()))
    produce_values(kafka, avro_topic, avro.values([order(i) for i in range(MESSAGES)]))
    # The file defines Other before Order: the topic's values name Order (index [1]).
    classes = protobuf_classes(f"ct{unique}")
    proto_serializer = ProtobufSerializer(classes["Order"], registry_client, {"use.deprecated.format": False})
    messages = []
    for i in range(MESSAGES):
        message = classes["Order"](id=2**40 + i, qty=i, state=i % 2)
        message.created.FromDatetime(datetime(2024, 1, 2, 3, 4, 5, i))
        if i % 2:
            message.note.value = f"n{i}"
        messages.append(message)
    produce_values(kafka, proto_topic, Serialized(kafka, proto_topic, proto_serializer).values(messages))
    # The visit schema refers to a customer schema registered under a subject of its own.
    registry_client.register_schema(f"customer-{unique}", Schema(json.dumps(CUSTOMER), "JSON"))
    reference = SchemaReference("customer.json", f"customer-{unique}", 1)
    visits = JSONSerializer(Schema(json.dumps(VISIT), "JSON", [reference]), registry_client)
    people = [{"id": i, "at": f"2024-05-06T07:08:09.{i:09d}Z", "customer": {"name": f"c{i}"}, "tags": [f"t{i}"],
               "score": None if i % 3 == 0 else i / 4} for i in range(MESSAGES)]  # fmt: skip
    produce_values(kafka, json_topic, Serialized(kafka, json_topic, visits).values(people))

    names = {topic: f"{topic.replace('-', '_')}" for topic in (avro_topic, proto_topic, json_topic)}
    config = write_config(
        tmp_path / "c.yaml",
        bootstrap=kafka.bootstrap,
        group=f"g-{unique}",
        url=emulator.url,
        mappings=f"""
        - topic: {avro_topic}
          stream: {names[avro_topic]}
          format: avro
          columns:
            id: value.id
            ts: value.ts
            tsu: value.tsu
            day: value.day
            at: value.at
            amount: value.amount
            price: value.price
            uid: value.uid
            kind: value.kind
            customer: value.customer.name
            tags: value.tags
            note: value.note
        - topic: {proto_topic}
          stream: {names[proto_topic]}
          format: protobuf
          columns:
            id: value.id
            created: value.created
            note: {{from: value.note, default: null}}
            qty: value.qty
            state: value.state
        - topic: {json_topic}
          stream: {names[json_topic]}
          format: json_schema
          columns:
            id: value.id
            at: value.at
            name: value.customer.name
            tags: value.tags
            score: value.score
        """,
        extra=registry_extra(schema_registry.url),
    )
    created = cli("create-streams", "-c", str(config))
    assert created.returncode == 0, created.stdout + created.stderr
    assert stream_columns(emulator, names[avro_topic]) == {
        "id": "int64", "ts": "datetime64(3, 'UTC')", "tsu": "datetime64(6, 'UTC')", "day": "date32", "at": "string",
        "amount": "decimal(20, 4)", "price": "decimal(18, 2)", "uid": "uuid", "kind": "string", "customer": "string",
        "tags": "array(string)", "note": "nullable(string)",
    }  # fmt: skip
    assert stream_columns(emulator, names[proto_topic]) == {
        "id": "int64", "created": "datetime64(9, 'UTC')", "note": "nullable(string)", "qty": "uint32",
        "state": "string",
    }  # fmt: skip
    assert stream_columns(emulator, names[json_topic]) == {
        "id": "int64", "at": "datetime64(9, 'UTC')", "name": "string", "tags": "array(string)",
        "score": "nullable(float64)",
    }  # fmt: skip
    checked = cli("check", "-c", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"{avro_topic}-value" in checked.stdout and "(by the registry schema)" not in checked.stdout

    connector = ConnectorProcess(config, until_caught_up=True, log_path=tmp_path / "run.log")
    assert connector.wait(180) == 0, connector.log()[-4000:]
    rows = {r["id"]: r for r in emulator.rows(names[avro_topic])}
    assert sorted(rows) == list(range(MESSAGES))
    for i, row in rows.items():
        source = order(i)
        assert row["ts"] == f"2024-05-06 07:08:{i % 60:02d}.123"
        assert row["tsu"] == f"2024-05-06 07:08:09.{i:06d}"
        assert (row["day"], row["at"]) == ("2024-02-29", "23:59:58.999")
        assert Decimal(row["amount"]) == source["amount"] and Decimal(row["price"]) == source["price"]
        assert (row["uid"], row["kind"], row["customer"]) == (str(UUID(int=i)), source["kind"], f"customer-{i % 7}")
        assert (row["tags"], row["note"]) == ([f"t{i}"], source["note"])
    protos = {r["id"]: r for r in emulator.rows(names[proto_topic])}
    assert sorted(protos) == [2**40 + i for i in range(MESSAGES)]
    for i in range(MESSAGES):
        row = protos[2**40 + i]
        assert row["created"] == f"2024-01-02 03:04:05.{i:06d}000"
        assert (row["note"], row["qty"], row["state"]) == (f"n{i}" if i % 2 else None, i, "PAID" if i % 2 else "NEW")
    visited = {r["id"]: r for r in emulator.rows(names[json_topic])}
    assert [(r["at"], r["name"], r["tags"], r["score"]) for _, r in sorted(visited.items())] == [
        (f"2024-05-06 07:08:09.{i:09d}", f"c{i}", [f"t{i}"], p["score"]) for i, p in enumerate(people)
    ]


def test_create_streams_names_each_column_the_schemas_cannot_type_and_creates_nothing(
    emulator: TimeplusEmulator,
    schema_registry: SchemaRegistry,
    registry_client: SchemaRegistryClient,  # noqa: F811
    unique: str,
    tmp_path: Path,
) -> None:
    registry_client.register_schema(f"bad-avro-{unique}-value", Schema(avro_schema(), "AVRO"))
    # A Java producer registers .proto text, which Apicurio 3.0.9 hands back as it is.
    body = {"schemaType": "PROTOBUF", "schema": 'syntax = "proto3";\nmessage Event { string s = 1; }\n'}
    request = urllib.request.Request(
        f"{schema_registry.url}/subjects/bad-proto-{unique}-value/versions",
        data=orjson.dumps(body),
        headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200
    config = write_config(
        tmp_path / "c.yaml",
        bootstrap="127.0.0.1:1",
        group=f"g-{unique}",
        url=emulator.url,
        mappings=f"""
        - topic: bad-avro-{unique}
          stream: a_{unique}
          format: avro
          columns:
            id: value.id
            zip: value.customer.zip
        - topic: bad-proto-{unique}
          stream: p_{unique}
          format: protobuf
          columns:
            s: value.s
        - topic: unregistered-{unique}
          stream: u_{unique}
          format: json_schema
          columns:
            x: value.x
        """,
        extra=registry_extra(schema_registry.url),
    )
    result = cli("create-streams", "-c", str(config))
    assert result.returncode == 1, result.stdout + result.stderr
    problems = result.stderr
    assert (
        f"mappings[0].columns.zip (value.customer.zip, stream a_{unique}): subject bad-avro-{unique}-value "
        "version 1 (schema id " in problems
    ), problems
    assert "the record shop.Customer has no field zip (it has name); give the column a type" in problems
    assert f"mappings[1].columns.s (value.s, stream p_{unique}): subject bad-proto-{unique}-value version 1" in problems
    assert "the registry holds the schema as .proto text, which the connector cannot read" in problems
    assert f"mappings[2] (stream u_{unique}): subject unregistered-{unique}-value has no registered schema" in problems
    assert emulator.streams() == []
