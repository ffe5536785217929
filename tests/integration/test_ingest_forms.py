"""Every ingest form the connector offers, through a real broker into the emulator (issue 15).

Auth form x route x body format: Proton's v1 route (no credentials, or HTTP Basic; compact
only), and the app server's v1beta1 and v1beta2 routes with HTTP Basic (Enterprise) or an
API key sent as ``X-Api-Key`` or ``Authorization: ApiKey`` (Cloud), each with compact and
NDJSON bodies. Every run must land every row with its exact values, send the documented
route, Content-Type and auth header, commit to the end, and never log the secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandbox.kafka_broker import KafkaBroker
from sandbox.timeplus_emulator import Auth, RequestLog, TimeplusEmulator
from tests.support.services import (
    ConnectorProcess,
    committed_offsets,
    end_offsets,
    json_value,
    produce,
    write_config,
)

KEY = "tp-key-" + "k" * 53  # Timeplus Cloud keys are 60 characters
PASSWORD = "s3cret-pw"
WORKSPACE = "ws123456"
PARTITIONS = 2
MESSAGES = 240

# Strings that an NDJSON encoder must escape, and one that looks like the boundary between
# two encoded rows (a naive split on '},{"id":' would cut a row in two).
TEXTS = ["plain", 'quote " and backslash \\', "new\nline\ttab", "é 😀 ✓", '},{"id":', "", "\u2028"]


def message(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "text": TEXTS[i % len(TEXTS)],
        "amount": round(i * 0.37, 2),
        "tags": [f"t{i % 3}", "x,y"],
        "note": None if i % 4 == 0 else f"n{i}",
        "flag": i % 2 == 0,
        "created": 1_767_225_600_000 + i,  # ms
    }


STREAM_COLUMNS = [
    ("id", "int64"), ("text", "string"), ("amount", "float64"), ("tags", "array(string)"),
    ("note", "nullable(string)"), ("flag", "bool"), ("created", "datetime64(3)"), ("key", "string"), ("p", "int32"),
]  # fmt: skip


def mapping(topic: str, stream: str) -> str:
    return f"""
    - topic: {topic}
      stream: {stream}
      columns:
        id: {{from: value.id, type: int64}}
        text: {{from: value.text, type: string}}
        amount: {{from: value.amount, type: float64}}
        tags: {{from: value.tags, type: 'array(string)'}}
        note: {{from: value.note, type: 'nullable(string)'}}
        flag: {{from: value.flag, type: bool}}
        created: {{from: value.created, type: 'datetime64(3)', unit: ms}}
        key: key
        p: partition
    """


def expected_row(i: int) -> dict[str, Any]:
    source = message(i)
    ms = source["created"] - 1_767_225_600_000
    return {
        **{name: source[name] for name in ("id", "text", "amount", "tags", "note", "flag")},
        "created": f"2026-01-01 00:00:00.{ms:03d}",
        "key": f"k{i}",
        "p": i % PARTITIONS,
    }


@dataclass(frozen=True, slots=True)
class Form:
    """One way of talking to Timeplus: who we are, which route, which body."""

    auth: str  # none | basic | x-api-key | authorization
    route: str  # proton | v1beta1 | v1beta2
    body: str  # compact | ndjson

    @property
    def id(self) -> str:
        return f"{self.auth}-{self.route}-{self.body}"

    def emulator(self) -> TimeplusEmulator:
        if self.auth == "none":
            return TimeplusEmulator()
        if self.auth == "basic":
            return TimeplusEmulator(auth=Auth.basic("alice", PASSWORD))
        return TimeplusEmulator(auth=Auth.api_key(KEY), workspace=WORKSPACE)

    def settings(self, secret: str) -> str:
        """The lines of the ``timeplus`` section for this form (indented two spaces)."""
        lines: list[str] = []
        if self.route != "proton":
            lines.append(f"workspace: {WORKSPACE if self.auth in ('x-api-key', 'authorization') else 'default'}")
            if self.route == "v1beta1":
                lines.append("api_version: v1beta1")  # v1beta2 is left to the default
        if self.auth == "basic":
            lines += ["username: alice", f"password: '{secret}'"]
        elif self.auth in ("x-api-key", "authorization"):
            lines.append(f"api_key: '{secret}'")
            if self.auth == "authorization":
                lines.append("auth_header: authorization")
        if self.body == "ndjson":
            lines.append("body_format: ndjson")
        return "".join(f"\n  {line}" for line in lines)

    def path(self, stream: str) -> str:
        if self.route == "proton":
            return f"/proton/v1/ingest/streams/{stream}"
        workspace = WORKSPACE if self.auth in ("x-api-key", "authorization") else "default"
        return f"/{workspace}/api/{self.route}/streams/{stream}/ingest"

    @property
    def content_type(self) -> str:
        return "application/x-ndjson" if self.body == "ndjson" else "application/json"

    def auth_headers(self) -> dict[str, str]:
        """The credential headers the journal must show (values redacted)."""
        return {
            "none": {},
            "basic": {"authorization": "Basic ***"},
            "x-api-key": {"x-api-key": "***"},
            "authorization": {"authorization": "ApiKey ***"},
        }[self.auth]


def forms() -> Iterator[Any]:
    for auth in ("none", "basic"):
        yield pytest.param(Form(auth, "proton", "compact"), id=f"{auth}-proton-compact")
    for auth in ("basic", "x-api-key", "authorization"):
        for route in ("v1beta1", "v1beta2"):
            for body in ("compact", "ndjson"):
                form = Form(auth, route, body)
                yield pytest.param(form, id=form.id)


def secret_of(form: Form) -> str:
    return PASSWORD if form.auth == "basic" else KEY


@contextmanager
def started(form: Form, kafka: KafkaBroker, unique: str) -> Iterator[tuple[TimeplusEmulator, str, str]]:
    with form.emulator() as emulator:
        topic, stream = f"forms-{unique}", f"forms_{unique}"
        kafka.create_topic(topic, PARTITIONS)
        emulator.create_stream(stream, STREAM_COLUMNS)
        yield emulator, topic, stream


def config_for(
    form: Form,
    tmp_path: Path,
    *,
    bootstrap: str,
    group: str,
    url: str,
    topic: str,
    stream: str,
    secret: str,
    batch: str,
) -> Path:
    path = write_config(
        tmp_path / "c.yaml", bootstrap=bootstrap, group=group, url=url, mappings=mapping(topic, stream), extra=batch
    )
    path.write_text(path.read_text().replace("timeout_s: 5", "timeout_s: 5" + form.settings(secret), 1))
    return path


def headers_of(request: RequestLog) -> dict[str, str]:
    return {name.lower(): value for name, value in request.headers.items()}


@pytest.mark.parametrize("form", list(forms()))
def test_every_form_lands_every_row_exactly(kafka: KafkaBroker, unique: str, tmp_path: Path, form: Form) -> None:
    with started(form, kafka, unique) as (emulator, topic, stream):
        produce(
            kafka.bootstrap,
            topic,
            ((i % PARTITIONS, f"k{i}".encode(), json_value(message(i))) for i in range(MESSAGES)),
        )
        group = f"g-{unique}"
        config = config_for(
            form, tmp_path, bootstrap=kafka.bootstrap, group=group, url=emulator.url, topic=topic, stream=stream,
            secret=secret_of(form), batch="batch: {max_rows: 50, linger_ms: 50}\n",
        )  # fmt: skip
        connector = ConnectorProcess(config, until_caught_up=True, log_path=tmp_path / "run.log")
        assert connector.wait(120) == 0, connector.log()[-4000:]

        rows = sorted(emulator.rows(stream), key=lambda row: row["id"])
        assert [{k: v for k, v in row.items() if k != "_tp_time"} for row in rows] == [
            expected_row(i) for i in range(MESSAGES)
        ]
        ingests = [r for r in emulator.requests() if r.stream == stream]
        assert len(ingests) >= MESSAGES // 50 and {r.outcome for r in ingests} == {"stored"}
        for request in ingests:
            headers = headers_of(request)
            assert request.path == form.path(stream)
            assert headers["content-type"] == form.content_type
            for name in ("x-api-key", "authorization"):
                assert headers.get(name) == form.auth_headers().get(name), (name, headers)
        assert committed_offsets(kafka.bootstrap, group, topic, PARTITIONS) == end_offsets(
            kafka.bootstrap, topic, PARTITIONS
        )
        assert secret_of(form) not in connector.log()


def test_ndjson_requests_stay_within_max_bytes(kafka: KafkaBroker, unique: str, tmp_path: Path) -> None:
    # A long constant column makes every NDJSON row ~4x its Kafka message: the batcher's
    # estimate (message bytes) is far too low at first, so bodies must be split to stay
    # within max_bytes, and the estimate must learn from the encoded NDJSON sizes.
    form = Form("x-api-key", "v1beta2", "ndjson")
    max_bytes, count = 8192, 1500
    with started(form, kafka, unique) as (emulator, topic, _):
        stream = f"wide_{unique}"
        emulator.create_stream(stream, [("id", "int64"), ("label", "string")])
        produce(kafka.bootstrap, topic, ((i % PARTITIONS, None, json_value({"id": i})) for i in range(count)))
        path = write_config(
            tmp_path / "c.yaml",
            bootstrap=kafka.bootstrap,
            group=f"g-{unique}",
            url=emulator.url,
            mappings=f"""
            - topic: {topic}
              stream: {stream}
              columns:
                id: {{from: value.id, type: int64}}
                label: {{value: '{"L" * 40}'}}
            """,
            extra=f"batch: {{max_rows: 100000, max_bytes: {max_bytes}, linger_ms: 200}}\n",
        )
        path.write_text(path.read_text().replace("timeout_s: 5", "timeout_s: 5" + form.settings(KEY), 1))
        connector = ConnectorProcess(path, until_caught_up=True, log_path=tmp_path / "run.log")
        assert connector.wait(120) == 0, connector.log()[-4000:]

        assert sorted(r["id"] for r in emulator.rows(stream)) == list(range(count))
        ingests = [r for r in emulator.requests() if r.stream == stream]
        assert {headers_of(r)["content-type"] for r in ingests} == {"application/x-ndjson"}
        sizes = [r.body_size for r in ingests]
        assert max(sizes) <= max_bytes, sizes
        # Not one row per request either: the byte budget learnt what an NDJSON row costs.
        assert len(ingests) <= 3 * count * 64 // max_bytes, sizes


WRONG = [
    pytest.param(Form("basic", "v1beta2", "compact"), id="basic-v1beta2"),
    pytest.param(Form("x-api-key", "v1beta2", "compact"), id="x-api-key-v1beta2"),
    pytest.param(Form("authorization", "v1beta2", "compact"), id="authorization-v1beta2"),
    pytest.param(Form("authorization", "v1beta1", "ndjson"), id="authorization-v1beta1-ndjson"),
]


@pytest.mark.parametrize("form", WRONG)
def test_a_wrong_secret_in_each_auth_form_is_fatal_with_one_line(
    kafka: KafkaBroker, unique: str, tmp_path: Path, form: Form
) -> None:
    wrong = "wrong-" + "w" * 54
    with started(form, kafka, unique) as (emulator, topic, stream):
        produce(kafka.bootstrap, topic, ((i % PARTITIONS, b"k", json_value(message(i))) for i in range(20)))
        group = f"g-{unique}"
        config = config_for(
            form, tmp_path, bootstrap=kafka.bootstrap, group=group, url=emulator.url, topic=topic, stream=stream,
            secret=wrong, batch="",
        )  # fmt: skip
        connector = ConnectorProcess(config, until_caught_up=True, log_path=tmp_path / "run.log")
        assert connector.wait(60) == 1, connector.log()[-4000:]

        log = connector.log()
        fatal = [line for line in log.splitlines() if line.startswith("kafka-timeplus: fatal:")]
        assert len(fatal) == 1 and "HTTP 401" in fatal[0], log[-3000:]
        assert wrong not in log
        assert emulator.count(stream) == 0
        assert committed_offsets(kafka.bootstrap, group, topic, PARTITIONS) == {}
        (sent,) = {headers_of(r).get("authorization") or headers_of(r).get("x-api-key") for r in emulator.requests()}
        assert sent == next(iter(form.auth_headers().values()))


def test_ndjson_rows_timeplus_rejects_are_isolated_and_the_rest_land(
    kafka: KafkaBroker, unique: str, tmp_path: Path
) -> None:
    # `label` is passed through untyped, so only Timeplus can refuse it: the rejected NDJSON
    # request is bisected (each part NDJSON again) until the bad rows stand alone.
    form = Form("x-api-key", "v1beta2", "ndjson")
    count, bad = 400, {37, 38, 250}
    with started(form, kafka, unique) as (emulator, topic, _):
        stream = f"labels_{unique}"
        emulator.create_stream(stream, [("id", "int64"), ("label", "int32")])
        values = ({"id": i, "label": "not-a-number" if i in bad else i} for i in range(count))
        produce(kafka.bootstrap, topic, ((i % PARTITIONS, None, json_value(v)) for i, v in enumerate(values)))
        path = write_config(
            tmp_path / "c.yaml",
            bootstrap=kafka.bootstrap,
            group=f"g-{unique}",
            url=emulator.url,
            mappings=f"""
            - topic: {topic}
              stream: {stream}
              on_error: skip
              columns:
                id: {{from: value.id, type: int64}}
                label: value.label
            """,
            extra="batch: {max_rows: 100, linger_ms: 100}\n",
        )
        path.write_text(path.read_text().replace("timeout_s: 5", "timeout_s: 5" + form.settings(KEY), 1))
        connector = ConnectorProcess(path, until_caught_up=True, log_path=tmp_path / "run.log")
        assert connector.wait(120) == 0, connector.log()[-4000:]

        assert sorted(r["id"] for r in emulator.rows(stream)) == sorted(set(range(count)) - bad)
        ingests = [r for r in emulator.requests() if r.stream == stream]
        assert {headers_of(r)["content-type"] for r in ingests} == {"application/x-ndjson"}
        assert sum(r.outcome == "rejected" and r.rows == 0 for r in ingests) >= len(bad)
        assert committed_offsets(kafka.bootstrap, f"g-{unique}", topic, PARTITIONS) == end_offsets(
            kafka.bootstrap, topic, PARTITIONS
        )
