"""The Enterprise/Cloud app server's ingest route: v1beta1/v1beta2, its four body formats, its errors."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest
import requests

from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.emulator_http import app_url, compact


@pytest.fixture
def logs() -> Iterator[TimeplusEmulator]:
    """An emulator with a ``logs`` stream holding a single ``raw`` column, as the docs suggest."""
    with TimeplusEmulator() as emulator:
        emulator.create_stream("logs", [("raw", "string")])
        emulator.create_stream("orders", [("id", "int64"), ("name", "string")])
        yield emulator


@pytest.mark.parametrize("version", ["v1beta1", "v1beta2"])
@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/json",
        "application/json; charset=utf-8",
        "application/vnd.timeplus+json",
        "application/vnd.timeplus+json;format=compact",
        "application/json;format=compact",
    ],
)
def test_compact_body(emu: TimeplusEmulator, http: requests.Session, version: str, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = http.post(app_url(emu, version=version), data=compact(["id", "name"], [[1, "a"]]), headers=headers)
    assert response.status_code == 200
    assert response.content == b""  # clients must not rely on a body (BEHAVIOUR.md)
    assert [(r["id"], r["name"]) for r in emu.rows("orders")] == [(1, "a")]


NDJSON = b'{"id": 1, "name": "a"}\n{"id": 2, "name": "b"}\n'


@pytest.mark.parametrize(
    ("content_type", "query"),
    [
        ("application/x-ndjson", ""),
        ("application/vnd.timeplus+json;format=streaming", ""),
        ("application/json;format=streaming", ""),
        ("application/json", "?format=streaming"),
        ("text/plain", "?format=streaming"),  # ?format= wins over the Content-Type
    ],
)
def test_ndjson_body(emu: TimeplusEmulator, http: requests.Session, content_type: str, query: str) -> None:
    response = http.post(app_url(emu) + query, data=NDJSON, headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text
    assert [(r["id"], r["name"]) for r in emu.rows("orders")] == [(1, "a"), (2, "b")]


@pytest.mark.parametrize(
    "body",
    [
        b'{\n  "id": 1,\n  "name": "a"\n}\n{\n  "id": 2,\n  "name": "b"\n}\n',  # objects over several lines
        b'{"id": 1, "name": "a"}{"id": 2, "name": "b"}',  # back to back
        b'  {"id": 1, "name": "a"}\r\n\r\n{"id": 2,\n"name": "b"}  ',
    ],
)
def test_ndjson_layouts(emu: TimeplusEmulator, http: requests.Session, body: bytes) -> None:
    response = http.post(app_url(emu), data=body, headers={"Content-Type": "application/x-ndjson"})
    assert response.status_code == 200, response.text
    assert [(r["id"], r["name"]) for r in emu.rows("orders")] == [(1, "a"), (2, "b")]


def test_ndjson_missing_keys_get_defaults(emu: TimeplusEmulator, http: requests.Session) -> None:
    body = b'{"id": 1}\n{"name": "b"}'
    assert http.post(app_url(emu), data=body, headers={"Content-Type": "application/x-ndjson"}).status_code == 200
    assert [(r["id"], r["name"]) for r in emu.rows("orders")] == [(1, ""), (0, "b")]


@pytest.mark.parametrize("body", [b'{"id": 1}\n[2]', b'{"id": 1}\n{"id": ', b'{"id": 1,}', b"7"])
def test_ndjson_errors_are_400(emu: TimeplusEmulator, http: requests.Session, body: bytes) -> None:
    response = http.post(app_url(emu), data=body, headers={"Content-Type": "application/x-ndjson"})
    assert response.status_code == 400
    assert response.json()["code"] == 400 and response.json()["message"]
    assert emu.count("orders") == 0


def test_ndjson_unknown_key_is_unknown_column(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = http.post(
        app_url(emu), data=b'{"id": 1, "colour": "red"}', headers={"Content-Type": "application/x-ndjson"}
    )
    assert (response.status_code, response.json()["code"]) == (500, 16)


@pytest.mark.parametrize(
    ("content_type", "query"), [("text/plain", ""), ("text/plain;format=raw", ""), ("text/plain", "?format=raw")]
)
def test_raw_body_is_one_row(logs: TimeplusEmulator, http: requests.Session, content_type: str, query: str) -> None:
    body = "line one\nline two é\n".encode()
    response = http.post(app_url(logs, "logs") + query, data=body, headers={"Content-Type": content_type})
    assert response.status_code == 200
    assert [r["raw"] for r in logs.rows("logs")] == ["line one\nline two é\n"]


@pytest.mark.parametrize(("content_type", "query"), [("text/plain;format=lines", ""), ("text/plain", "?format=lines")])
def test_lines_body_is_one_row_per_line(
    logs: TimeplusEmulator, http: requests.Session, content_type: str, query: str
) -> None:
    body = b"first\r\nsecond\n\nthird"
    response = http.post(app_url(logs, "logs") + query, data=body, headers={"Content-Type": content_type})
    assert response.status_code == 200
    assert [r["raw"] for r in logs.rows("logs")] == ["first", "second", "third"]


def test_raw_needs_a_raw_column(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = http.post(app_url(emu), data=b"hello", headers={"Content-Type": "text/plain"})
    assert (response.status_code, response.json()["code"]) == (500, 16)


def test_raw_must_be_utf8(logs: TimeplusEmulator, http: requests.Session) -> None:
    response = http.post(app_url(logs, "logs"), data=b"\xff\xfe", headers={"Content-Type": "text/plain"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "content_type",
    [
        "text/csv",
        "application/xml",
        "application/json;format=compat",
        "application/json;format=stream",
        "text/plain;format=json",
    ],
)
def test_unsupported_content_types_are_415(emu: TimeplusEmulator, http: requests.Session, content_type: str) -> None:
    response = http.post(app_url(emu), data=compact(["id"], [[1]]), headers={"Content-Type": content_type})
    assert (response.status_code, response.json()["code"]) == (415, 415)


def test_unknown_format_parameter_is_400(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = http.post(app_url(emu) + "?format=csv", data=compact(["id"], [[1]]))
    assert response.status_code == 400


def test_empty_body_is_400(emu: TimeplusEmulator, http: requests.Session) -> None:
    assert http.post(app_url(emu), data=b"").status_code == 400


def test_malformed_compact_is_the_app_servers_own_400(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = http.post(app_url(emu), data=b'{"columns": ["id"], "data": [[1],]}')
    assert response.json()["code"] == 400 and response.status_code == 400
    missing = http.post(app_url(emu), data=b'{"columns": ["id"]}')
    assert missing.status_code == 400


def test_timeplusd_errors_pass_through_with_their_code(emu: TimeplusEmulator, http: requests.Session) -> None:
    unknown = http.post(app_url(emu, "nope"), data=compact(["id"], [[1]]))
    assert (unknown.status_code, unknown.json()["code"]) == (404, 60)
    bad = http.post(app_url(emu), data=compact(["id"], [["x"]]))
    assert (bad.status_code, bad.json()["code"]) == (400, 27)
    assert set(bad.json()) == {"code", "message"}
    assert "x-timeplus-exception-code" not in bad.headers


def test_wrong_workspace_is_404(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = http.post(f"{emu.url}/other/api/v1beta2/streams/orders/ingest", data=compact(["id"], [[1]]))
    assert response.status_code == 404
    assert emu.count("orders") == 0


def test_other_app_server_routes_are_404(emu: TimeplusEmulator, http: requests.Session) -> None:
    assert http.get(app_url(emu)).status_code == 404
    assert http.post(f"{emu.url}/default/api/v1beta2/queries", json={"sql": "select 1"}).status_code == 404
    assert http.post(f"{emu.url}/default/api/v1beta3/streams/orders/ingest", data=b"{}").status_code == 404


def test_gzip_on_the_app_server(emu: TimeplusEmulator, http: requests.Session) -> None:
    body = gzip.compress(NDJSON)
    response = http.post(
        app_url(emu), data=body, headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
    )
    assert response.status_code == 200
    assert emu.count("orders") == 2


def test_idempotent_id_is_honoured_through_the_app_server(emu: TimeplusEmulator, http: requests.Session) -> None:
    for _ in range(2):
        response = http.post(app_url(emu), data=compact(["id"], [[1]]), headers={"x-timeplus-idempotent-id": "b-1"})
        assert response.status_code == 200
    assert emu.count("orders") == 1


def test_custom_workspace(http: requests.Session) -> None:
    with TimeplusEmulator(workspace="ws123456") as emulator:
        emulator.create_stream("s", [("id", "int64")])
        response = http.post(f"{emulator.url}/ws123456/api/v1beta1/streams/s/ingest", data=compact(["id"], [[1]]))
        assert response.status_code == 200
        assert (
            http.post(f"{emulator.url}/default/api/v1beta1/streams/s/ingest", data=compact(["id"], [[1]])).status_code
            == 404
        )
