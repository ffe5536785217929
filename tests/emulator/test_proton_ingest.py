"""Proton's ingest route: answers, stored values, and every error case with its status and code."""

from __future__ import annotations

import gzip
import http.client as http_client
import re
import socket
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.emulator_http import compact, error_of, post_compact, proton_url, raw_request

TP_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}")


def test_success_answers_200_with_a_request_id(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = post_compact(http, emu, ["id", "name"], [[1, "a"], [2, "b"]])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    body = response.json()
    assert set(body) == {"request_id"}
    assert response.headers["x-timeplus-query-id"] == body["request_id"]
    rows = emu.rows("orders")
    assert [(r["id"], r["name"]) for r in rows] == [(1, "a"), (2, "b")]
    assert all(TP_TIME.fullmatch(r["_tp_time"]) for r in rows)
    assert emu.count("orders") == 2


def test_request_id_header_is_echoed(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = post_compact(http, emu, ["id"], [[1]], headers={"x-timeplus-request-id": "my-id-1"})
    assert response.json() == {"request_id": "my-id-1"}


def test_timeplusd_prefix_is_the_same_route(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = http.post(proton_url(emu, prefix="timeplusd"), data=compact(["id"], [[7]]))
    assert response.status_code == 200
    assert emu.count("orders") == 1


def test_content_type_is_ignored_on_proton(emu: TimeplusEmulator, http: requests.Session) -> None:
    for content_type in ("text/plain", "application/x-ndjson", "text/plain;format=lines"):
        response = http.post(proton_url(emu), data=compact(["id"], [[1]]), headers={"Content-Type": content_type})
        assert response.status_code == 200, content_type
    assert emu.count("orders") == 3


@pytest.mark.parametrize("mode", ["async", "sync", "fire_and_forget", "ordered"])
def test_supported_ingest_modes(emu: TimeplusEmulator, http: requests.Session, mode: str) -> None:
    response = http.post(proton_url(emu) + f"?mode={mode}", data=compact(["id"], [[1]]))
    assert response.status_code == 200
    assert emu.count("orders") == 1


def test_unsupported_ingest_mode_is_400_code_408(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = http.post(proton_url(emu) + "?mode=later", data=compact(["id"], [[1]]))
    assert error_of(response) == (400, 408)


@pytest.mark.parametrize("query", ["?mode=", "?user=default", "?mode=sync&x=1", "?format=compact"])
def test_other_query_strings_are_unknown_uris(emu: TimeplusEmulator, http: requests.Session, query: str) -> None:
    response = http.post(proton_url(emu) + query, data=compact(["id"], [[1]]))
    assert error_of(response) == (404, 78)
    assert "Unknown URI" in response.json()["error_msg"]
    assert emu.count("orders") == 0


def test_a_bare_question_mark_is_an_unknown_uri(emu: TimeplusEmulator) -> None:
    body = compact(["id"], [[1]])
    status, _, _ = raw_request(
        emu.url, "POST", "/proton/v1/ingest/streams/orders?", [("Host", "x"), ("Content-Length", str(len(body)))], body
    )
    assert status == 404


def test_unknown_stream_is_404_code_60(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = post_compact(http, emu, ["id"], [[1]], stream="nope")
    assert error_of(response) == (404, 60)
    assert "nope" in response.json()["error_msg"]


def test_unknown_column_is_500_code_16(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = post_compact(http, emu, ["id", "colour"], [[1, "red"]])
    assert error_of(response) == (500, 16)
    assert "colour" in response.json()["error_msg"]


def test_a_column_named_twice_is_refused(emu: TimeplusEmulator, http: requests.Session) -> None:
    assert error_of(post_compact(http, emu, ["id", "id"], [[1, 2]])) == (500, 15)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"not json",
        b'{"columns": ["id"], "data": [[1]]',  # truncated
        b'{"columns": ["id"], "data": [[1],]}',  # trailing comma
        b'{"columns": ["id",], "data": [[1]]}',
        b'{"columns": ["id"], "data": [[NaN]]}',
        b'[["id"], [[1]]]',  # not an object
        b'{"data": [[1]]}',  # no columns
        b'{"columns": ["id"]}',  # no data
        b'{"columns": "id", "data": [[1]]}',
        b'{"columns": ["id"], "data": {"0": [1]}}',
    ],
)
def test_malformed_bodies_are_400_code_117(emu: TimeplusEmulator, http: requests.Session, body: bytes) -> None:
    assert error_of(http.post(proton_url(emu), data=body)) == (400, 117)


@pytest.mark.parametrize("columns", [[], [1], [""], [None]])
def test_a_broken_column_list_is_a_syntax_error(
    emu: TimeplusEmulator, http: requests.Session, columns: list[Any]
) -> None:
    assert error_of(http.post(proton_url(emu), data=compact(columns, [[1]]))) == (400, 62)


def test_missing_columns_and_data_messages(emu: TimeplusEmulator, http: requests.Session) -> None:
    assert "'columns' field is missing" in http.post(proton_url(emu), data=b'{"data": []}').json()["error_msg"]
    assert "missing 'data' field" in http.post(proton_url(emu), data=b'{"columns": ["id"]}').json()["error_msg"]


def test_extra_keys_in_the_body_are_ignored(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = http.post(proton_url(emu), data=b'{"columns": ["id"], "data": [[1]], "note": "x"}')
    assert response.status_code == 200


def test_empty_data_is_a_successful_empty_insert(emu: TimeplusEmulator, http: requests.Session) -> None:
    assert post_compact(http, emu, ["id"], []).status_code == 200
    assert emu.count("orders") == 0


def test_rows_of_the_wrong_shape_are_400_code_27(emu: TimeplusEmulator, http: requests.Session) -> None:
    short = post_compact(http, emu, ["id", "name"], [[1, "a"], [2]])
    assert error_of(short) == (400, 27)
    assert "(at row 2)" in short.json()["error_msg"]
    long = post_compact(http, emu, ["id"], [[1, "extra"]])
    assert error_of(long) == (400, 27)
    not_array = post_compact(http, emu, ["id"], [[1], {"id": 2}])
    assert error_of(not_array) == (400, 27)
    assert emu.count("orders") == 0


@pytest.fixture
def typed() -> Iterator[TimeplusEmulator]:
    with TimeplusEmulator() as emulator:
        emulator.create_stream(
            "t",
            [("i", "int32"), ("u", "uuid"), ("b", "bool"), ("d", "date"), ("dt", "datetime64(3)"),
             ("s", "string"), ("ip", "ipv4"), ("dec", "decimal(5, 2)"), ("f", "float64"),
             ("n", "nullable(int64)"), ("a", "array(int64)")],
        )  # fmt: skip
        yield emulator


@pytest.mark.parametrize(
    ("column", "value", "status", "code"),
    [
        ("i", 1.5, 400, 27),
        ("i", 2**40, 400, 72),
        ("i", "x", 400, 27),
        ("s", 12, 400, 27),
        ("f", "twelve", 400, 72),
        ("d", "2024/01/01", 400, 38),
        ("dt", "tomorrow", 400, 41),
        ("a", 5, 400, 27),
        ("u", "not-a-uuid", 500, 376),  # Proton answers these data errors with 500
        ("b", "yes", 500, 467),
        ("dt", "2024-01-01 10", 500, 32),
        ("ip", "1.2.3", 500, 441),
        ("dec", 123456, 500, 69),
    ],
)
def test_bad_values_get_proton_status_and_code(
    typed: TimeplusEmulator, http: requests.Session, column: str, value: Any, status: int, code: int
) -> None:
    columns, row = (["i"], [value]) if column == "i" else (["i", column], [1, value])
    response = http.post(proton_url(typed, "t"), data=compact(columns, [row]))
    assert error_of(response) == (status, code)
    assert f"key {column}" in response.json()["error_msg"]
    assert typed.count("t") == 0


def test_one_bad_value_rejects_the_whole_request(emu: TimeplusEmulator, http: requests.Session) -> None:
    rows: list[list[Any]] = [[i, f"n{i}"] for i in range(100)]
    rows[57][0] = "fifty-seven"
    response = post_compact(http, emu, ["id", "name"], rows)
    assert error_of(response) == (400, 27)
    assert "(at row 58)" in response.json()["error_msg"]
    assert emu.count("orders") == 0


def test_the_first_bad_value_in_row_order_is_reported(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = post_compact(http, emu, ["id", "name"], [[1, "a"], [2, 22], ["x", "c"]])
    assert "(at row 2)" in response.json()["error_msg"]
    assert "key name" in response.json()["error_msg"]


def test_null_becomes_the_default_unless_nullable(typed: TimeplusEmulator, http: requests.Session) -> None:
    columns = ["i", "u", "b", "d", "dt", "s", "ip", "dec", "f", "n", "a"]
    assert http.post(proton_url(typed, "t"), data=compact(columns, [[None] * len(columns)])).status_code == 200
    row = typed.rows("t")[0]
    del row["_tp_time"]
    assert row == {
        "i": 0, "u": "00000000-0000-0000-0000-000000000000", "b": False, "d": "1970-01-01",
        "dt": "1970-01-01 00:00:00.000", "s": "", "ip": "0.0.0.0", "dec": "0.00", "f": 0.0, "n": None, "a": [],
    }  # fmt: skip


def test_omitted_columns_get_defaults(typed: TimeplusEmulator, http: requests.Session) -> None:
    assert http.post(proton_url(typed, "t"), data=compact(["s"], [["only"]])).status_code == 200
    row = typed.rows("t")[0]
    assert row["s"] == "only" and row["i"] == 0 and row["n"] is None and row["a"] == []


def test_tp_time_can_be_sent_and_null_means_now(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = post_compact(http, emu, ["id", "_tp_time"], [[1, "2024-05-06T07:08:09.123Z"], [2, None]])
    assert response.status_code == 200
    first, second = emu.rows("orders")
    assert first["_tp_time"] == "2024-05-06 07:08:09.123"
    assert TP_TIME.fullmatch(second["_tp_time"]) and second["_tp_time"] != "1970-01-01 00:00:00.000"
    bad = post_compact(http, emu, ["id", "_tp_time"], [[3, "soon"]])
    assert error_of(bad) == (400, 41)


def test_other_tp_columns_do_not_exist(emu: TimeplusEmulator, http: requests.Session) -> None:
    assert error_of(post_compact(http, emu, ["id", "_tp_sn"], [[1, 1]])) == (500, 16)


def test_huge_integers_reach_int128_columns(http: requests.Session) -> None:
    with TimeplusEmulator() as emulator:
        emulator.create_stream("big", [("v", "int128"), ("w", "uint256")])
        body = (
            b'{"columns": ["v", "w"], "data": '
            b"[[-170141183460469231731687303715884105728, 1157920892373161954235709850369]]}"
        )
        assert http.post(proton_url(emulator, "big"), data=body).status_code == 200
        assert emulator.rows("big")[0]["v"] == -(2**127)
        too_big = b'{"columns": ["v"], "data": [[170141183460469231731687303715884105728]]}'
        assert error_of(http.post(proton_url(emulator, "big"), data=too_big)) == (400, 72)


def test_gzip_and_deflate_bodies_are_read(emu: TimeplusEmulator, http: requests.Session) -> None:
    body = compact(["id"], [[1], [2]])
    gz = http.post(proton_url(emu), data=gzip.compress(body), headers={"Content-Encoding": "gzip"})
    assert gz.status_code == 200
    deflated = http.post(proton_url(emu), data=zlib.compress(body), headers={"Content-Encoding": "deflate"})
    assert deflated.status_code == 200
    assert emu.count("orders") == 4
    assert emu.requests()[0].body_size == len(gzip.compress(body))


def test_corrupt_gzip_is_500_code_354(emu: TimeplusEmulator, http: requests.Session) -> None:
    truncated = gzip.compress(compact(["id"], [[1]] * 100))[:-10]
    response = http.post(proton_url(emu), data=truncated, headers={"Content-Encoding": "gzip"})
    assert error_of(response) == (500, 354)


def test_unsupported_content_encoding_is_500_code_89(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = http.post(proton_url(emu), data=compact(["id"], [[1]]), headers={"Content-Encoding": "br"})
    assert error_of(response) == (500, 89)


def test_chunked_bodies_are_read(emu: TimeplusEmulator, http: requests.Session) -> None:
    def pieces() -> Iterator[bytes]:
        yield b'{"columns": ["id"], '
        yield b'"data": [[1], [2], [3]]}'

    response = http.post(proton_url(emu), data=pieces())
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert response.status_code == 200
    assert emu.count("orders") == 3


def test_keep_alive_serves_many_requests_on_one_connection(emu: TimeplusEmulator) -> None:
    connection = http_client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
    try:
        local_ports = set()
        for i in range(5):
            connection.request("POST", "/proton/v1/ingest/streams/orders", body=compact(["id"], [[i]]))
            response = connection.getresponse()
            assert response.status == 200
            response.read()
            assert connection.sock is not None
            local_ports.add(connection.sock.getsockname()[1])
        assert len(local_ports) == 1
    finally:
        connection.close()
    assert emu.count("orders") == 5


def test_expect_100_continue_is_honoured(emu: TimeplusEmulator) -> None:
    body = compact(["id"], [[1]])
    with socket.create_connection(("127.0.0.1", emu.port), timeout=10) as sock:
        sock.sendall(
            b"POST /proton/v1/ingest/streams/orders HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        interim = sock.recv(1024)
        assert interim.startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        final = b""
        while b'"request_id"' not in final:
            final += sock.recv(4096)
        assert final.startswith(b"HTTP/1.1 200")
    assert emu.count("orders") == 1


def test_exact_success_shape_on_the_wire(emu: TimeplusEmulator) -> None:
    body = b'{"columns":["id"],"data":[[1],[2]]}'
    status, headers, answer = raw_request(
        emu.url, "POST", "/proton/v1/ingest/streams/orders", [("Host", "x"), ("Content-Length", str(len(body)))], body
    )
    assert status == 200
    assert headers["content-type"] == "application/json; charset=UTF-8"
    assert headers["content-length"] == str(len(answer))
    assert answer == b'{"request_id":"' + headers["x-timeplus-query-id"].encode() + b'"}'


def test_a_body_cut_by_a_short_content_length_is_malformed(emu: TimeplusEmulator) -> None:
    body = b'{"columns":["id"],"data":[[1],[2]]}'
    status, headers, _ = raw_request(
        emu.url, "POST", "/proton/v1/ingest/streams/orders", [("Host", "x"), ("Content-Length", "20")], body[:20]
    )
    assert (status, headers["x-timeplus-exception-code"]) == (400, "117")


def test_shared_status_map_changes_statuses_not_codes(http: requests.Session) -> None:
    with TimeplusEmulator(status_map="shared") as emulator:
        emulator.create_stream("t", [("u", "uuid"), ("b", "bool"), ("c", "int8")])
        url = proton_url(emulator, "t")
        assert error_of(http.post(url, data=compact(["u"], [["x"]]))) == (400, 376)
        assert error_of(http.post(url, data=compact(["b"], [["x"]]))) == (500, 467)
        assert error_of(http.post(url, data=compact(["zz"], [[1]]))) == (500, 16)
        assert error_of(http.post(url, data=compact(["c"], [[1000]]))) == (400, 72)
        assert error_of(http.post(proton_url(emulator, "none"), data=compact(["c"], [[1]]))) == (404, 60)


def test_error_bodies_end_with_a_newline_like_proton(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = post_compact(http, emu, ["nope"], [[1]])
    assert response.content.endswith(b"}\n")


def test_get_on_the_ingest_route_is_unknown(emu: TimeplusEmulator, http: requests.Session) -> None:
    assert error_of(http.get(proton_url(emu))) == (404, 78)


def test_unknown_proton_path_is_404_code_78(emu: TimeplusEmulator, http: requests.Session) -> None:
    assert error_of(http.post(f"{emu.url}/proton/v1/ingest/tables/orders", data=b"{}")) == (404, 78)


def test_percent_encoded_stream_names(http: requests.Session) -> None:
    with TimeplusEmulator() as emulator:
        emulator.create_stream("my_stream", [("id", "int64")])
        response = http.post(f"{emulator.url}/proton/v1/ingest/streams/my%5Fstream", data=compact(["id"], [[1]]))
        assert response.status_code == 200
        assert emulator.count("my_stream") == 1
