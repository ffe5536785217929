"""A 400 that does not come from Timeplus (a proxy's or gateway's HTML page) says nothing about the rows.

Timeplus names every rejection with an error code (DESIGN.md §4); an answer without one
must not make the connector split the batch and dead-letter (or skip) rows that are fine.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sandbox.kafka_broker import KafkaBroker
from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.faults import STREAM_COLUMNS, Connectors, FaultReport, delivery, fully_committed, produce_ids

MESSAGES = 2_000
ROWS = 8  # rows per request, one request at a time: 15 answers of 400 bisect a whole batch down to single rows
FAILURES = 15
PROXY_PAGE = "<html><head><title>400 Bad Request</title></head><body><center><h1>400 Bad Request</h1></center><hr><center>nginx</center></body></html>"  # noqa: E501


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_proxy_400_is_retried_and_no_row_is_skipped(
    kafka: KafkaBroker,
    emulator: TimeplusEmulator,
    connectors: Connectors,
    fault_report: FaultReport,
    unique: str,
    tmp_path: Path,
) -> None:
    topic, stream, group = f"proxy-{unique}", f"proxy_{unique}", f"g-proxy-{unique}"
    kafka.create_topic(topic, 1)
    emulator.create_stream(stream, STREAM_COLUMNS)
    produce_ids(kafka.bootstrap, topic, 1, range(MESSAGES))
    config = tmp_path / "c.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            kafka:
              bootstrap.servers: "{kafka.bootstrap}"
              group.id: "{group}"
            timeplus:
              url: "{emulator.url}"
              timeout_s: 5
              retry_backoff_s: 0.05
              retry_backoff_max_s: 0.2
              max_in_flight: 1
            batch: {{max_rows: {ROWS}, max_bytes: 1MiB, linger_ms: 100}}
            mappings:
              - topic: "{topic}"
                stream: "{stream}"
                on_error: skip
                columns:
                  id: {{from: value.id, type: int64}}
                  name: value.name
            """
        )
    )
    emulator.faults.fail_next(FAILURES, status=400, message=PROXY_PAGE)
    connector = connectors.start(config, "run", until_caught_up=True)
    code = connector.wait(120)
    result = delivery(emulator, stream, range(MESSAGES))
    skipped = connector.log().count("skipped message")
    fault_report(
        "a proxy answers 400",
        f"{FAILURES} answers 400 with an nginx HTML page and no Timeplus error code ({MESSAGES:,} messages, "
        f"{ROWS}-row requests one at a time, on_error: skip)",
        f"{result.outcome()}; retried as an outage, {skipped} rows skipped; exit {code}"
        if skipped == 0
        else f"{result.outcome()}: {skipped} good rows bisected out and skipped as rejected; exit {code}",
    )
    assert code == 0, connector.log()[-3000:]
    assert skipped == 0, "rows were skipped on an answer that does not come from Timeplus"
    result.assert_nothing_lost()
    assert emulator.faults.pending() == 0
    assert fully_committed(kafka.bootstrap, group, topic, 1)
