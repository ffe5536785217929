"""Fixtures shared by every test directory that starts real services.

Defined once here so that one Kafka broker serves the whole session: a fixture
re-exported from another conftest would be a second definition, and a second broker.
If the broker cannot start, tests fail with its log tail: there is no mock to fall back on.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from sandbox.kafka_broker import BrokerStartError, KafkaBroker
from sandbox.schema_registry import RegistryStartError, SchemaRegistry
from sandbox.timeplus_emulator import TimeplusEmulator


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """One real KRaft broker for the whole session."""
    broker = KafkaBroker(workdir=tmp_path_factory.mktemp("kafka"))
    try:
        broker.start()
    except BrokerStartError as exc:
        broker.stop()
        pytest.fail(f"the Kafka broker did not start:\n{exc}", pytrace=False)
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def schema_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchemaRegistry]:
    """One real Schema Registry (Apicurio, in memory) for the whole session, started on first use."""
    registry = SchemaRegistry(workdir=tmp_path_factory.mktemp("registry"))
    try:
        registry.start()
    except RegistryStartError as exc:
        registry.stop()
        pytest.fail(f"the schema registry did not start:\n{exc}", pytrace=False)
    yield registry
    registry.stop()


@pytest.fixture
def emulator() -> Iterator[TimeplusEmulator]:
    """A fresh Timeplus emulator per test."""
    with TimeplusEmulator() as emu:
        yield emu


@pytest.fixture
def unique() -> str:
    """A suffix that keeps topics, streams and groups of one test apart from the others."""
    return uuid.uuid4().hex[:8]
