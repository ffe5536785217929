"""``delivery: exactly_once`` as users run it: a real broker, the CLI killed with SIGKILL and restarted.

A topic of 3 partitions fans out to two streams. The first run reaches the live head
(its last requests are cut by linger, the cuts committed before they are sent), is
killed while Timeplus has stored requests it has not answered yet, and a second run
replays from the group's offsets and their metadata. The emulator drops every replayed
request by its id: each stream ends with every id exactly once.
"""

from __future__ import annotations

import re
from pathlib import Path

from sandbox.kafka_broker import KafkaBroker
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.faults import delivery, kill_9, produce_ids, wait_until
from tests.support.services import ConnectorProcess, write_config

PARTITIONS = 3
BACKLOG = 6_100  # 2,033 or so per partition: each ends in a partial window of 500 that linger cuts
LIVE = 300  # produced at the live head, while the emulator holds its answers back
AFTER = 2_600  # produced while the connector is dead
MAX_ROWS = 500
ID = re.compile(
    r"^kt1-(?P<print>[0-9a-f]{12})-(?P<topic>.+)-(?P<partition>\d+)-(?P<first>\d+)-(?P<last>\d+)(/\d+-\d+)?$"
)


def test_sigkill_and_restart_store_every_row_exactly_once(
    kafka: KafkaBroker, emulator: TimeplusEmulator, unique: str, tmp_path: Path
) -> None:
    topic, group = f"eo-{unique}", f"g-eo-{unique}"
    full, ids_only = f"eo_full_{unique}", f"eo_ids_{unique}"
    kafka.create_topic(topic, PARTITIONS)
    emulator.create_stream(full, [("id", "int64"), ("name", "string")])
    emulator.create_stream(ids_only, [("id", "int64")])
    config = write_config(
        tmp_path / "eo.yaml",
        bootstrap=kafka.bootstrap,
        group=group,
        url=emulator.url,
        extra=f"""
        delivery: exactly_once
        batch: {{max_rows: {MAX_ROWS}, max_bytes: 1MiB, linger_ms: 100}}
        """,
        mappings=f"""
        - topic: {topic}
          stream: {full}
          columns: {{id: {{from: value.id, type: int64}}, name: value.name}}
        - topic: {topic}
          stream: {ids_only}
          columns: {{id: {{from: value.id, type: int64}}}}
        """,
    )
    # A SIGKILLed member sends no LeaveGroup: a short session lets the restarted one in soon.
    text = config.read_text().replace("group.id:", 'session.timeout.ms: "6000"\n  group.id:', 1)
    config.write_text(text)

    produce_ids(kafka.bootstrap, topic, PARTITIONS, range(BACKLOG))
    first = ConnectorProcess(config, until_caught_up=False, log_path=tmp_path / "run1.log")
    wait_until(
        lambda: emulator.count(full) >= BACKLOG and emulator.count(ids_only) >= BACKLOG,
        120,
        "the first run to reach the live head",
        first.log,
    )
    # At the live head: the next requests are stored but answered only 3 s later, so they are
    # neither accepted nor committed when the process dies.
    emulator.faults.slow_ack_next(4, 3.0)
    produce_ids(kafka.bootstrap, topic, PARTITIONS, range(BACKLOG, BACKLOG + LIVE))
    wait_until(lambda: emulator.count(full) > BACKLOG, 60, "live rows stored", first.log)
    kill_9(first)

    produce_ids(kafka.bootstrap, topic, PARTITIONS, range(BACKLOG + LIVE, BACKLOG + LIVE + AFTER))
    second = ConnectorProcess(config, until_caught_up=True, log_path=tmp_path / "run2.log")
    assert second.wait(180) == 0, second.log()[-4000:]

    ids = range(BACKLOG + LIVE + AFTER)
    for stream in (full, ids_only):
        result = delivery(emulator, stream, ids)
        result.assert_nothing_lost()
        assert result.duplicates == 0, result.outcome()

    ingests = [r for r in emulator.requests() if r.method == "POST" and r.stream in (full, ids_only)]
    assert sum(r.outcome == "duplicate" for r in ingests) > 0, "the replay re-sent nothing: the kill came too late"
    prints: dict[str, set[str]] = {full: set(), ids_only: set()}
    for request in ingests:
        match = ID.match(request.idempotent_id or "")
        assert match is not None, f"request into {request.stream} with id {request.idempotent_id!r}"
        assert match["topic"] == topic and int(match["partition"]) < PARTITIONS
        assert int(match["first"]) <= int(match["last"])
        assert request.stream is not None
        prints[request.stream].add(match["print"])
    assert len(prints[full]) == len(prints[ids_only]) == 1 and prints[full] != prints[ids_only]
