"""Which Avro decoder the connector uses: fastavro directly, or confluent-kafka's AvroDeserializer.

Serializes the benchmark's order events with confluent-kafka's own AvroSerializer against a
real registry (Apicurio, started here), then decodes the same values both ways in this
process and prints microseconds per message (best of 5 rounds). Nothing is asserted.

    .venv/bin/python -m bench.avro_decoders [--messages N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient as ConfluentClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from bench.bench import AVRO_SCHEMA, BASE_TS_MS, Messages
from connector.config import SchemaRegistryConfig
from connector.registry_decoding import Backoff, RegistryDecoder
from connector.schema_registry import SchemaRegistryClient
from sandbox.schema_registry import SchemaRegistry


def best_us(decode: Callable[[bytes], Any], values: list[bytes], rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for value in values:
            decode(value)
        best = min(best, time.perf_counter() - t0)
    return best / len(values) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.avro_decoders")
    parser.add_argument("--messages", type=int, default=50_000)
    args = parser.parse_args(argv)
    with SchemaRegistry() as registry, ConfluentClient({"url": registry.url}) as client:
        ctx = SerializationContext("orders", MessageField.VALUE)
        serializer = AvroSerializer(client, AVRO_SCHEMA)
        messages = Messages()
        values = [bytes(serializer(messages.record(i, BASE_TS_MS + i), ctx)) for i in range(args.messages)]
        ours = RegistryDecoder(
            SchemaRegistryClient(SchemaRegistryConfig(url=registry.url)), Backoff(0.1, 1), stopping=lambda: False
        )
        theirs = AvroDeserializer(client)
        assert ours.decode(values[0], "avro") == theirs(values[0], ctx)
        fastavro_us = best_us(lambda v: ours.decode(v, "avro"), values)
        confluent_us = best_us(lambda v: theirs(v, ctx), values)
    size = sum(map(len, values)) / len(values)
    print(f"{args.messages:,} order events, {size:.0f} bytes each (Avro, with the 5-byte header):")
    print(f"  fastavro (connector.registry_decoding): {fastavro_us:6.2f} us/message")
    print(f"  confluent-kafka AvroDeserializer:       {confluent_us:6.2f} us/message")
    print(f"  ratio: {confluent_us / fastavro_us:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
