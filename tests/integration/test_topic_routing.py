"""One engine decides which topics a mapping reads (issue 11), checked through the real broker.

librdkafka subscribes with its own regex engine (POSIX ERE via the C library) and the
pipeline routes with Python's ``re``. The config accepts only patterns both read alike;
these tests check that librdkafka really subscribes to exactly the topics the pipeline
routes, that a pattern the two read differently is refused before anything is
committed, and that a message on a topic no mapping reads stops the connector instead
of being passed over and committed.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from connector.config import parse_config
from connector.errors import FatalError
from connector.kafka_source import KafkaSource
from connector.offsets import TopicPartition as TP
from connector.pipeline import build_pipeline
from connector.ports import CommitCallback, PartitionsCallback
from connector.timeplus import TimeplusClient
from sandbox.kafka_broker import KafkaBroker
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.services import (
    ConnectorProcess,
    committed_offsets,
    json_value,
    produce,
    wait_for,
    write_config,
)


def config_text(bootstrap: str, group: str, url: str, mappings: str) -> str:
    return (
        f"kafka: {{bootstrap.servers: '{bootstrap}', group.id: '{group}'}}\n"
        f"timeplus: {{url: '{url}', timeout_s: 5}}\n"
        "batch: {max_rows: 100, linger_ms: 50}\n"
        "drain_timeout_s: 10\n"
        f"mappings:\n{mappings}"
    )


def assigned_topics(kafka: KafkaBroker, subscription: list[str], group: str, expected: set[str]) -> set[str]:
    """The topics librdkafka assigns for ``subscription``, once they equal ``expected`` (or the deadline passes)."""
    source = KafkaSource({"bootstrap.servers": kafka.bootstrap, "group.id": group})
    assigned: set[TP] = set()

    def on_assign(partitions: list[TP]) -> None:
        assigned.update(partitions)

    def on_revoke(partitions: list[TP]) -> None:
        assigned.difference_update(partitions)

    source.subscribe(subscription, on_assign, on_revoke, on_revoke)
    try:
        deadline = time.monotonic() + 60
        while {t for t, _ in assigned} != expected and time.monotonic() < deadline:
            source.consume(100, 0.2)
        # A wrong extra topic would come in the same assignment; poll a little longer to let one show.
        settle = time.monotonic() + 2
        while time.monotonic() < settle:
            source.consume(100, 0.2)
        return {t for t, _ in assigned}
    finally:
        source.close()


def test_librdkafka_subscribes_exactly_the_topics_the_pipeline_routes(
    kafka: KafkaBroker, emulator: TimeplusEmulator, unique: str
) -> None:
    u = f"r{unique}"
    names = [f"{u}.orders.eu-1", f"{u}.orders.us-22", f"{u}.orders.eu-x", f"{u}-orders.eu-1", f"{u}.aa-1",
             f"{u}.aaaa-1", f"{u}.a-1", f"{u}.logs.App", f"{u}.logs.app", f"{u}.B_9", f"{u}.b_9"]  # fmt: skip
    for name in names:
        kafka.create_topic(name, 1)
    patterns = [
        rf"^{u}\.orders\.(eu|us)-[0-9]+$",  # \. is a dot, [0-9] not \d
        rf"^{u}.orders",  # . is any character
        rf"^{u}\.a{{2,3}}-",  # counted repeats
        rf"{u}\.logs\.[a-z]+$",  # unanchored: subscribed as ^.*...
        rf"^{u}\.[^a-z]_[0-9]|^{u}\.orders\.eu-x$",  # negated bracket, top-level alternation
    ]
    for i, pattern in enumerate(patterns):
        config = parse_config(
            config_text(kafka.bootstrap, f"g-{unique}-{i}", emulator.url,
                        f"  - {{topic_pattern: '{pattern}', stream: s, columns: {{v: value}}}}\n"),
            env={},
        )  # fmt: skip
        routed = {name for name in names if config.mappings[0].matches(name)}
        assert routed, f"pattern {pattern!r} routes none of the test topics"
        subscribed = assigned_topics(kafka, config.subscription(), f"g-{unique}-{i}", routed)
        assert subscribed == routed, f"pattern {pattern!r}: librdkafka {sorted(subscribed)}, Python {sorted(routed)}"


def test_a_pattern_the_engines_read_differently_is_refused_before_anything_is_committed(
    kafka: KafkaBroker, emulator: TimeplusEmulator, unique: str, tmp_path: Path
) -> None:
    # Python reads \d as a digit, glibc's regex (librdkafka's) as the letter d: librdkafka
    # subscribes to both topics; before issue 11 the messages of ad-... were passed over and committed.
    digit, letter = f"a1-{unique}", f"ad-{unique}"
    for topic in (digit, letter):
        kafka.create_topic(topic, 1)
        produce(kafka.bootstrap, topic, ((0, None, json_value({"v": i})) for i in range(10)))
    emulator.create_stream(f"s_{unique}", [("v", "int64")])
    config = write_config(
        tmp_path / "c.yaml",
        bootstrap=kafka.bootstrap,
        group=f"g-{unique}",
        url=emulator.url,
        mappings=f"""
        - topic_pattern: '^a(1|\\d)-{unique}$'
          stream: s_{unique}
          columns: {{v: {{from: value.v, type: int64}}}}
        """,
    )
    connector = ConnectorProcess(config, until_caught_up=True, log_path=tmp_path / "run.log")
    code = connector.wait(120)
    assert committed_offsets(kafka.bootstrap, f"g-{unique}", letter, 1) == {}, "ad-... was committed, never delivered"
    assert code == 2, connector.log()[-3000:]
    assert "mappings[0].topic_pattern" in connector.log() and "[0-9]" in connector.log()


class WiderSource(KafkaSource):
    """A source whose subscription reaches one topic beyond what the mappings read.

    It stands for any way librdkafka could subscribe to a topic no mapping matches.
    """

    def __init__(self, props: dict[str, str], extra: str) -> None:
        super().__init__(props)
        self._extra = extra

    def subscribe(
        self,
        topics: list[str],
        on_assign: PartitionsCallback,
        on_revoke: PartitionsCallback,
        on_lost: PartitionsCallback,
        on_commit: CommitCallback | None = None,
    ) -> None:
        super().subscribe([*topics, self._extra], on_assign, on_revoke, on_lost, on_commit)


def test_a_message_on_a_topic_no_mapping_reads_is_fatal_and_never_committed(
    kafka: KafkaBroker, emulator: TimeplusEmulator, unique: str
) -> None:
    mapped, stray = f"mapped-{unique}", f"stray-{unique}"
    for topic in (mapped, stray):
        kafka.create_topic(topic, 1)
        produce(kafka.bootstrap, topic, ((0, None, json_value({"v": i})) for i in range(10)))
    emulator.create_stream(f"s_{unique}", [("v", "int64")])
    group = f"g-{unique}"
    config = parse_config(
        config_text(kafka.bootstrap, group, emulator.url,
                    f"  - {{topic: {mapped}, stream: s_{unique}, columns: {{v: {{from: value.v, type: int64}}}}}}\n"),
        env={},
    )  # fmt: skip
    client = TimeplusClient(config.timeplus)
    pipeline = build_pipeline(config, WiderSource(dict(config.kafka), stray), client)
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            pipeline.run()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        # Before issue 11 the stray messages were passed over and their offsets committed within a second or two.
        wait_for(
            lambda: bool(outcome) or bool(committed_offsets(kafka.bootstrap, group, stray, 1)),
            timeout=90,
            what="the connector to stop, or to commit the stray topic",
        )
    finally:
        pipeline.stop()
        thread.join(60)
        client.close()
    assert committed_offsets(kafka.bootstrap, group, stray, 1) == {}, "passed over and committed"
    assert outcome and isinstance(outcome[0], FatalError), outcome
    assert stray in str(outcome[0]) and "no mapping" in str(outcome[0])
