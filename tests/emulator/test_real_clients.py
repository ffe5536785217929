"""Clients nobody here wrote: the official SDK, the founding page's bodies, Redpanda Connect and Kafka Connect shapes.

The peer shapes are rebuilt from their sources (DESIGN.md §4): the same URLs, the same
header sets, the same body encodings, sent byte for byte with http.client so that no
library adds or normalises anything.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Iterator

import pytest
import requests

from sandbox.timeplus_emulator import Auth, TimeplusEmulator
from tests.support.emulator_http import raw_request

KEY = "tp" + "x" * 58  # the SDK insists on exactly 60 characters
WORKSPACE = "ws123"


@pytest.fixture
def cloud() -> Iterator[TimeplusEmulator]:
    """Timeplus Cloud as the founding page describes it: workspace ws123, API key auth, stream foo."""
    with TimeplusEmulator(auth=Auth.api_key(KEY), workspace=WORKSPACE) as emulator:
        emulator.create_stream("foo", [("key1", "string"), ("key2", "string")])
        yield emulator


# --- the official timeplus SDK (PyPI timeplus 1.4.1) -------------------------------------------


def test_sdk_ingests_compact_rows_with_an_api_key(cloud: TimeplusEmulator) -> None:
    from timeplus import Environment, Stream

    cloud.create_stream("sdk", [("id", "int64"), ("name", "string"), ("at", "datetime64(3)"), ("ok", "bool")])
    env = Environment().address(cloud.url).workspace(WORKSPACE).apikey(KEY)
    rows = [
        [1, "a", datetime.datetime(2024, 1, 2, 3, 4, 5, 678901), True],
        [2, "b", datetime.datetime(2024, 1, 2), False],
    ]
    Stream(env=env).name("sdk").ingest(["id", "name", "at", "ok"], rows)
    stored = [(r["id"], r["name"], r["at"], r["ok"]) for r in cloud.rows("sdk")]
    # The SDK sends datetimes as isoformat() ('2024-01-02T03:04:05.678901'); the column keeps 3 digits.
    assert stored == [(1, "a", "2024-01-02 03:04:05.678", True), (2, "b", "2024-01-02 00:00:00.000", False)]
    (log,) = cloud.requests()
    assert log.path == f"/{WORKSPACE}/api/v1beta2/streams/sdk/ingest"
    assert log.headers["X-Api-Key"] == "***" and log.headers["Content-Type"] == "application/json"


def test_sdk_streaming_format(cloud: TimeplusEmulator) -> None:
    from timeplus import Environment, Stream

    env = Environment().address(cloud.url).workspace(WORKSPACE).apikey(KEY)
    payload = '{"key1": "a", "key2": "b"}\n{"key1": "c", "key2": "d"}\n'
    Stream(env=env).name("foo").ingest(payload=payload, format="streaming")
    assert [(r["key1"], r["key2"]) for r in cloud.rows("foo")] == [("a", "b"), ("c", "d")]
    assert cloud.requests()[0].path.endswith("/ingest?format=streaming")


def test_sdk_sees_a_wrong_key_as_401(cloud: TimeplusEmulator) -> None:
    from swagger_client.rest import ApiException  # type: ignore[import-untyped]
    from timeplus import Environment, Stream

    env = Environment().address(cloud.url).workspace(WORKSPACE).apikey("z" * 60)
    with pytest.raises(ApiException) as caught:
        Stream(env=env).name("foo").ingest(["key1"], [["a"]])
    assert caught.value.status == 401
    assert cloud.count("foo") == 0


def test_sdk_sees_a_bad_value_as_the_proton_error(cloud: TimeplusEmulator) -> None:
    from swagger_client.rest import ApiException
    from timeplus import Environment, Stream

    env = Environment().address(cloud.url).workspace(WORKSPACE).apikey(KEY)
    with pytest.raises(ApiException) as caught:
        Stream(env=env).name("foo").ingest(["key1"], [[12]])
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["code"] == 27


# --- the founding page (timeplus-ingest-api.txt), bodies as written ---------------------------

# Copied byte for byte from the page's code blocks; '...' and '[..]' are the page's own placeholders.
PAGE_NDJSON_LINES = '{"key1": "value11", "key2": "value12", ...}\n{"key1": "value21", "key2": "value22", ...}\n...\n'
PAGE_NDJSON_MULTILINE = (
    '{\n  "key1": "value11", \n  "key2": "value12", ...\n}\n'
    '{\n  "key1": "value21", \n  "key2": "value22", ...\n}\n...\n'
)
PAGE_NDJSON_BACK_TO_BACK = '{"key1": "valueA", ...}{"key1": "valueB", ...}{"key1": "valueC", ...,\n}...\n'
PAGE_COMPACT_TEMPLATE = '{ \n  "columns": [..],\n  "data": [ \n    [..],\n    [..],\n  ]\n}\n'
PAGE_COMPACT_EXAMPLE = (
    '{ \n  "columns": ["key1","key2"],\n  "data": [ \n'
    '    ["value11","value12"],\n    ["value21","value22"],\n  ]\n}\n\n'
)

NDJSON_TYPES = [
    ("application/x-ndjson", ""),
    ("application/vnd.timeplus+json;format=streaming", ""),
    ("application/json", "?format=streaming"),
]
COMPACT_TYPES = ["application/json", "application/vnd.timeplus+json", "application/vnd.timeplus+json;format=compact"]
AUTH_HEADERS = [{"X-Api-Key": KEY}, {"Authorization": f"ApiKey {KEY}"}]


def page_post(
    emu: TimeplusEmulator, body: str, content_type: str, query: str = "", auth: dict[str, str] | None = None
) -> requests.Response:
    url = f"{emu.url}/{WORKSPACE}/api/v1beta1/streams/foo/ingest{query}"
    headers = {"Content-Type": content_type, **(auth or AUTH_HEADERS[0])}
    return requests.post(url, data=body.encode(), headers=headers, timeout=10)


@pytest.mark.parametrize(("content_type", "query"), NDJSON_TYPES)
@pytest.mark.parametrize("body", [PAGE_NDJSON_LINES, PAGE_NDJSON_MULTILINE, PAGE_NDJSON_BACK_TO_BACK])
def test_page_ndjson_bodies_as_written_are_invalid_json(
    cloud: TimeplusEmulator, body: str, content_type: str, query: str
) -> None:
    response = page_post(cloud, body, content_type, query)
    assert response.status_code == 400
    assert cloud.count("foo") == 0


@pytest.mark.parametrize("content_type", COMPACT_TYPES)
@pytest.mark.parametrize("body", [PAGE_COMPACT_TEMPLATE, PAGE_COMPACT_EXAMPLE])
def test_page_compact_bodies_as_written_are_refused(cloud: TimeplusEmulator, body: str, content_type: str) -> None:
    # The concrete example ends its data array with a trailing comma: not JSON, so refused (BEHAVIOUR.md).
    response = page_post(cloud, body, content_type)
    assert response.status_code == 400
    assert cloud.count("foo") == 0


def test_page_compact_example_as_written_is_refused_by_proton_too(cloud: TimeplusEmulator) -> None:
    response = requests.post(
        f"{cloud.url}/proton/v1/ingest/streams/foo", data=PAGE_COMPACT_EXAMPLE.encode(), timeout=10
    )
    assert (response.status_code, response.json()["code"]) == (400, 117)


def filled(body: str) -> str:
    """The page's body with its placeholders removed, and nothing else changed."""
    return body.replace(", ...", "").replace("...\n", "")


@pytest.mark.parametrize("auth", AUTH_HEADERS)
@pytest.mark.parametrize(("content_type", "query"), NDJSON_TYPES)
@pytest.mark.parametrize("body", [PAGE_NDJSON_LINES, PAGE_NDJSON_MULTILINE])
def test_page_ndjson_bodies_with_placeholders_removed(
    cloud: TimeplusEmulator, body: str, content_type: str, query: str, auth: dict[str, str]
) -> None:
    assert page_post(cloud, filled(body), content_type, query, auth).status_code == 200
    assert [(r["key1"], r["key2"]) for r in cloud.rows("foo")] == [("value11", "value12"), ("value21", "value22")]


def test_page_back_to_back_body(cloud: TimeplusEmulator) -> None:
    as_filled = filled(PAGE_NDJSON_BACK_TO_BACK)
    assert as_filled == '{"key1": "valueA"}{"key1": "valueB"}{"key1": "valueC",\n}'
    assert page_post(cloud, as_filled, "application/x-ndjson").status_code == 400  # still a trailing comma
    fixed = as_filled.replace('",\n}', '"\n}')
    assert page_post(cloud, fixed, "application/x-ndjson").status_code == 200
    assert [(r["key1"], r["key2"]) for r in cloud.rows("foo")] == [("valueA", ""), ("valueB", ""), ("valueC", "")]


@pytest.mark.parametrize("content_type", COMPACT_TYPES)
def test_page_compact_example_without_its_trailing_comma(cloud: TimeplusEmulator, content_type: str) -> None:
    fixed = PAGE_COMPACT_EXAMPLE.replace('"],\n  ]', '"]\n  ]')
    assert page_post(cloud, fixed, content_type).status_code == 200
    assert [(r["key1"], r["key2"]) for r in cloud.rows("foo")] == [("value11", "value12"), ("value21", "value22")]


# --- Redpanda Connect's timeplus output (internal/impl/timeplus) --------------------------------


def go_json(columns: list[str], rows: list[list[object]]) -> bytes:
    """encoding/json.Marshal: no spaces, and <, >, & escaped as \\u003c, \\u003e, \\u0026."""
    text = json.dumps({"columns": columns, "data": rows}, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def redpanda_batch() -> tuple[list[str], list[list[object]]]:
    messages = [{"name": "<b>&co", "id": 1, "price": 9.5}, {"price": 3, "id": 2, "name": "x"}]
    columns = sorted(messages[-1])  # the column list comes from the last message of the batch
    return columns, [[m[k] for k in sorted(m)] for m in messages]


def go_headers(url: str, body: bytes, extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    host = url.removeprefix("http://")
    return [
        ("Host", host),
        ("User-Agent", "Go-http-client/1.1"),
        ("Content-Length", str(len(body))),
        *extra,
        ("Accept-Encoding", "gzip"),
    ]


def test_redpanda_cloud_shape(cloud: TimeplusEmulator) -> None:
    cloud.create_stream("rp", [("id", "int64"), ("name", "string"), ("price", "float64")])
    columns, rows = redpanda_batch()
    body = go_json(columns, rows)
    headers = go_headers(cloud.url, body, [("Content-Type", "application/json"), ("X-Api-Key", KEY)])
    status, _, _ = raw_request(cloud.url, "POST", f"/{WORKSPACE}/api/v1beta2/streams/rp/ingest", headers, body)
    assert status == 200
    assert [(r["id"], r["name"], r["price"]) for r in cloud.rows("rp")] == [(1, "<b>&co", 9.5), (2, "x", 3.0)]


def test_redpanda_enterprise_shape_with_basic_auth() -> None:
    with TimeplusEmulator(auth=Auth.basic("timeplusd", "timeplusd")) as enterprise:
        enterprise.create_stream("rp", [("id", "int64"), ("name", "string"), ("price", "float64")])
        columns, rows = redpanda_batch()
        body = go_json(columns, rows)
        token = base64.b64encode(b"timeplusd:timeplusd").decode()
        headers = go_headers(
            enterprise.url, body, [("Authorization", f"Basic {token}"), ("Content-Type", "application/json")]
        )
        status, _, _ = raw_request(enterprise.url, "POST", "/default/api/v1beta2/streams/rp/ingest", headers, body)
        assert status == 200
        # target: timeplusd -> Proton's route, Basic auth, same body.
        status, _, _ = raw_request(enterprise.url, "POST", "/timeplusd/v1/ingest/streams/rp", headers, body)
        assert status == 200
        assert enterprise.count("rp") == 4


def test_redpanda_mixed_keys_batch_is_refused_whole() -> None:
    # Columns from the last message, rows from each message: a batch whose messages differ
    # has rows of the wrong width, and Proton refuses the whole insert.
    with TimeplusEmulator() as proton:
        proton.create_stream("rp", [("id", "int64"), ("name", "string"), ("extra", "string")])
        messages = [{"id": 1, "name": "a", "extra": "e"}, {"id": 2, "name": "b"}]
        body = go_json(sorted(messages[-1]), [[m[k] for k in sorted(m)] for m in messages])
        headers = go_headers(proton.url, body, [("Content-Type", "application/json")])
        status, response_headers, answer = raw_request(
            proton.url, "POST", "/timeplusd/v1/ingest/streams/rp", headers, body
        )
        assert (status, response_headers["x-timeplus-exception-code"]) == (400, "27")
        assert b"(at row 1)" in answer
        assert proton.count("rp") == 0


# --- Timeplus's Kafka Connect sink (TimeplusSinkTask.java) ------------------------------------------


def okhttp_headers(url: str, body: bytes, media_type: str) -> list[tuple[str, str]]:
    """What OkHttp 4 sends: it appends '; charset=utf-8' to a media type without one."""
    return [
        ("X-API-KEY", KEY),
        ("Content-Type", f"{media_type}; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Host", url.removeprefix("http://")),
        ("Connection", "Keep-Alive"),
        ("Accept-Encoding", "gzip"),
        ("User-Agent", "okhttp/4.12.0"),
    ]


def test_kafka_connect_json_mode(cloud: TimeplusEmulator) -> None:
    cloud.create_stream("kc", [("id", "int64"), ("name", "string")])
    records = ['{"id":1,"name":"a"}', '{"id":2,"name":"b"}']
    body = "".join(record + "\n" for record in records).encode()
    headers = okhttp_headers(cloud.url, body, "application/json;format=streaming")
    status, _, _ = raw_request(cloud.url, "POST", f"/{WORKSPACE}/api/v1beta2/streams/kc/ingest", headers, body)
    assert status == 200
    assert [(r["id"], r["name"]) for r in cloud.rows("kc")] == [(1, "a"), (2, "b")]


def raw_payload(values: list[str]) -> bytes:
    """getRawIngestPayload: a compact body with one 'raw' column (org.json, no spaces)."""
    return json.dumps({"columns": ["raw"], "data": [[v] for v in values]}, separators=(",", ":")).encode()


def test_kafka_connect_raw_mode_on_the_app_server_stores_the_json_as_one_line(cloud: TimeplusEmulator) -> None:
    # The sink labels a compact body 'text/plain;format=lines': the app server takes each
    # line as a raw event, so the whole compact document lands as ONE row. The emulator
    # reproduces that quirk rather than guessing what the sink meant.
    cloud.create_stream("kc_raw", [("raw", "string")])
    body = raw_payload(["first message", "second message"])
    headers = okhttp_headers(cloud.url, body, "text/plain;format=lines")
    status, _, _ = raw_request(cloud.url, "POST", f"/{WORKSPACE}/api/v1beta2/streams/kc_raw/ingest", headers, body)
    assert status == 200
    assert [r["raw"] for r in cloud.rows("kc_raw")] == [body.decode()]


def test_kafka_connect_proton_target(cloud: TimeplusEmulator) -> None:
    # No workspace: Proton's route; Proton ignores both the Content-Type and X-API-KEY.
    create = json.dumps({"name": "kc_p", "columns": [{"name": "raw", "type": "string"}]}).encode()
    ddl_headers = okhttp_headers(cloud.url, create, "application/json;format=streaming")
    status, _, _ = raw_request(cloud.url, "POST", "/proton/v1/ddl/streams", ddl_headers, create)
    assert status == 200
    body = raw_payload(["first message", "second message"])
    headers = okhttp_headers(cloud.url, body, "text/plain;format=lines")
    status, _, _ = raw_request(cloud.url, "POST", "/proton/v1/ingest/streams/kc_p", headers, body)
    assert status == 200
    assert [r["raw"] for r in cloud.rows("kc_p")] == ["first message", "second message"]


def test_kafka_connect_sees_a_500_for_a_bad_column(cloud: TimeplusEmulator) -> None:
    # The sink retries 429 and 500 only: Proton's 500 for an unknown column makes it retry
    # ten times, then it logs and lets the offsets commit (DESIGN.md §4, silent loss).
    body = raw_payload(["x"])
    headers = okhttp_headers(cloud.url, body, "text/plain;format=lines")
    status, response_headers, _ = raw_request(cloud.url, "POST", "/proton/v1/ingest/streams/foo", headers, body)
    assert (status, response_headers["x-timeplus-exception-code"]) == (500, "16")
