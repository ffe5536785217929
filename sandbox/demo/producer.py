"""Produces sample order events to Kafka: the demo's data source (also run by docker-compose).

With ``--schema-registry URL`` the events are written as Avro by confluent-kafka's own
AvroSerializer (Confluent's wire format, the schema registered under ``<topic>-value``),
with a decimal total and a timestamp-millis creation time, as Avro producers commonly do.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
from confluent_kafka import Producer

REGIONS = ("emea", "amer", "apac")
PRODUCTS = ("keyboard", "mouse", "monitor", "dock", "cable", "headset")


def order(i: int, rng: random.Random, now_ms: int) -> dict[str, object]:
    """One order event with a nested customer, a list of items and an epoch-ms timestamp."""
    items = rng.sample(PRODUCTS, rng.randint(1, 3))
    return {
        "id": i,
        "total": round(rng.uniform(5, 500), 2),
        "currency": "EUR",
        "customer": {"id": rng.randint(1, 5000), "name": f"customer-{rng.randint(1, 5000)}"},
        "items": items,
        "created_at": now_ms + i,
    }


#: The Avro form of an order (``--schema-registry``).
AVRO_SCHEMA = orjson.dumps(
    {
        "type": "record",
        "name": "Order",
        "namespace": "demo",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "total", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
            {"name": "currency", "type": "string"},
            {"name": "customer", "type": {"type": "record", "name": "Customer", "fields": [
                {"name": "id", "type": "long"}, {"name": "name", "type": "string"}]}},
            {"name": "items", "type": {"type": "array", "items": "string"}},
            {"name": "created_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        ],
    }
).decode()  # fmt: skip


def avro_writer(registry_url: str, topic: str) -> Callable[[dict[str, Any]], bytes]:
    """An order as Avro in Confluent's wire format, through confluent-kafka's AvroSerializer."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    serializer = AvroSerializer(SchemaRegistryClient({"url": registry_url}), AVRO_SCHEMA)
    ctx = SerializationContext(topic, MessageField.VALUE)

    def write(event: dict[str, Any]) -> bytes:
        return bytes(serializer(event | {"total": Decimal(str(event["total"]))}, ctx))

    return write


def main(argv: list[str] | None = None) -> int:
    """Produce ``--count`` orders, keyed by customer, with a region header."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", default="orders")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--schema-registry", help="write Avro through this Schema Registry (Confluent API URL)")
    args = parser.parse_args(argv)
    write = avro_writer(args.schema_registry, args.topic) if args.schema_registry else orjson.dumps

    rng = random.Random(args.seed)
    producer = Producer({"bootstrap.servers": args.bootstrap, "linger.ms": 20, "enable.idempotence": True})
    failures: list[str] = []

    def on_delivery(err: object, _msg: object) -> None:
        if err is not None:
            failures.append(str(err))

    now_ms = int(time.time() * 1000)
    for i in range(args.count):
        event = order(i, rng, now_ms)
        customer = event["customer"]
        assert isinstance(customer, dict)
        headers: list[tuple[str, str | bytes | None]] = [("region", REGIONS[i % len(REGIONS)].encode())]
        while True:
            try:
                producer.produce(
                    args.topic,
                    key=str(customer["id"]).encode(),
                    value=write(event),
                    headers=headers,
                    on_delivery=on_delivery,
                )
                break
            except BufferError:
                producer.poll(0.1)
    remaining = producer.flush(60)
    if remaining or failures:
        print(f"producer: {remaining} unacknowledged, {len(failures)} failed: {failures[:3]}", file=sys.stderr)
        return 1
    print(f"producer: {args.count} orders written to {args.topic}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
